// Quick calculator: post the form (debounced) to /calculator/assess and show the answer.
(function () {
  "use strict";
  var form = document.getElementById("calc-form");
  var out = document.getElementById("calc-result");
  if (!form || !out) return;
  var timer = null;
  var latest = 0;

  function update() {
    var ticket = ++latest;
    fetch("/calculator/assess", {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "text/html" },
    }).then(function (response) {
      return response.text().then(function (text) { return [response.ok, text]; });
    }).then(function (result) {
      if (ticket !== latest) return; // an older answer arriving late
      out.innerHTML = result[0] ? result[1]
        : "<p class=\"error\">The assessment could not be computed; reload the page.</p>";
      out.dataset.updates = String(Number(out.dataset.updates || 0) + 1);
    }).catch(function () {
      out.innerHTML = "<p class=\"error\">No connection to the server.</p>";
    });
  }

  function later() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(update, 250);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
