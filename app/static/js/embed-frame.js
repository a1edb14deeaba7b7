// In a Buurtkas widget: tell the page around the iframe how tall this document is (embed.js listens).
(function () {
  "use strict";
  if (window.parent === window) return;
  var root = document.documentElement;
  var sent = -1;
  function report() {
    var height = Math.ceil(root.getBoundingClientRect().height);
    if (height === sent) return;
    sent = height;
    // Height and title are public; only origins allowed by frame-ancestors can frame this page at all.
    window.parent.postMessage({ type: "buurtkas:height", height: height, title: document.title }, "*");
  }
  if (window.ResizeObserver) new ResizeObserver(report).observe(root);
  window.addEventListener("load", report);
  window.addEventListener("resize", report);
  report();
})();
