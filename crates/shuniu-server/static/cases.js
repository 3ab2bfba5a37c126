// The process drawing of an integrated service: the hub's own BPMN (with its diagram), drawn
// by bpmn-js (vendored, served by the hub). Read-only, pannable and zoomable.
(function () {
  'use strict';
  var el = document.getElementById('bpmn');
  if (!el || typeof BpmnJS === 'undefined') return;
  var viewer = new BpmnJS({ container: el });
  fetch(el.getAttribute('data-src'), { credentials: 'same-origin' })
    .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      viewer.get('canvas').zoom('fit-viewport', 'auto');
      el.setAttribute('data-drawn', 'true');
    })
    .catch(function (e) {
      el.setAttribute('data-error', String(e));
      el.textContent = e.message || String(e);
    });
})();
