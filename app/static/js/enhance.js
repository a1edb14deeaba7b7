// Small enhancements; every page works without them.
(function () {
  "use strict";
  // A button marked data-once cannot send its form twice (the server also refuses a second gift).
  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector("[data-once]");
    if (!button) return;
    if (button.getAttribute("aria-disabled") === "true") { event.preventDefault(); return; }
    button.setAttribute("aria-disabled", "true");
    button.classList.add("utrecht-button--busy");
  });
  document.querySelectorAll(".buurtkas-js-only").forEach(function (element) { element.hidden = false; });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
