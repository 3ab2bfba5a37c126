// The licence verifier's service worker: keeps the page and its scripts so that the verifier
// opens without a network once it has been loaded (the trust and status lists are kept by the
// page itself, with their time to live). The page is asked for afresh when the hub is reachable.
'use strict';
var CACHE = 'shuniu-verifier-v1';
var ASSETS = [
  '/verify',
  '/static/verify.js',
  '/static/console.css',
  '/static/favicon.svg',
  '/static/vendor/sm-crypto/sm2.js',
  '/static/vendor/jsqr/jsQR.js'
];
self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(ASSETS); }));
  self.skipWaiting();
});
self.addEventListener('activate', function (event) {
  event.waitUntil(self.clients.claim());
});
self.addEventListener('fetch', function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  var path = url.pathname;
  if (ASSETS.indexOf(path) < 0) return;
  event.respondWith(fetch(event.request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(CACHE).then(function (c) { c.put(path, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(path);
  }));
});
