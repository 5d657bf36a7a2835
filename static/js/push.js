/* otakusite: the service worker (installable site, offline page) and Web Push notifications
 * of new episodes for the anime this browser follows.
 *
 * Every page registers /sw.js (templates/pwa/sw.js). Where the page has the notification
 * box (templates/includes/push_toggle.html, [data-push]) and the site has VAPID keys
 * (GET /push/key/ says enabled), the box lets the viewer turn notifications on and off.
 * The follow list comes from static/js/follow.js (window.otakusiteFollow: slugs(),
 * on("change", fn)); whenever it changes while this browser is subscribed, the new list is
 * sent to POST /push/subscription/ {subscription, anime: [slugs]} (an empty list removes
 * the subscription on the server). No cookie is involved: the server checks Origin.
 * Loaded with `defer` (the CSP forbids inline scripts). No dependencies. */
(function () {
  "use strict";

  var SW_URL = "/sw.js";
  var KEY_URL = "/push/key/";
  var SUBSCRIBE_URL = "/push/subscription/";
  var DEBOUNCE_MS = 1500;  // a burst of follow clicks becomes one request

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function follow() {
    return window.otakusiteFollow || null;
  }

  function followedSlugs() {
    var api = follow();
    return api ? api.slugs() : [];
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  // Whether the browser's subscription was made with the site's current VAPID key (an
  // operator who generates a new pair makes older subscriptions unreachable).
  function madeWithKey(subscription, publicKey) {
    var given = subscription.options && subscription.options.applicationServerKey;
    if (!given) { return true; }  // the browser does not say: keep it
    var a = new Uint8Array(given);
    var b = keyBytes(publicKey);
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i += 1) {
      if (a[i] !== b[i]) { return false; }
    }
    return true;
  }

  function send(subscription, slugs) {
    return fetch(SUBSCRIBE_URL, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ subscription: subscription.toJSON(), anime: slugs })
    }).then(function (response) {
      if (!response.ok) { throw new Error("push subscription: HTTP " + response.status); }
      return response.json();
    });
  }

  function currentSubscription() {
    return navigator.serviceWorker.ready.then(function (reg) {
      return reg.pushManager.getSubscription();
    });
  }

  // The follow list changed (on any page, or in another tab): tell the server, once the
  // viewer has stopped clicking for a moment.
  var pending = null;
  function followChanged() {
    if (pending) { window.clearTimeout(pending); }
    pending = window.setTimeout(function () {
      pending = null;
      currentSubscription().then(function (sub) {
        if (sub) { return send(sub, followedSlugs()); }
        return null;
      }).catch(function () { /* the next change or visit to the box sends it again */ });
    }, DEBOUNCE_MS);
  }

  function Box(el, publicKey) {
    this.el = el;
    this.key = publicKey;
    this.button = el.querySelector("[data-push-toggle]");
    this.status = el.querySelector("[data-push-status]");
  }

  Box.prototype.show = function (on, text) {
    var d = this.el.dataset;
    this.button.setAttribute("aria-pressed", on ? "true" : "false");
    this.button.textContent = on ? d.labelOff : d.labelOn;
    this.button.disabled = false;
    this.status.textContent = text === undefined ? (on ? d.textOn : "") : text;
    this.el.dataset.pushState = on ? "on" : "off";
  };

  Box.prototype.turnOn = function () {
    var box = this;
    var d = box.el.dataset;
    var slugs = followedSlugs();
    if (!slugs.length) { box.show(false, d.textEmpty); return Promise.resolve(); }
    return window.Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { box.show(false, d.textDenied); return null; }
      return navigator.serviceWorker.ready.then(function (reg) {
        return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(box.key) });
      }).then(function (sub) {
        return send(sub, slugs);
      }).then(function () { box.show(true); });
    });
  };

  Box.prototype.turnOff = function () {
    var box = this;
    return currentSubscription().then(function (sub) {
      if (!sub) { return null; }
      // The server forgets it first: a browser that fails to unsubscribe gets nothing.
      return send(sub, []).then(function () { return sub.unsubscribe(); });
    }).then(function () { box.show(false, box.el.dataset.textOff); });
  };

  Box.prototype.start = function () {
    var box = this;
    box.el.hidden = false;
    box.button.disabled = true;  // until this browser's state is known (show() enables it)
    if (window.Notification.permission === "denied") { box.show(false, box.el.dataset.textDenied); }
    currentSubscription().then(function (sub) {
      if (sub && !madeWithKey(sub, box.key)) {
        // Made with an older key: the server forgets it and the browser subscribes anew.
        return send(sub, []).then(function () { return sub.unsubscribe(); })
          .then(function () { return box.turnOn(); });
      }
      box.show(Boolean(sub), window.Notification.permission === "denied" ? box.el.dataset.textDenied : undefined);
      if (sub) { return send(sub, followedSlugs()); }  // the server's copy follows the list
      return null;
    }).catch(function () { box.show(false, box.el.dataset.textFailed); });
    box.button.addEventListener("click", function () {
      var on = box.button.getAttribute("aria-pressed") === "true";
      box.button.disabled = true;
      (on ? box.turnOff() : box.turnOn()).catch(function () {
        box.show(on, box.el.dataset.textFailed);
      });
    });
  };

  function initBox() {
    var el = document.querySelector("[data-push]");
    if (!el) { return; }
    fetch(KEY_URL, { credentials: "omit" }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data && data.enabled && data.publicKey) { new Box(el, data.publicKey).start(); }
    }).catch(function () { /* no notifications offered */ });
  }

  function init() {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.register(SW_URL).catch(function () { /* the site works without it */ });
    if (!supported()) { return; }
    if (follow()) { follow().on("change", followChanged); }
    initBox();
  }

  // After every deferred script (follow.js may come later in the page) has run.
  if (document.readyState === "complete") {
    init();
  } else {
    document.addEventListener("DOMContentLoaded", init);
  }
}());
