// Posters below the first screen load when they come near it, not on arrival: Chromium's
// native lazy loading fetches everything within ~1250 px, which on a phone is the whole
// first page of cards (issue 15: the first visit stays under 150 kB). The first cards of
// each list carry a normal srcset; <noscript> keeps the posters without JavaScript.
(function () {
  "use strict";
  var waiting = document.querySelectorAll("img[data-poster-defer]");
  if (!waiting.length) { return; }

  function show(img) {
    img.removeAttribute("data-poster-defer");
    var picture = img.parentNode;
    picture.querySelectorAll("[data-srcset]").forEach(function (el) {
      el.setAttribute("srcset", el.getAttribute("data-srcset"));
      el.removeAttribute("data-srcset");
    });
    img.setAttribute("src", img.getAttribute("data-src"));
    img.removeAttribute("data-src");
  }

  if (!("IntersectionObserver" in window)) {
    waiting.forEach(show);
    return;
  }
  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.isIntersecting) {
        observer.unobserve(entry.target);
        show(entry.target);
      }
    });
  }, { rootMargin: "300px 300px 300px 300px" });
  waiting.forEach(function (img) { observer.observe(img); });
})();
