// Wayfarer dashboard: small enhancements; every page works without them.
(function () {
  "use strict";
  // Funnel builder: "Add step" appends another step input.
  document.querySelectorAll("[data-add-step]").forEach(function (button) {
    button.addEventListener("click", function () {
      var steps = document.getElementById(button.getAttribute("data-add-step"));
      var inputs = steps.querySelectorAll("input");
      var last = inputs[inputs.length - 1];
      var next = last.cloneNode();
      next.value = "";
      next.id = "step-" + (inputs.length + 1);
      next.setAttribute("aria-label", "Step " + (inputs.length + 1));
      var arrow = document.createElement("span");
      arrow.className = "arrow";
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = "→";
      steps.insertBefore(arrow, button);
      steps.insertBefore(next, button);
      next.focus();
    });
  });
  // A segment's condition: how many customers it holds, as it is typed.
  document.querySelectorAll("input[data-preview]").forEach(function (input) {
    var out = document.getElementById(input.getAttribute("aria-describedby"));
    var timer = null;
    var asked = 0;
    var ask = function () {
      var condition = input.value.trim();
      if (!condition || !out) { return; }
      var mine = ++asked;
      out.textContent = "Counting…";
      fetch(input.getAttribute("data-preview") + "?where=" + encodeURIComponent(condition), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (mine !== asked) { return; }
          if (typeof j.customers === "number") {
            out.textContent = j.customers.toLocaleString() + " of " + j.of.toLocaleString() + " customers";
            out.classList.remove("error");
          } else {
            out.textContent = j.message || "This condition cannot be counted.";
            out.classList.add("error");
          }
        })
        .catch(function () { if (mine === asked) { out.textContent = "Could not count (is the server running?)."; } });
    };
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 400);
    });
    if (input.value.trim()) { ask(); }
  });
  // Escape closes the cell detail panel.
  var close = document.querySelector("[data-close-detail]");
  if (close) {
    document.addEventListener("keydown", function (e) {
      var typing = e.target.closest && e.target.closest("input, textarea, select");
      if (e.key === "Escape" && !typing) { window.location.href = close.getAttribute("href"); }
    });
  }
})();
