/* otakusite: the anime a viewer follows, kept in this browser only (no accounts).
 *
 * The list lives in localStorage under "otakusite:follow" and is reached through one API,
 * window.otakusiteFollow (other scripts, e.g. Web Push, build on it):
 *   list()            -> [{slug, title, at}] newest first (copies; `at`: ms when followed)
 *   slugs()           -> ["slug", ...] in the same order
 *   has(slug)         -> boolean
 *   follow(slug, title) -> false when the list is full (MAX), else true
 *   unfollow(slug), toggle(slug, title) -> whether it is followed afterwards
 *   on("change", fn) / off("change", fn): fn({slugs, added: [...], removed: [...]}), also
 *                        when another tab changes the list
 *   exportData() -> {format: "otakusite-follow", version: 1, anime: [...]}
 *   importData(obj) -> number of anime added (throws on data that is not a follow list)
 *   shareUrl() -> absolute link to /diikuti/?impor=a,b,c
 *   newSince(item, episode) -> whether an episode counts as "baru" for the viewer
 *   MAX (100), feedUrl (the JSON endpoint: ?anime=a,b,c)
 * The pages' follow buttons, the Diikuti page and the home page's rail are wired below.
 * Loaded with `defer` (the CSP forbids inline scripts). No dependencies. */
