// The copy button beside a secret shown once: puts the field's text on the clipboard and says
// so. Without JavaScript the button stays hidden and the read-only field is selected by hand.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById(button.getAttribute("data-status"));
    if (!field) { return; }
    function say(text) {
      if (status) { status.textContent = text; }
    }
    // Older browsers, or a page the Clipboard API is refused to: select the text and copy it
    // the old way, or leave it selected for the person to copy.
    function copyBySelection() {
      field.focus();
      field.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      say(button.getAttribute(copied ? "data-copied" : "data-select"));
    }
    field.addEventListener("focus", function () { field.select(); });
    button.addEventListener("click", function () {
      say("");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () {
          say(button.getAttribute("data-copied"));
        }, copyBySelection);
      } else {
        copyBySelection();
      }
    });
    button.hidden = false;
  });
}());
