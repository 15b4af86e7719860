// Follows a running bulk invitation on its page: the progress bar and its text, from the
// batch's progress URL, until the run is done; then the page again, with the report.
(function () {
  "use strict";
  var bar = document.getElementById("bulk-progress");
  if (!bar || bar.getAttribute("data-status") !== "running") return;
  var url = bar.getAttribute("data-progress-url");
  var text = document.getElementById("bulk-progress-text");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (progress) {
        bar.value = progress.percent;
        bar.textContent = progress.percent + " %";
        text.textContent = progress.text;
        if (progress.status === "done") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 500);
        }
      })
      // A lost connection or a restart: keep following, a little slower.
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 300);
})();
