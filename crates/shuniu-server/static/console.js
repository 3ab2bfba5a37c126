// The console works without scripts; this only adds conveniences.
// Adds an empty data-item row by copying the last one with the next index.
var addItem = document.getElementById('add-item');
if (addItem) addItem.addEventListener('click', function () {
  var body = document.querySelector('#items-form tbody');
  var rows = body.querySelectorAll('tr.item-row');
  var last = rows[rows.length - 1];
  var copy = last.cloneNode(true);
  var next = rows.length;
  copy.querySelectorAll('input, select').forEach(function (el) {
    el.name = el.name.replace(/^items-\d+-/, 'items-' + next + '-');
    if (el.type === 'checkbox') { el.checked = false; } else if (el.tagName === 'INPUT') { el.value = ''; }
  });
  copy.querySelectorAll('.field-error').forEach(function (e) { e.remove(); });
  body.appendChild(copy);
});

// Upload page: send the form with XMLHttpRequest to show upload progress, then follow the
// server's redirect to the load report (which shows the load's own progress).
var loadForm = document.getElementById('load-form');
if (loadForm && window.FormData && window.XMLHttpRequest) loadForm.addEventListener('submit', function (ev) {
  ev.preventDefault();
  var bar = document.getElementById('upload-progress');
  var status = document.getElementById('upload-status');
  var button = document.getElementById('upload');
  var xhr = new XMLHttpRequest();
  xhr.open('POST', loadForm.action);
  bar.hidden = false;
  button.disabled = true;
  xhr.upload.onprogress = function (e) {
    if (e.lengthComputable) {
      bar.value = Math.round(e.loaded * 100 / e.total);
      status.textContent = bar.value + '%';
    }
  };
  xhr.onload = function () {
    if (xhr.status < 400 && xhr.responseURL) { window.location = xhr.responseURL; return; }
    document.open(); document.write(xhr.responseText); document.close();
  };
  xhr.onerror = function () { button.disabled = false; status.textContent = '✘'; };
  xhr.send(new FormData(loadForm));
});

// Regions that scroll on their own (wide tables, code) take the keyboard focus, so that
// they can be scrolled without a mouse.
document.querySelectorAll('.table-wrap, pre').forEach(function (el) {
  if (!el.hasAttribute('tabindex')) el.tabIndex = 0;
});

// The side navigation is a collapsed menu on narrow screens and always open on wide ones.
var menu = document.getElementById('menu');
if (menu) {
  var wide = window.matchMedia('(min-width: 1024px)');
  var fit = function () { menu.open = wide.matches; };
  fit();
  wide.addEventListener('change', fit);
}

// The portal's facets are folded on a phone (results first) and open beside the results on
// wider screens; a facet in use is always open.
var facetGroups = document.querySelectorAll('details.facet-group');
if (facetGroups.length && window.matchMedia('(min-width: 900px)').matches) {
  facetGroups.forEach(function (d) { d.open = true; });
}

// Tables marked data-sortable sort by a column when its heading is clicked (this page's rows;
// the server pages and filters the whole list).
document.querySelectorAll('table[data-sortable]').forEach(function (table) {
  var heads = table.querySelectorAll('thead th');
  heads.forEach(function (th, col) {
    if (!th.textContent.trim()) return;
    th.setAttribute('data-sort', '');
    th.tabIndex = 0;
    var sort = function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (r) {
        var c = r.cells[col];
        if (!c) return '';
        var t = c.querySelector('time');
        return t ? t.getAttribute('datetime') : c.textContent.trim();
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var nx = parseFloat(x.replace(/[,%]/g, '')), ny = parseFloat(y.replace(/[,%]/g, ''));
        var r = (!isNaN(nx) && !isNaN(ny) && /^[-\d.,%\s]+$/.test(x) && /^[-\d.,%\s]+$/.test(y)) ? nx - ny : x.localeCompare(y, 'zh-CN');
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    };
    th.addEventListener('click', sort);
    th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sort(); });
  });
});

// A filter box over a table on the same page (data-filters names the table's id).
document.querySelectorAll('input[data-filters]').forEach(function (input) {
  var table = document.getElementById(input.getAttribute('data-filters'));
  if (!table) return;
  input.addEventListener('input', function () {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      var text = r.textContent.toLowerCase();
      r.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
  });
});

// SQL page: a click on a table's row puts its quoted name into the statement at the cursor.
var sqlBox = document.getElementById('sql');
var sqlTables = document.getElementById('sql-tables');
if (sqlBox && sqlTables) sqlTables.addEventListener('click', function (e) {
  var row = e.target.closest('tr');
  var code = row && row.querySelector('code');
  if (!code) return;
  var name = code.textContent.trim();
  var at = sqlBox.selectionStart || sqlBox.value.length;
  sqlBox.value = sqlBox.value.slice(0, at) + name + sqlBox.value.slice(sqlBox.selectionEnd || at);
  sqlBox.focus();
  sqlBox.selectionStart = sqlBox.selectionEnd = at + name.length;
});

// The report form's "use my position": the phone's location into the latitude and longitude.
document.querySelectorAll('button[data-geolocate]').forEach(function (button) {
  var ids = button.getAttribute('data-geolocate').split(' ');
  if (!navigator.geolocation) { button.hidden = true; return; }
  button.addEventListener('click', function () {
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.getElementById(ids[0]).value = pos.coords.latitude.toFixed(6);
      document.getElementById(ids[1]).value = pos.coords.longitude.toFixed(6);
      button.disabled = false;
    }, function () { button.disabled = false; }, { enableHighAccuracy: true, timeout: 15000 });
  });
});
