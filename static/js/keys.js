/* otakusite: keyboard use. Shortcuts: "/" focuses the search box; on an episode page "n" and
 * "p" open the next and the previous episode. Never while the viewer types in a field or
 * holds a modifier (browser and screen reader shortcuts stay theirs). Tab into a scrolling
 * row brings the focused element fully into view. */
(function () {
  "use strict";

  function typing(el) {
    return Boolean(el) && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function episodeLink(rel) {
    return document.querySelector('.episode-nav a[rel="' + rel + '"]');
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    if (typing(event.target) || typing(document.activeElement)) { return; }
    var target = null;
    if (event.key === "/") {
      var search = document.getElementById("q-top");
      if (!search) { return; }
      event.preventDefault();  // Firefox's quick find also listens to "/"
      search.focus();
      search.select();
      return;
    }
    if (event.key === "n") { target = episodeLink("next"); }
    if (event.key === "p") { target = episodeLink("prev"); }
    if (target) {
      event.preventDefault();
      window.location.assign(target.href);
    }
  });

  // Tab into a scrolling row (the phone's menu, the A-Z letters, a rail of cards, the episode list beside
  // the player): Chromium leaves an element that is already partly visible where it is, so
  // its right part and focus ring stay cut off. Bring it fully into view; only for keyboard
  // focus (:focus-visible), a tap or click scrolls nothing.
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (!el || !el.closest || !el.closest(".mainnav, .letterbar, .rail, .episode-scroll")) { return; }
    try {
      if (!el.matches(":focus-visible")) { return; }
    } catch (e) { /* no :focus-visible: scroll anyway */ }
    el.scrollIntoView({ block: "nearest", inline: "nearest" });
  });

  function announce() {
    // Screen readers read these out with the controls.
    var search = document.getElementById("q-top");
    if (search) { search.setAttribute("aria-keyshortcuts", "/"); }
    var next = episodeLink("next");
    var prev = episodeLink("prev");
    if (next) { next.setAttribute("aria-keyshortcuts", "n"); }
    if (prev) { prev.setAttribute("aria-keyshortcuts", "p"); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", announce);
  } else {
    announce();
  }
})();
