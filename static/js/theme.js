/* otakusite: light and dark themes. Loaded in <head> without defer, so the theme the
 * viewer chose is applied before the first paint (the CSP forbids inline scripts). With
 * nothing chosen ("auto") the stylesheet follows the system (prefers-color-scheme).
 * The choice is kept in localStorage ("otakusite:theme": "light" or "dark"). */
(function () {
  "use strict";

  var KEY = "otakusite:theme";
  var ORDER = ["auto", "light", "dark"];
  var ICONS = { auto: "\u25d0", light: "\u2600", dark: "\u263e" };
  var root = document.documentElement;

  function stored() {
    try {
      var theme = window.localStorage.getItem(KEY);
      return theme === "light" || theme === "dark" ? theme : "auto";
    } catch (e) {
      return "auto";  // storage disabled: follow the system
    }
  }

  var BARS = { light: "#f6f7fb", dark: "#0f1117" };  // --bg of each theme (site.css)
  var systemLight = window.matchMedia ? window.matchMedia("(prefers-color-scheme: light)") : null;

  function apply(theme) {
    if (theme === "auto") {
      root.removeAttribute("data-theme");
    } else {
      root.setAttribute("data-theme", theme);
    }
    // The browser's own bar (Android) in the page's colour.
    var bar = document.querySelector('meta[name="theme-color"]');
    var shown = theme === "auto" ? (systemLight && systemLight.matches ? "light" : "dark") : theme;
    if (bar) { bar.setAttribute("content", BARS[shown]); }
  }

  apply(stored());
  if (systemLight && systemLight.addEventListener) {
    systemLight.addEventListener("change", function () { apply(stored()); });
  }

  function show(button, theme) {
    var label = button.getAttribute("data-label-" + theme) || theme;
    button.setAttribute("data-state", theme);
    button.setAttribute("aria-label", label);
    button.title = label;
    button.querySelector("[data-theme-icon]").textContent = ICONS[theme];
  }

  function wire() {
    var button = document.querySelector("[data-theme-toggle]");
    if (!button) { return; }
    show(button, stored());
    button.hidden = false;
    button.addEventListener("click", function () {
      var next = ORDER[(ORDER.indexOf(stored()) + 1) % ORDER.length];
      try {
        if (next === "auto") {
          window.localStorage.removeItem(KEY);
        } else {
          window.localStorage.setItem(KEY, next);
        }
      } catch (e) { /* not remembered, still applied to this page */ }
      apply(next);
      show(button, next);
    });
    window.addEventListener("storage", function (event) {
      if (event.key === KEY || event.key === null) {
        apply(stored());
        show(button, stored());
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
