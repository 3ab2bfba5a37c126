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