(function () {
  "use strict";

  var KEY = "otakusite:follow";
  var VISIT_KEY = "otakusite:visit";
  var WATCHED_KEY = "otakusite:watched";  // static/js/site.js
  var MAX = 100;
  var SLUG_MAX = 255;
  // A new visit starts after this long without a page view; "baru" means newer than
  // the start of the previous visit's end, so it stays put while the viewer browses.
  var VISIT_GAP = 30 * 60 * 1000;
  var RAIL_MAX = 12;
  var listeners = [];
  var tpl = document.querySelector("template[data-follow-button]");
  var feedUrl = (tpl && tpl.dataset.feed) || "/diikuti/episode-terbaru/";
  var pageUrl = (tpl && tpl.dataset.page) || "/diikuti/";

  function read(key, fallback) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return fallback;  // storage disabled or corrupt: behave like a first visit
    }
  }

  function write(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
      return true;
    } catch (e) {
      return false;  // quota or privacy mode
    }
  }

  function validSlug(slug) {
    return typeof slug === "string" && slug.length > 0 && slug.length <= SLUG_MAX &&
      !/[\s\/,\u0000-\u001f\u007f]/.test(slug);
  }

  function clean(items) {
    var seen = {};
    var out = [];
    (Array.isArray(items) ? items : []).forEach(function (item) {
      if (!item || !validSlug(item.slug) || seen[item.slug]) { return; }
      seen[item.slug] = true;
      out.push({
        slug: item.slug,
        title: typeof item.title === "string" ? item.title.slice(0, 500) : "",
        at: typeof item.at === "number" && isFinite(item.at) ? item.at : 0
      });
    });
    return out.slice(0, MAX);
  }

  function items() {
    var data = read(KEY, null);
    return clean(data && data.items);
  }

  function store(list, before) {
    write(KEY, { v: 1, items: list });
    announce(before, list);
  }

  function announce(before, after) {
    var had = {}, has = {};
    before.forEach(function (i) { had[i.slug] = true; });
    after.forEach(function (i) { has[i.slug] = true; });
    var detail = {
      slugs: after.map(function (i) { return i.slug; }),
      added: after.filter(function (i) { return !had[i.slug]; }).map(function (i) { return i.slug; }),
      removed: before.filter(function (i) { return !has[i.slug]; }).map(function (i) { return i.slug; })
    };
    listeners.slice().forEach(function (fn) {
      try { fn(detail); } catch (e) { window.setTimeout(function () { throw e; }); }
    });
  }

  var api = {
    MAX: MAX,
    feedUrl: feedUrl,
    list: function () { return items(); },
    slugs: function () { return items().map(function (i) { return i.slug; }); },
    has: function (slug) { return items().some(function (i) { return i.slug === slug; }); },
    follow: function (slug, title) {
      var before = items();
      if (!validSlug(slug)) { return false; }
      if (before.some(function (i) { return i.slug === slug; })) { return true; }
      if (before.length >= MAX) { return false; }
      store([{ slug: slug, title: title || "", at: Date.now() }].concat(before), before);
      return true;
    },
    unfollow: function (slug) {
      var before = items();
      store(before.filter(function (i) { return i.slug !== slug; }), before);
      return false;
    },
    toggle: function (slug, title) {
      return api.has(slug) ? api.unfollow(slug) : api.follow(slug, title) && true;
    },
    on: function (name, fn) { if (name === "change") { listeners.push(fn); } },
    off: function (name, fn) { listeners = listeners.filter(function (f) { return f !== fn; }); },
    exportData: function () {
      return { format: "otakusite-follow", version: 1, exported: new Date().toISOString(), anime: items() };
    },
    importData: function (data) {
      var incoming = Array.isArray(data) ? data : data && data.format === "otakusite-follow" && data.anime;
      if (!Array.isArray(incoming)) { throw new Error("not an otakusite follow list"); }
      incoming = clean(incoming.map(function (i) { return typeof i === "string" ? { slug: i } : i; }));
      var before = items();
      var known = {};
      before.forEach(function (i) { known[i.slug] = true; });
      var now = Date.now();
      var added = incoming.filter(function (i) { return !known[i.slug]; })
        .map(function (i) { return { slug: i.slug, title: i.title, at: now }; });
      var after = before.concat(added).slice(0, MAX);
      store(after, before);
      return after.length - before.length;
    },
    shareUrl: function () {
      var slugs = api.slugs().map(encodeURIComponent).join(",");
      return new URL(pageUrl, window.location.href).href + "?impor=" + slugs;
    },
    setTitle: function (slug, title) {
      var list = items();
      var changed = false;
      list.forEach(function (i) { if (i.slug === slug && title && i.title !== title) { i.title = title; changed = true; } });
      if (changed) { write(KEY, { v: 1, items: list }); }
    },
    newSince: function (item, episode) {
      var added = Date.parse(episode.added || "");
      var watched = read(WATCHED_KEY, {}) || {};
      return isFinite(added) && added > Math.max(visitSince, (item && item.at) || 0) && !watched[episode.slug];
    }
  };
  window.otakusiteFollow = api;

  window.addEventListener("storage", function (event) {
    if (event.key === KEY) {
      var before = [];
      try { before = clean((JSON.parse(event.oldValue || "null") || {}).items); } catch (e) { before = []; }
      announce(before, items());
    }
  });

  // --- Visits: what "baru" (new) is measured against ---------------------------------
  var visitSince = (function () {
    var now = Date.now();
    var visit = read(VISIT_KEY, null);
    if (!visit || typeof visit.seen !== "number" || typeof visit.since !== "number") {
      visit = { since: now, seen: now };
    } else if (now - visit.seen > VISIT_GAP) {
      visit = { since: visit.seen, seen: now };
    } else {
      visit.seen = now;
    }
    write(VISIT_KEY, visit);
    return visit.since;
  })();

  // --- Buttons ------------------------------------------------------------------------
  function sync(button) {
    var on = api.has(button.dataset.follow);
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.classList.toggle("following", on);
  }

  function wire(button) {
    button.hidden = false;
    button.classList.add("follow-ready");
    sync(button);
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var slug = button.dataset.follow;
      if (api.has(slug)) {
        api.unfollow(slug);
      } else if (!api.follow(slug, button.dataset.followTitle || "")) {
        window.alert((tpl && tpl.dataset.full) || "");
      }
    });
  }

  function cardSlug(card) {
    if (card.dataset.anime) { return card.dataset.anime; }
    var link = card.querySelector("a.card-link");
    if (!link) { return ""; }
    var match = /^\/anime\/([^\/]+)\/$/.exec(link.pathname);
    try { return match ? decodeURIComponent(match[1]) : ""; } catch (e) { return ""; }
  }

  function addCardButtons(root) {
    if (!tpl) { return; }
    root.querySelectorAll("article.card").forEach(function (card) {
      var slug = cardSlug(card);
      if (!slug || card.querySelector("[data-follow]")) { return; }
      var button = tpl.content.firstElementChild.cloneNode(true);
      var title = card.querySelector(".card-title");
      button.dataset.follow = slug;
      button.dataset.followTitle = title ? title.textContent.trim() : "";
      button.querySelector("[data-follow-name]").textContent = " " + button.dataset.followTitle;
      card.classList.add("card-followable");
      card.appendChild(button);
      wire(button);
    });
  }

  function syncAll() {
    document.querySelectorAll("button[data-follow]").forEach(sync);
  }

  // --- The JSON endpoint ------------------------------------------------------------
  function fetchFollowed(slugs) {
    if (!slugs.length) { return Promise.resolve({ anime: [], missing: [] }); }
    var url = feedUrl + "?anime=" + slugs.map(encodeURIComponent).join(",");
    return fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      });
  }

  function sameOriginPath(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/";
  }

  function fillPoster(node, poster, title) {
    var img = node.querySelector("img");
    var fallback = node.querySelector(".poster-fallback");
    // Our own copies only (the CSP's img-src is this site): the placeholder otherwise.
    if (poster && sameOriginPath(poster)) {
      img.src = poster;
      fallback.remove();
    } else {
      img.remove();
      fallback.textContent = (title || "?").charAt(0).toUpperCase();
    }
  }

  // --- Home page rail -----------------------------------------------------------------
  function showRail() {
    var section = document.querySelector("[data-follow-rail]");
    if (!section) { return; }
    var list = section.querySelector("[data-follow-rail-list]");
    var itemTpl = section.querySelector("template[data-follow-rail-item]");
    var followed = items();
    var bySlug = {};
    followed.forEach(function (i) { bySlug[i.slug] = i; });
    fetchFollowed(followed.map(function (i) { return i.slug; })).then(function (data) {
      var rows = [];
      (data.anime || []).forEach(function (anime) {
        api.setTitle(anime.slug, anime.title);
        (anime.episodes || []).forEach(function (ep) { rows.push({ anime: anime, ep: ep }); });
      });
      rows.sort(function (a, b) {
        return (b.ep.date || "").localeCompare(a.ep.date || "") || (b.ep.added || "").localeCompare(a.ep.added || "");
      });
      list.textContent = "";
      rows.slice(0, RAIL_MAX).forEach(function (row) {
        if (!sameOriginPath(row.ep.url)) { return; }
        var node = itemTpl.content.firstElementChild.cloneNode(true);
        node.dataset.episode = row.ep.slug;
        node.querySelector("a").href = row.ep.url;
        fillPoster(node, row.anime.poster, row.anime.title);
        node.querySelector(".badge-ep").textContent = row.ep.label;
        node.querySelector(".card-title").textContent = row.anime.title;
        node.querySelector(".card-meta").textContent = row.ep.date_text || row.ep.title;
        node.querySelector(".badge-new").hidden = !api.newSince(bySlug[row.anime.slug], row.ep);
        list.appendChild(node);
      });
      section.hidden = !list.children.length;
    }).catch(function () { section.hidden = true; });
  }

  // --- The Diikuti page ----------------------------------------------------------------
  function followPage() {
    var page = document.querySelector("[data-follow-page]");
    if (!page) { return; }
    var list = page.querySelector("[data-follow-list]");
    var itemTpl = page.querySelector("template[data-follow-item]");
    var empty = page.querySelector("[data-follow-empty]");
    var status = page.querySelector("[data-follow-status]");
    var tools = document.querySelector("[data-follow-tools]");
    var fetched = {};

    function say(text) { status.textContent = text || ""; }

    function render() {
      var followed = items();
      list.textContent = "";
      followed.forEach(function (item) {
        var info = fetched[item.slug];
        var node = itemTpl.content.firstElementChild.cloneNode(true);
        var title = (info && info.title) || item.title || item.slug;
        node.dataset.anime = item.slug;
        node.querySelector(".card-link").href = (info && sameOriginPath(info.url)) ? info.url : "/anime/" + encodeURIComponent(item.slug) + "/";
        node.querySelector(".card-title").textContent = title;
        fillPoster(node, info && info.poster, title);
        var latest = info && info.episodes && info.episodes[0];
        var link = node.querySelector("[data-latest]");
        if (latest && sameOriginPath(latest.url)) {
          link.href = latest.url;
          link.textContent = latest.label + (latest.date_text ? " · " + latest.date_text : "");
          node.querySelector(".badge-new").hidden = !api.newSince(item, latest);
        } else {
          link.remove();
        }
        list.appendChild(node);
      });
      addCardButtons(list);
      empty.hidden = followed.length > 0;
      tools.hidden = false;
      tools.querySelectorAll("[data-follow-nonempty]").forEach(function (el) { el.hidden = !followed.length; });
      var slugs = followed.map(function (i) { return encodeURIComponent(i.slug); }).join(",");
      var ics = page.dataset.calendarUrl + "?anime=" + slugs;
      tools.querySelector("[data-follow-ics]").href = ics;
      tools.querySelector("[data-follow-webcal]").href = "webcal://" + window.location.host + ics;
    }

    function load() {
      var missing = api.slugs().filter(function (s) { return !fetched[s]; });
      if (!missing.length) { return; }
      fetchFollowed(api.slugs()).then(function (data) {
        (data.anime || []).forEach(function (anime) {
          fetched[anime.slug] = anime;
          api.setTitle(anime.slug, anime.title);
        });
        render();
      }).catch(function () { say(status.dataset.feedFailed); });
    }

    function importShared() {
      var raw = new URLSearchParams(window.location.search).get("impor");
      if (!raw) { return; }
      var slugs = raw.split(",").filter(validSlug).slice(0, MAX);
      var box = page.querySelector("[data-follow-shared]");
      if (!slugs.length || !box) { return; }
      var text = box.querySelector("[data-follow-shared-text]");
      text.textContent = text.dataset.template.replace("%(n)s", String(slugs.length));
      box.hidden = false;
      box.querySelector("[data-follow-import-shared]").addEventListener("click", function () {
        var n = api.importData(slugs);
        box.hidden = true;
        window.history.replaceState(null, "", window.location.pathname);
        say(status.dataset.imported.replace("%(n)s", String(n)));
      });
    }

    tools.querySelector("[data-follow-export]").addEventListener("click", function () {
      var blob = new Blob([JSON.stringify(api.exportData(), null, 2)], { type: "application/json" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "otakusite-diikuti.json";
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
    });
    tools.querySelector("[data-follow-import]").addEventListener("change", function (event) {
      var file = event.target.files && event.target.files[0];
      if (!file) { return; }
      file.text().then(function (text) {
        var n = api.importData(JSON.parse(text));
        say(status.dataset.imported.replace("%(n)s", String(n)));
      }).catch(function () { say(status.dataset.importFailed); });
      event.target.value = "";
    });
    tools.querySelector("[data-follow-share]").addEventListener("click", function () {
      var field = tools.querySelector("[data-follow-share-link]");
      field.value = api.shareUrl();
      field.hidden = false;
      field.select();
      var done = function () { say(status.dataset.copied); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(done, function () { /* selected: copy by hand */ });
      }
    });

    api.on("change", function () { render(); load(); });
    importShared();
    render();
    load();
  }

  // --- Calendar links: webcal:// needs the host, which a cached page must not carry ----
  function webcalLinks() {
    document.querySelectorAll("a[data-webcal]").forEach(function (a) {
      a.href = "webcal://" + window.location.host + a.getAttribute("data-webcal");
    });
  }

  function init() {
    document.querySelectorAll("button[data-follow]").forEach(wire);
    addCardButtons(document);
    api.on("change", syncAll);
    webcalLinks();
    showRail();
    followPage();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
