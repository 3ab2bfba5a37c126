// The city screen refreshes itself: the server says when a computation finished or an event
// moved (server-sent events on /dashboard/stream); the page then reloads its panels from the
// server-rendered page itself, so what a refresh shows is exactly what a first paint shows.
// A click on a district's tile narrows the screen to that district.
(function () {
  var screen = document.getElementById('screen');
  if (!screen) return;
  document.addEventListener('tile-click', function (e) {
    var params = new URLSearchParams(location.search);
    if (params.get('district') === e.detail) params.delete('district'); else params.set('district', e.detail);
    location.search = params.toString();
  });
  if (!window.EventSource) return;
  var first = true;
  var source = new EventSource('/dashboard/stream');
  source.addEventListener('changed', function () {
    // The first message says where things stand; only a later one is a change.
    if (first) { first = false; return; }
    fetch(location.href, { credentials: 'same-origin' }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      ['key-indicators', 'latest-events', 'open-alerts', 'events-open', 'events-today', 'events-overdue', 'screen-updated'].forEach(function (id) {
        var now = document.getElementById(id), next = doc.getElementById(id);
        if (now && next) now.innerHTML = next.innerHTML;
      });
      if (window.shuniuCharts) window.shuniuCharts(document.getElementById('key-indicators'));
      screen.setAttribute('data-refreshed', new Date().toISOString());
    });
  });
})();
