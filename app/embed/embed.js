// Buurtkas widgets for a municipality's website. Paste, once per page:
//   <script src="https://BUURTKAS/embed.js" defer></script>
// and, where a widget goes (the link is what visitors without JavaScript see):
//   <div data-buurtkas="initiatives|news|results" data-area="CODE"><a href="…">…</a></div>
// Each such div becomes an iframe of BUURTKAS/embed/WIDGET?area=CODE that is as tall as its content: the
// framed page (embed-frame.js) posts its height, and only messages from that very frame count.
(function () {
  "use strict";
  var WIDGETS = { initiatives: 1, news: 1, results: 1 };
  var MIN_HEIGHT = 80;
  var MAX_HEIGHT = 12000;
  var FIRST_HEIGHT = 320; // until the frame has said how tall it is
  var SILENT_MS = 3000; // a frame that loaded but never said its height was refused: show the link again
  var script = document.currentScript || document.querySelector('script[src$="/embed.js"]');
  if (!script || !script.src) return;
  var origin = new URL(script.src, location.href).origin;
  var frames = [];

  function language(div) {
    var lang = (div.getAttribute("data-lang") || document.documentElement.lang || "").toLowerCase();
    return lang.slice(0, 2) === "en" ? "en" : "";
  }

  function mount(div) {
    var widget = div.getAttribute("data-buurtkas");
    var area = (div.getAttribute("data-area") || "").trim();
    if (!WIDGETS.hasOwnProperty(widget) || !/^[A-Za-z0-9]{1,10}$/.test(area)) return;
    var link = div.querySelector("a");
    var frame = document.createElement("iframe");
    var lang = language(div);
    frame.setAttribute("loading", "lazy");
    frame.src = origin + "/embed/" + widget + "?area=" + encodeURIComponent(area) + (lang ? "&lang=" + lang : "");
    frame.title = (link && link.textContent.trim()) || "Buurtkas: " + widget + " " + area;
    frame.setAttribute("data-buurtkas-frame", widget);
    frame.style.cssText = "display:block;width:100%;height:" + FIRST_HEIGHT + "px;border:0";
    div.setAttribute("data-buurtkas-ready", "");
    while (div.firstChild) div.removeChild(div.firstChild);
    div.appendChild(frame);
    frames.push(frame);
    if (link) {
      frame.addEventListener("load", function () {
        setTimeout(function () {
          if (frame.parentNode === div && !frame.hasAttribute("data-buurtkas-height")) div.replaceChild(link, frame);
        }, SILENT_MS);
      });
    }
  }

  function scan() {
    var divs = document.querySelectorAll("div[data-buurtkas]:not([data-buurtkas-ready])");
    for (var i = 0; i < divs.length; i++) mount(divs[i]);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin) return;
    var data = event.data;
    if (!data || data.type !== "buurtkas:height" || typeof data.height !== "number") return;
    if (!isFinite(data.height)) return;
    frames = frames.filter(function (frame) { return frame.isConnected; });
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow !== event.source) continue;
      var height = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.ceil(data.height)));
      frames[i].style.height = height + "px";
      frames[i].setAttribute("data-buurtkas-height", String(height));
      if (typeof data.title === "string" && data.title.trim()) frames[i].title = data.title.trim().slice(0, 200);
      return;
    }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
  // Widgets added later (a page that builds its content with JavaScript) are mounted too.
  if (window.MutationObserver) {
    var queued = false;
    new MutationObserver(function () {
      if (queued) return;
      queued = true;
      setTimeout(function () { queued = false; scan(); }, 0);
    }).observe(document.documentElement, { childList: true, subtree: true });
  }
})();
