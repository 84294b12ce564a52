/* Accessible names for the sliders of the embedded widgets (ours, MIT). The widget manager draws
   each slider's handle as a div with role="slider" but no name; a screen reader then announces
   "slider" only (axe-core: aria-input-field-name). Once the widgets are drawn, each handle is
   named by its slider's label ("T", "λ") and its value is read out as the label shows it. */
(function () {
  function name(root) {
    root.querySelectorAll(".widget-slider .noUi-handle").forEach(function (h) {
      var slider = h.closest(".widget-slider");
      var label = slider && slider.querySelector(".widget-label");
      var readout = slider && slider.querySelector(".widget-readout");
      var text = label ? label.textContent.trim() : "";
      if (text && h.getAttribute("aria-label") !== text) { h.setAttribute("aria-label", text); }
      var value = readout ? readout.textContent.trim() : "";
      if (value && h.getAttribute("aria-valuetext") !== value) { h.setAttribute("aria-valuetext", value); }
    });
  }
  function start() {
    name(document);
    new MutationObserver(function () { name(document); })
      .observe(document.body, { childList: true, subtree: true, characterData: true });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
