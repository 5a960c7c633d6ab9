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
  // Escape closes the cell detail panel.
  var close = document.querySelector("[data-close-detail]");
  if (close) {
    document.addEventListener("keydown", function (e) {
      var typing = e.target.closest && e.target.closest("input, textarea, select");
      if (e.key === "Escape" && !typing) { window.location.href = close.getAttribute("href"); }
    });
  }
})();
