/* The course's site-wide script (added to every page by book/_ext/course_site.py).
   A classic script, no modules and no fetch, so it works opened from file:// too. */
(function () {
  "use strict";
  // On a narrow screen a figure is drawn at no less than this share of its natural
  // width (the width matplotlib drew it at): 10 pt text at 100 dpi stays above 10 px.
  var FIGURE_MIN_SCALE = 0.75;
  var NARROW = window.matchMedia("(max-width: 767.98px)");

  function fit(image) {
    var box = image.parentElement;
    if (!image.naturalWidth || !box) return;
    var needed = image.naturalWidth * FIGURE_MIN_SCALE;
    var narrow = NARROW.matches && box.clientWidth < needed;
    box.classList.toggle("nn-figure-scroll", narrow);
    image.style.width = narrow ? needed + "px" : "";
    if (narrow) {
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", "Figure, wider than the screen: scroll sideways");
    } else {
      ["tabindex", "role", "aria-label"].forEach(function (name) { box.removeAttribute(name); });
    }
  }

  function fitAll() {
    var images = document.querySelectorAll(".cell_output img");
    for (var i = 0; i < images.length; i++) {
      if (images[i].complete) fit(images[i]);
      else images[i].addEventListener("load", fit.bind(null, images[i]), { once: true });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fitAll);
  else fitAll();
  if (NARROW.addEventListener) NARROW.addEventListener("change", fitAll);
  window.addEventListener("resize", fitAll);
})();
