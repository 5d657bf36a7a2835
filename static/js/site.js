/* otakusite: mirror switching, watch history and "continue watching".
 * Loaded with `defer` from static/ (the CSP forbids inline scripts). No dependencies. */
(function () {
  "use strict";

  var HISTORY_KEY = "otakusite:history";   // newest first: one entry per anime
  var WATCHED_KEY = "otakusite:watched";   // episode slug -> timestamp
  var MIRROR_KEY = "otakusite:mirror";    // {quality, provider} the viewer last chose
  var HISTORY_MAX = 24;
  var WATCHED_MAX = 3000;

  function load(key, fallback) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return fallback;  // storage disabled or corrupt: behave like a first visit
    }
  }

  function save(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* quota or privacy mode: history is a nicety */ }
  }

  function recordWatch(body) {
    var d = body.dataset;
    if (!d.episode) { return; }
    var history = load(HISTORY_KEY, []);
    if (!Array.isArray(history)) { history = []; }
    history = history.filter(function (h) { return h && h.anime !== d.anime; });
    history.unshift({
      anime: d.anime, animeTitle: d.animeTitle, animeUrl: d.animeUrl, poster: d.poster,
      episode: d.episode, episodeUrl: d.episodeUrl, label: d.episodeLabel, at: Date.now()
    });
    save(HISTORY_KEY, history.slice(0, HISTORY_MAX));
    var watched = load(WATCHED_KEY, {});
    if (typeof watched !== "object" || watched === null || Array.isArray(watched)) { watched = {}; }
    watched[d.episode] = Date.now();
    var slugs = Object.keys(watched);
    if (slugs.length > WATCHED_MAX) {
      slugs.sort(function (a, b) { return watched[a] - watched[b]; });
      slugs.slice(0, slugs.length - WATCHED_MAX).forEach(function (s) { delete watched[s]; });
    }
    save(WATCHED_KEY, watched);
  }

  function markWatched() {
    var watched = load(WATCHED_KEY, {});
    if (!watched || typeof watched !== "object") { return; }
    document.querySelectorAll("[data-watch-list] li[data-episode], .card-episode[data-episode]").forEach(function (el) {
      if (watched[el.dataset.episode]) { el.classList.add("watched"); }
    });
  }

  function sameOriginPath(url) {
    // Stored history is data from the past: only follow it to this site's own pages.
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/";
  }

  function showResume(body) {
    var link = document.querySelector("[data-resume]");
    if (!link) { return; }
    var entry = load(HISTORY_KEY, []).filter(function (h) { return h && h.anime === body.dataset.anime; })[0];
    if (entry && sameOriginPath(entry.episodeUrl)) {
      link.href = entry.episodeUrl;
      link.textContent = link.textContent + " · " + (entry.label || "");
      link.hidden = false;
    }
  }

  function showContinue() {
    var section = document.querySelector("[data-continue]");
    if (!section) { return; }
    var list = section.querySelector("[data-continue-list]");
    var tpl = section.querySelector("[data-continue-template]");
    var history = load(HISTORY_KEY, []);
    if (!Array.isArray(history)) { return; }
    history = history.filter(function (h) { return h && sameOriginPath(h.episodeUrl); });
    if (!history.length || !list || !tpl) { return; }
    history.slice(0, 12).forEach(function (h) {
      var node = tpl.content.firstElementChild.cloneNode(true);
      var link = node.querySelector("a");
      link.href = h.episodeUrl;
      var img = node.querySelector("img");
      var fallback = node.querySelector(".poster-fallback");
      // Only our own poster copies: never the origin's image host (history kept before).
      if (h.poster && /^\/media\/posters\/[\w.-]+$/.test(h.poster)) {
        img.src = h.poster;
        fallback.remove();
      } else {
        img.remove();
        fallback.textContent = (h.animeTitle || "?").charAt(0).toUpperCase();
      }
      node.querySelector(".badge-ep").textContent = h.label || "";
      node.querySelector(".card-title").textContent = h.animeTitle || "";
      list.appendChild(node);
    });
    section.hidden = false;
    var clear = section.querySelector("[data-continue-clear]");
    if (clear) {
      clear.addEventListener("click", function () {
        save(HISTORY_KEY, []);
        section.hidden = true;
      });
    }
  }

  function setupPlayer() {
    var player = document.querySelector("[data-player]");
    if (!player) { return; }
    var frame = player.querySelector("iframe");
    var empty = player.querySelector("[data-player-empty]");
    var status = player.querySelector("[data-player-status]");
    var buttons = Array.prototype.slice.call(player.querySelectorAll("[data-mirror]"));
    var hosts = (player.dataset.frameHosts || "").split(/\s+/).filter(Boolean);
    var endpoint = player.dataset.mirrorUrl || "";
    var params = new URLSearchParams(window.location.search);

    function allowed(url) {
      var u;
      try { u = new URL(url, window.location.href); } catch (e) { return false; }
      if (u.protocol !== "http:" && u.protocol !== "https:") { return false; }
      if (u.origin === window.location.origin) { return true; }
      return hosts.indexOf(u.host.toLowerCase()) !== -1 ||
        (u.port === "" && hosts.indexOf(u.hostname.toLowerCase()) !== -1);
    }

    // "Coba mirror berikutnya: <quality> <provider>" after the status text.
    function offerNext(nextButton) {
      var retry = document.createElement("button");
      retry.type = "button";
      retry.className = "linkish";
      retry.textContent = (status.dataset.nextLabel || "") + " " + nextButton.dataset.quality + " " + nextButton.dataset.provider;
      retry.addEventListener("click", function () { choose(nextButton, true); });
      status.appendChild(document.createTextNode(" "));
      status.appendChild(retry);
    }

    function say(text, nextButton, isError) {
      status.textContent = text;
      status.classList.toggle("error", Boolean(isError || nextButton));
      if (nextButton) { offerNext(nextButton); }
    }

    function activate(button) {
      buttons.forEach(function (b) {
        var on = b === button;
        b.classList.toggle("active", on);
        b.setAttribute("aria-pressed", on ? "true" : "false");
      });
    }

    function choose(button, remember) {
      var id = button.dataset.mirror;
      var next = nextWorking(button);
      buttons.forEach(function (b) { b.classList.remove("loading"); });
      button.classList.add("loading");
      say(player.dataset.loadingLabel || "…");
      fetch(endpoint.replace(/0\/$/, id + "/"), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json().catch(function () { return { ok: false }; }); })
        .then(function (data) {
          button.classList.remove("loading");
          if (!data || !data.ok || !data.url) {
            button.classList.add("failed");
            say((data && data.error) || player.dataset.failLabel || "", next, true);
            return;
          }
          if (!allowed(data.url)) {
            // A host first seen just now: reload so the page's CSP allows it, then
            // pick this mirror again. Only once, so a refused host cannot loop.
            if (params.get("mirror") !== id) {
              if (remember) { rememberChoice(button); }
              params.set("mirror", id);
              window.location.search = params.toString();
              return;
            }
            button.classList.add("failed");
            say(player.dataset.blockedLabel || "", next, true);
            return;
          }
          frame.src = data.url;
          frame.hidden = false;
          if (empty) { empty.hidden = true; }
          activate(button);
          if (remember) { rememberChoice(button); }
          say("");
        })
        .catch(function () {
          button.classList.remove("loading");
          say(player.dataset.failLabel || "", next, true);
        });
    }

    // The next mirror worth offering after `button`: not known dead, not `button` itself.
    function nextWorking(button) {
      var start = buttons.indexOf(button);
      for (var i = 1; i < buttons.length; i++) {
        var b = buttons[(start + i) % buttons.length];
        if (b.dataset.health !== "dead" && !b.classList.contains("failed")) { return b; }
      }
      return null;
    }

    function rememberChoice(button) {
      save(MIRROR_KEY, { quality: button.dataset.quality, provider: button.dataset.provider });
    }

    // The remembered quality + provider when this episode has it (and it is not known
    // dead); else the first working mirror of that quality; else null (the page's default).
    function remembered() {
      var pref = load(MIRROR_KEY, null);
      if (!pref || typeof pref !== "object") { return null; }
      var sameQuality = buttons.filter(function (b) {
        return b.dataset.quality === pref.quality && b.dataset.health !== "dead";
      });
      var exact = sameQuality.filter(function (b) { return b.dataset.provider === pref.provider; })[0];
      return exact || sameQuality.filter(function (b) { return !b.dataset.health; })[0] || null;
    }

    function setupReport() {
      var report = player.querySelector("[data-report]");
      if (!report) { return; }
      var token = null;
      function current() { return buttons.filter(function (b) { return b.classList.contains("active"); })[0]; }
      function getToken() {
        if (token) { return Promise.resolve(token); }
        return fetch(report.dataset.tokenUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (data) { token = data.token; return token; });
      }
      report.addEventListener("click", function () {
        var button = current();
        if (!button) { return; }
        report.disabled = true;
        say(report.dataset.sendingLabel || "…");
        getToken().then(function (t) {
          return fetch(report.dataset.reportUrl.replace(/0\/lapor\/$/, button.dataset.mirror + "/lapor/"), {
            method: "POST",
            credentials: "same-origin",
            headers: { "Accept": "application/json", "X-CSRFToken": t }
          });
        }).then(function (r) {
          return r.json().catch(function () { return { ok: false }; });
        }).then(function (data) {
          report.disabled = false;
          if (!data || !data.ok) {
            say((data && data.error) || report.dataset.failLabel || "", null, true);
            return;
          }
          button.classList.add("mirror-reported");
          button.dataset.health = button.dataset.health || "reported";
          say(data.message || "");
          var next = nextWorking(button);
          if (next) { offerNext(next); }
        }).catch(function () {
          report.disabled = false;
          say(report.dataset.failLabel || "", null, true);
        });
      });
      // Shown while a mirror plays: that is the one reported.
      var sync = function () { report.hidden = !current(); };
      buttons.forEach(function (b) {
        new MutationObserver(sync).observe(b, { attributes: true, attributeFilter: ["class"] });
      });
      sync();
    }

    buttons.forEach(function (b) {
      b.addEventListener("click", function () { choose(b, true); });
    });
    setupReport();
    var wanted = params.get("mirror");
    var pick = wanted ? buttons.filter(function (b) { return b.dataset.mirror === wanted; })[0] : null;
    if (!pick) {
      var pref = remembered();
      var active = buttons.filter(function (b) { return b.classList.contains("active"); })[0];
      if (pref && pref !== active) { pick = pref; }
    }
    if (!pick && player.dataset.autoload) {
      pick = buttons.filter(function (b) { return b.dataset.mirror === player.dataset.autoload; })[0];
    }
    if (pick) { choose(pick, false); }
  }

  function init() {
    var body = document.body;
    if (body.hasAttribute("data-watch")) { recordWatch(body); }
    if (body.dataset.anime && !body.hasAttribute("data-watch")) { showResume(body); }
    markWatched();
    showContinue();
    setupPlayer();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
