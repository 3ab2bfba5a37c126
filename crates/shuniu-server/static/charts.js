// Draws every chart of a page with Apache ECharts (vendored under /static/vendor/echarts).
// Pages never hold scripts of their own (the Content-Security-Policy forbids inline code):
// each chart is a <div class="chart" data-chart='{"type": …}'> whose specification the
// server wrote; this file turns a specification into ECharts options. Tooltips are drawn on
// the canvas (renderMode richText) because HTML tooltips carry inline styles.
(function () {
  if (!window.echarts) return;
  var palette = ['#1d5fb8', '#17703a', '#9a5b00', '#b42318', '#6941c6', '#0e7490', '#5b6574'];
  var font = getComputedStyle(document.body).fontFamily;
  var base = {
    color: palette,
    textStyle: { fontFamily: font },
    aria: { enabled: true },
    animation: false,
    tooltip: { renderMode: 'richText', confine: true },
    grid: { left: 8, right: 24, top: 24, bottom: 8, containLabel: true }
  };
  function merge(a, b) { var o = {}, k; for (k in a) o[k] = a[k]; for (k in b) o[k] = b[k]; return o; }
  function bars(s) {
    var many = s.labels.length > 24;
    return merge(base, {
      tooltip: merge(base.tooltip, { trigger: 'axis' }),
      xAxis: { type: 'category', data: s.labels, axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', minInterval: 1, name: s.unit || '' },
      dataZoom: many ? [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 0 }] : [],
      grid: merge(base.grid, { bottom: many ? 32 : 8 }),
      // A single bar stays a bar: at most a fifth of the width.
      series: [{ type: 'bar', data: s.values, barMaxWidth: 48, name: s.name || '' }]
    });
  }
  function hbars(s) {
    return merge(base, {
      tooltip: merge(base.tooltip, { trigger: 'axis' }),
      xAxis: { type: 'value', min: s.min == null ? 0 : s.min, max: s.max == null ? null : s.max },
      yAxis: { type: 'category', data: s.labels, inverse: true, axisLabel: { width: 160, overflow: 'truncate' } },
      series: [{ type: 'bar', data: s.values, barMaxWidth: 18, label: { show: true, position: 'right' } }]
    });
  }
  function line(s) {
    var one = s.values.length === 1;
    return merge(base, {
      tooltip: merge(base.tooltip, { trigger: 'axis' }),
      xAxis: { type: 'category', data: s.labels, boundaryGap: one },
      yAxis: { type: 'value', min: s.min == null ? 'dataMin' : s.min, max: s.max == null ? null : s.max, scale: true },
      series: [{ type: 'line', data: s.values, showSymbol: true, symbolSize: one ? 10 : 6, name: s.name || '' }]
    });
  }
  function sankey(s) {
    return merge(base, {
      tooltip: merge(base.tooltip, { trigger: 'item' }),
      series: [{
        type: 'sankey', data: s.nodes, links: s.links, nodeAlign: 'justify', nodeGap: 12,
        left: 150, right: 150, top: 8, bottom: 8, draggable: false,
        levels: [{ depth: 0, label: { position: 'left' } }, { depth: 1, label: { position: 'right' } }],
        emphasis: { focus: 'adjacency' }, lineStyle: { color: 'gradient', curveness: 0.5, opacity: 0.35 },
        label: { fontSize: 12, overflow: 'truncate', width: 140 },
        labelLayout: { hideOverlap: true }
      }]
    });
  }
  // A schematic map: each district at its centre (longitude, latitude), sized by its value
  // and coloured by its rate; a marker for one event. Not boundaries: see docs/events.md.
  function points(s) {
    var max = 1;
    s.districts.forEach(function (d) { if (d.value > max) max = d.value; });
    var data = s.districts.map(function (d) {
      return { name: d.name, value: [d.lon, d.lat, d.value, d.rate == null ? null : Math.round(d.rate * 1000) / 10] };
    });
    var series = [{
      type: 'scatter', data: data,
      symbolSize: function (v) { return s.marker ? 10 : 12 + 40 * Math.sqrt(v[2] / max); },
      itemStyle: { color: s.marker ? '#b8c2cc' : palette[0], opacity: 0.8 },
      label: { show: true, formatter: '{b}', position: 'right', fontSize: 11, color: '#39424e' }
    }];
    if (s.marker) {
      series.push({ type: 'scatter', data: [{ name: s.marker.label, value: [s.marker.lon, s.marker.lat] }],
        symbol: 'pin', symbolSize: 36, itemStyle: { color: '#b42318' }, z: 5 });
    }
    var opt = merge(base, {
      tooltip: merge(base.tooltip, { trigger: 'item', formatter: function (p) {
        var v = p.value; return p.name + (v.length > 2 ? ': ' + v[2] + ' ' + (s.unit || '') + (v[3] == null ? '' : ' · ' + v[3] + '%') : '');
      } }),
      grid: { left: 8, right: 64, top: 8, bottom: 8 },
      xAxis: { type: 'value', scale: true, show: false },
      yAxis: { type: 'value', scale: true, show: false },
      series: series
    });
    if (!s.marker) {
      opt.visualMap = { dimension: 3, min: 50, max: 100, calculable: false, orient: 'horizontal', left: 0, bottom: 0,
        itemHeight: 80, text: ['100%', '50%'], inRange: { color: ['#b42318', '#e8a33d', '#17703a'] }, seriesIndex: 0 };
    }
    return opt;
  }
  // A trend without axes, for a key indicator's card.
  function spark(s) {
    return merge(base, {
      grid: { left: 0, right: 0, top: 4, bottom: 0 },
      xAxis: { type: 'category', show: false, data: s.values.map(function (_, i) { return i; }), boundaryGap: false },
      yAxis: { type: 'value', show: false, scale: true },
      tooltip: { show: false },
      series: [{ type: 'line', data: s.values, showSymbol: false, smooth: true, lineStyle: { width: 2, color: '#7cc4ff' },
        areaStyle: { color: 'rgba(124,196,255,0.18)' } }]
    });
  }
  // A schematic map: one tile per district, placed roughly as the districts lie (by their
  // GB/T 2260 codes, server side) and coloured by the chosen indicator. Not boundaries: see
  // docs/indicators.md. A click on a tile narrows the page to that district.
  function tiles(s) {
    var values = s.tiles.map(function (t) { return t.value; }).filter(function (v) { return v != null; });
    var min = values.length ? Math.min.apply(null, values) : 0, max = values.length ? Math.max.apply(null, values) : 1;
    var xs = [], ys = [], i;
    for (i = 0; i <= 5; i++) xs.push(String(i));
    for (i = 0; i <= 3; i++) ys.push(String(i));
    return merge(base, {
      tooltip: merge(base.tooltip, { trigger: 'item', formatter: function (p) {
        return p.data.name + ': ' + (p.data.value[2] == null ? '—' : p.data.value[2].toLocaleString()) + ' ' + (s.unit || '');
      } }),
      grid: { left: 4, right: 4, top: 4, bottom: 40 },
      xAxis: { type: 'category', data: xs, show: false },
      yAxis: { type: 'category', data: ys, show: false, inverse: true },
      visualMap: { min: min, max: max === min ? min + 1 : max, calculable: false, orient: 'horizontal', left: 'center', bottom: 0,
        itemHeight: 120, inRange: { color: ['#16325c', '#1d5fb8', '#7cc4ff'] }, textStyle: { color: '#c9d4e3' } },
      series: [{
        type: 'heatmap',
        data: s.tiles.map(function (t) { return { name: t.name, code: t.code, value: [t.x, t.y, t.value],
          itemStyle: t.selected ? { borderColor: '#ffd166', borderWidth: 3 } : { borderColor: '#0b1526', borderWidth: 2 } }; }),
        label: { show: true, color: '#fff', fontSize: 12, formatter: function (p) {
          return p.data.name + '\n' + (p.data.value[2] == null ? '—' : p.data.value[2].toLocaleString());
        } }
      }]
    });
  }
  var kinds = { bars: bars, hbars: hbars, line: line, sankey: sankey, points: points, spark: spark, tiles: tiles };
  var charts = [];
  function draw(root) {
    (root || document).querySelectorAll('.chart[data-chart]').forEach(function (el) {
      if (el.getAttribute('data-drawn') === 'true') return;
      var spec;
      try { spec = JSON.parse(el.getAttribute('data-chart')); } catch (e) { return; }
      var make = kinds[spec.type];
      if (!make) return;
      if (spec.type === 'hbars') { el.style.height = Math.max(160, spec.labels.length * 26 + 40) + 'px'; }
      var locale = (document.documentElement.lang || '').indexOf('zh') === 0 ? 'ZH' : 'EN';
      // The city screen is dark: ECharts' own dark theme, on the panel's background.
      var dark = document.body.classList.contains('screen');
      var chart = echarts.init(el, dark ? 'dark' : null, { renderer: 'canvas', locale: locale });
      var option = make(spec);
      if (dark) option.backgroundColor = 'transparent';
      chart.setOption(option);
      if (spec.type === 'tiles') {
        chart.on('click', function (p) {
          if (p.data && p.data.code) document.dispatchEvent(new CustomEvent('tile-click', { detail: p.data.code }));
        });
      }
      el.setAttribute('data-drawn', 'true');
      charts.push(chart);
    });
  }
  draw(document);
  window.shuniuCharts = draw;
  window.addEventListener('resize', function () { charts.forEach(function (c) { c.resize(); }); });
})();
