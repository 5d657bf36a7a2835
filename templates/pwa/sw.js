{% autoescape off %}/* otakusite service worker (served as /sw.js by catalog.pwa.service_worker: its scope is the
 * whole site). Keeps the static files and the offline page for use without a network, shows
 * the offline page when a navigation fails, and shows Web Push notifications of new
 * episodes (catalog/push.py sends them). */
"use strict";

var CONFIG = {{ config }};
var SHELL = "otakusite-shell-" + CONFIG.version;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL)
      .then(function (cache) { return cache.addAll([CONFIG.offline].concat(CONFIG.assets)); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("otakusite-") === 0 && name !== SHELL;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function isStatic(url) {
  return url.origin === self.location.origin && url.pathname.indexOf("/static/") === 0;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  if (request.mode === "navigate") {
    // Pages always come from the network (they change with every episode); offline, the
    // offline page in the site's look.
    event.respondWith(fetch(request).catch(function () {
      return caches.match(CONFIG.offline, { cacheName: SHELL });
    }));
    return;
  }
  var url = new URL(request.url);
  if (!isStatic(url)) { return; }
  // Static files: from the cache at once, refreshed in the background (names are hashed
  // in production, so a changed file has a new name anyway).
  event.respondWith(caches.open(SHELL).then(function (cache) {
    return cache.match(request).then(function (cached) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) { cache.put(request, response.clone()); }
        return response;
      });
      if (cached) {
        event.waitUntil(fresh.catch(function () { return null; }));
        return cached;
      }
      return fresh;
    });
  }));
});

function sameOriginPath(value) {
  return typeof value === "string" && value.charAt(0) === "/" && value.charAt(1) !== "/";
}

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  if (!data.title) { return; }
  var options = {
    body: data.body || "",
    tag: data.tag || undefined,
    icon: data.poster || "/static/img/icon-192.png",
    badge: "/static/img/icon-192.png",
    data: { url: sameOriginPath(data.url) ? data.url : "/", episode: data.episode || "" }
  };
  event.waitUntil(self.registration.showNotification(data.title, options));
});

function openEpisode(path) {
  var target = new URL(path, self.location.origin).href;
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    var own = windows.filter(function (w) { return new URL(w.url).origin === self.location.origin; });
    var same = own.filter(function (w) { return w.url === target; })[0];
    if (same) { return same.focus(); }
    if (own.length && own[0].navigate) {
      // An open tab of the site goes to the episode (and is brought forward).
      return own[0].navigate(target).then(function (w) { return (w || own[0]).focus(); });
    }
    return self.clients.openWindow(target);
  });
}

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var path = event.notification.data && event.notification.data.url;
  event.waitUntil(openEpisode(sameOriginPath(path) ? path : "/"));
});
{% endautoescape %}
