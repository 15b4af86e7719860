// BankID order page: asks our server every second for the current QR code (computed on the
// server: the QR secret never reaches the browser) and the order's status, shows BankID's
// recommended message, and moves on when the order completes.
(function () {
  "use strict";
  var root = document.getElementById("bankid");
  if (!root) { return; }
  var pollUrl = root.getAttribute("data-poll");
  var qr = document.getElementById("bankid-qr");
  var message = document.getElementById("bankid-message");
  var cancelForm = document.getElementById("bankid-cancel");
  var retryForm = document.getElementById("bankid-retry");
  var autostart = document.getElementById("bankid-autostart");
  var stopped = false;

  function show(state) {
    if (state.message) { message.textContent = state.message; }
    if (state.qr_svg) { qr.innerHTML = state.qr_svg; qr.hidden = false; } else { qr.hidden = true; }
    if (state.status === "complete" && state.next) {
      stopped = true;
      window.location.assign(state.next);
    } else if (state.status === "failed" || state.status === "cancelled") {
      stopped = true;
      qr.hidden = true;
      autostart.hidden = true;
      cancelForm.hidden = true;
      retryForm.hidden = false;
    }
  }

  function poll() {
    if (stopped) { return; }
    fetch(pollUrl, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(show)
      .catch(function () { /* a missed poll is retried on the next tick */ })
      .then(function () { if (!stopped) { window.setTimeout(poll, 1000); } });
  }
  window.setTimeout(poll, 1000);
})();
