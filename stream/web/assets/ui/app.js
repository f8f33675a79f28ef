// vitals live dashboard: reads the WebSocket stream (/stream) for live
// values and the history API (/api/v1/query_range) for past ranges.
// Plain JavaScript, no dependencies; charts are drawn on canvas.
'use strict';
(() => {
  const GROUPS = ['performance', 'cache', 'database', 'circuit-breaker', 'health', 'alerts'];
  const RANGES = { live: 900, '15m': 900, '1h': 3600, '24h': 86400, '7d': 7 * 86400, '90d': 90 * 86400 };
  const LIVE_KEEP = 900; // seconds of live points kept for the charts
  const BREAKER_STATES = { closed: 0, half_open: 1, open: 2 };

  const dash = { connects: 0, frames: 0, range: 'live', seq: 0, lastFrame: 0, errors: 0 };
  window.vitalsDash = dash; // read by the browser test

  const $ = (s) => document.querySelector(s);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function ready(panel) { $('[data-panel="' + panel + '"]').dataset.ready = '1'; }

  // ---- formatting ----
  function sig(v, n) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a >= 1000) return v.toFixed(0);
    return Number(v.toPrecision(n || 3)).toString();
  }
  const ms = (s) => (s === null || s === undefined ? '–' : sig(s * 1000) + ' ms');
  const pct = (r) => (r === null || r === undefined || !isFinite(r) ? '–' : sig(r * 100, 3) + '%');
  const hhmm = (t, span) => {
    const d = new Date(t * 1000);
    if (span > 2 * 86400) return (d.getMonth() + 1) + '/' + d.getDate() + ' ' + String(d.getHours()).padStart(2, '0') + 'h';
    return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0') +
      (span <= 1800 ? ':' + String(d.getSeconds()).padStart(2, '0') : '');
  };

  // ---- series state (the stream's full/update frames applied in order) ----
  let series = new Map(); // id -> series
  let streamID = 0;
  function applyFrame(m) {
    if (m.type === 'full') { series = new Map(); streamID = m.stream; }
    else if (m.stream !== streamID) return false;
    for (const s of m.series || []) {
      const old = series.get(s.id);
      if (old && s.name === undefined) { s.name = old.name; s.kind = old.kind; s.unit = old.unit; s.labels = old.labels; }
      s.labels = s.labels || {};
      series.set(s.id, s);
    }
    for (const id of m.removed || []) series.delete(id);
    return true;
  }
  function byName(name) {
    const out = [];
    for (const s of series.values()) if (s.name === name) out.push(s);
    return out;
  }
  function seriesKey(name, labels) {
    const ks = Object.keys(labels || {}).sort();
    if (!ks.length) return name;
    return name + '{' + ks.map((k) => k + '="' + String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"').join(',') + '}';
  }
  const num = (v) => (v === null || v === undefined ? null : v);

  // ---- the model: what the panels show, derived from the series ----
  // Each chart line has a live value and the history queries (series
  // key, stat) plus the function that turns their values into the line's.
  function model() {
    const ops = new Map();
    for (const s of byName('vitals_operation_duration_seconds')) {
      const op = s.labels.operation || '';
      ops.set(op, { name: op, key: seriesKey(s.name, s.labels), rate: num(s.rate), p50: num(s.p50), p95: num(s.p95), p99: num(s.p99), errRate: null, errKey: null });
    }
    for (const s of byName('vitals_operation_errors_total')) {
      const o = ops.get(s.labels.operation || '');
      if (o) { o.errRate = num(s.rate); o.errKey = seriesKey(s.name, s.labels); }
    }
    for (const o of ops.values()) o.errRatio = o.rate > 0 && o.errRate !== null ? o.errRate / o.rate : (o.rate === 0 ? 0 : null);

    const tiers = new Map(); // cache/tier -> {hits, misses}
    const tierOf = (s) => { const k = (s.labels.cache || '') + '/' + (s.labels.tier || ''); if (!tiers.has(k)) tiers.set(k, { cache: s.labels.cache || '', tier: s.labels.tier || '' }); return tiers.get(k); };
    for (const s of byName('vitals_cache_hits_total')) { const t = tierOf(s); t.hits = s; }
    for (const s of byName('vitals_cache_misses_total')) { const t = tierOf(s); t.misses = s; }
    const caches = new Map();
    for (const t of [...tiers.values()].sort((a, b) => (a.cache + a.tier).localeCompare(b.cache + b.tier))) {
      if (!t.hits || !t.misses) continue;
      if (!caches.has(t.cache)) caches.set(t.cache, []);
      caches.get(t.cache).push(t);
    }

    const pools = new Map();
    const poolOf = (s) => { const p = s.labels.pool || ''; if (!pools.has(p)) pools.set(p, { name: p }); return pools.get(p); };
    for (const s of byName('vitals_db_pool_connections')) { const p = poolOf(s); p[s.labels.state] = s; }
    for (const s of byName('vitals_db_pool_waiters')) poolOf(s).waiters = s;
    for (const s of byName('vitals_db_pool_wait_duration_seconds')) poolOf(s).wait = s;

    const breakers = new Map();
    const brOf = (s) => { const b = s.labels.breaker || ''; if (!breakers.has(b)) breakers.set(b, { name: b, states: {}, transitions: [] }); return breakers.get(b); };
    for (const s of byName('vitals_breaker_state')) brOf(s).states[s.labels.state] = s;
    for (const s of byName('vitals_breaker_transitions_total')) brOf(s).transitions.push(s);
    for (const b of breakers.values()) {
      b.state = null;
      for (const [st, s] of Object.entries(b.states)) if (s.value === 1) b.state = st;
    }
    return { ops, caches, pools, breakers };
  }

  const ratio = (h, m) => (h === null || m === null || h + m <= 0 ? null : h / (h + m));
  function cacheLines(caches) {
    const lines = [];
    for (const [cache, ts] of caches) {
      for (const t of ts) {
        lines.push({ id: cache + ' ' + t.tier, live: ratio(num(t.hits.rate), num(t.misses.rate)),
          q: [[seriesKey(t.hits.name, t.hits.labels), 'rate'], [seriesKey(t.misses.name, t.misses.labels), 'rate']], f: ratio });
      }
      // End to end: a hit at any tier, over the lookups of the first one.
      const first = ts[0];
      const hitsAll = (vals) => vals.slice(0, ts.length).reduce((a, v) => (v === null ? a : a + v), 0);
      lines.push({ id: cache + ' end to end',
        live: (() => { const n = num(first.hits.rate) + num(first.misses.rate); return n > 0 ? ts.reduce((a, t) => a + (num(t.hits.rate) || 0), 0) / n : null; })(),
        q: ts.map((t) => [seriesKey(t.hits.name, t.hits.labels), 'rate']).concat([[seriesKey(first.misses.name, first.misses.labels), 'rate']]),
        f: (...vals) => { const n = (vals[0] || 0) + (vals[ts.length] || 0); return n > 0 ? hitsAll(vals) / n : null; } });
    }
    return lines;
  }

  // chart definitions: name -> function(model) -> lines
  const charts = {
    latency: { scale: 1000, lines: (md) => [...md.ops.values()].map((o) => ({ id: o.name, live: o.p99, q: [[o.key, 'p99']], f: (v) => v })) },
    throughput: { lines: (md) => [...md.ops.values()].map((o) => ({ id: o.name, live: o.rate, q: [[o.key, 'rate']], f: (v) => v })) },
    errors: { scale: 100, lines: (md) => [...md.ops.values()].filter((o) => o.errKey).map((o) => ({ id: o.name, live: o.errRatio,
      q: [[o.errKey, 'rate'], [o.key, 'rate']], f: (e, r) => (r > 0 ? (e || 0) / r : (r === 0 ? 0 : null)) })) },
    cache: { scale: 100, yMax: 100, lines: (md) => cacheLines(md.caches) },
    pool: { lines: (md) => {
      const out = [];
      for (const p of md.pools.values()) {
        for (const st of ['in_use', 'idle']) if (p[st]) out.push({ id: p.name + ' ' + st.replace('_', '-'), live: num(p[st].value), q: [[seriesKey(p[st].name, p[st].labels), 'avg']], f: (v) => v });
        if (p.waiters) out.push({ id: p.name + ' waiters', live: num(p.waiters.value), q: [[seriesKey(p.waiters.name, p.waiters.labels), 'max']], f: (v) => v });
      }
      return out;
    } },
    breakers: { yMax: 2, ticks: ['closed', 'half-open', 'open'], lines: (md) => [...md.breakers.values()].map((b) => {
      const keys = Object.keys(BREAKER_STATES).filter((st) => b.states[st]);
      return { id: b.name, live: b.state === null ? null : BREAKER_STATES[b.state],
        q: keys.map((st) => [seriesKey('vitals_breaker_state', b.states[st].labels), 'max']),
        f: (...vals) => { let v = null; vals.forEach((x, i) => { if (x !== null && x > 0) v = Math.max(v || 0, BREAKER_STATES[keys[i]]); }); return v === null && vals.some((x) => x !== null) ? 0 : v; } };
    }) },
    health: { yMax: 100, lines: () => {
      const comps = health ? [health.overall].concat(health.components || []) : [];
      return comps.filter(Boolean).map((c) => ({ id: c.component, live: c.score, q: [[seriesKey('vitals_health_score', { component: c.component }), 'avg']], f: (v) => v }));
    } },
  };

  // ---- live buffers ----
  const live = {}; // chart -> line id -> [[t, v]] (seconds)
  const fill = {}; // chart -> line id -> [[t, v]] from history, for the gap before the live points
  const markers = {}; // chart -> [[t, label]]
  for (const c in charts) { live[c] = {}; fill[c] = {}; markers[c] = []; }
  let lastModel = null;
  let lastTransitions = new Map(); // series id -> value

  function record(t, md) {
    for (const [name, def] of Object.entries(charts)) {
      for (const ln of def.lines(md)) {
        const buf = live[name][ln.id] || (live[name][ln.id] = []);
        buf.push([t, ln.live === null || ln.live === undefined ? null : ln.live * (def.scale || 1)]);
        while (buf.length && buf[0][0] < t - LIVE_KEEP) buf.shift();
      }
    }
    // Breaker transitions: a counter that went up since the last frame.
    for (const b of md.breakers.values()) {
      for (const s of b.transitions) {
        const prev = lastTransitions.get(s.id);
        if (prev !== undefined && s.value > prev) markers.breakers.push([t, b.name + ': ' + s.labels.from + ' → ' + s.labels.to]);
        lastTransitions.set(s.id, s.value);
      }
    }
    markers.breakers = markers.breakers.filter((m) => m[0] >= t - LIVE_KEEP);
  }

  // ---- history ----
  let historyKeys = null; // series keys the history holds
  let histGen = 0;
  async function getJSON(path) {
    const r = await fetch(path, { headers: { Accept: 'application/json' } });
    if (!r.ok) return null;
    return r.json();
  }
  async function loadHistoryKeys() {
    const j = await getJSON('api/v1/series');
    historyKeys = new Set();
    for (const s of (j && j.series) || []) if (s.history) historyKeys.add(s.key);
  }
  // query returns Map(t -> v) for one (series, stat) over the range.
  async function query(key, stat, range) {
    if (!historyKeys || !historyKeys.has(key)) return new Map();
    const j = await getJSON('api/v1/query_range?series=' + encodeURIComponent(key) + '&stat=' + stat + '&from=now-' + range);
    const out = new Map();
    for (const [t, v] of (j && j.points) || []) out.set(t, v);
    return out;
  }
  // historyLines fetches every line of every chart over range: chart ->
  // line id -> [[t, v]], and the breaker transitions as markers.
  async function historyLines(range, gen) {
    if (!lastModel) return null;
    if (!historyKeys) await loadHistoryKeys();
    const out = {};
    const cache = new Map();
    const get = (key, stat) => { const k = key + '|' + stat; if (!cache.has(k)) cache.set(k, query(key, stat, range)); return cache.get(k); };
    for (const [name, def] of Object.entries(charts)) {
      out[name] = {};
      for (const ln of def.lines(lastModel)) {
        const maps = [];
        for (const [key, stat] of ln.q) {
          if (gen !== histGen) return null; // superseded
          maps.push(await get(key, stat));
        }
        const ts = new Set();
        maps.forEach((m) => m.forEach((_, t) => ts.add(t)));
        out[name][ln.id] = [...ts].sort((a, b) => a - b).map((t) => {
          const v = ln.f(...maps.map((m) => (m.has(t) ? m.get(t) : null)));
          return [t, v === null ? null : v * (def.scale || 1)];
        });
      }
    }
    out.markers = [];
    for (const b of lastModel.breakers.values()) {
      for (const s of b.transitions) {
        const m = await get(seriesKey(s.name, s.labels), 'count');
        m.forEach((v, t) => { if (v > 0) out.markers.push([t, b.name + ': ' + s.labels.from + ' → ' + s.labels.to]); });
      }
    }
    return out;
  }
  let histData = null;
  let histTimer = 0;
  async function showRange(range) {
    dash.range = range;
    for (const b of document.querySelectorAll('#ranges button')) b.setAttribute('aria-pressed', String(b.dataset.range === range));
    clearTimeout(histTimer);
    const gen = ++histGen;
    histData = null;
    if (range === 'live') { drawAll(); return; }
    $('#note').textContent = 'loading ' + range + ' of history…';
    const h = await historyLines(range, gen);
    if (gen !== histGen) return;
    histData = h;
    if (histData) histData.at = Date.now() / 1000;
    $('#note').textContent = '';
    drawAll();
    histTimer = setTimeout(() => { if (dash.range === range) showRange(range); }, 60000);
  }
  // refill puts the last 15 minutes of history under the live points, so a
  // reconnect (or a fresh page) shows the minutes it missed.
  async function refill() {
    const gen = histGen;
    const h = await historyLines('15m', gen);
    if (!h) return;
    for (const c in charts) fill[c] = h[c] || {};
    markers.breakers = h.markers.concat(markers.breakers);
    drawAll();
  }

  // ---- charts ----
  let colors = {};
  function readColors() {
    const cs = getComputedStyle(document.documentElement);
    colors = { grid: cs.getPropertyValue('--grid').trim(), muted: cs.getPropertyValue('--muted').trim(), bad: cs.getPropertyValue('--bad').trim(), series: [] };
    for (let i = 0; i < 8; i++) colors.series.push(cs.getPropertyValue('--c' + i).trim());
  }
  const colorOf = (i) => colors.series[i % colors.series.length];

  function draw(name) {
    const def = charts[name];
    const canvas = document.querySelector('canvas[data-chart="' + name + '"]');
    const now = Date.now() / 1000;
    let span = RANGES[dash.range];
    const to = dash.range === 'live' ? now : (histData ? histData.at : now);
    if (dash.range === 'live') span = Math.max(120, Math.min(span, now - liveSince(name)));
    const from = to - span;
    let lines;
    let mk;
    let gap;
    if (dash.range === 'live') {
      lines = Object.entries(live[name]).map(([id, pts]) => {
        const first = pts.length ? pts.find((p) => p[1] !== null) : null;
        const before = Object.prototype.hasOwnProperty.call(fill[name], id) ? fill[name][id].filter((p) => !first || p[0] + 60 <= first[0]) : [];
        return [id, before.concat(pts)];
      });
      mk = markers[name];
      gap = 90;
    } else {
      lines = histData && histData[name] ? Object.entries(histData[name]) : [];
      mk = name === 'breakers' && histData ? histData.markers : [];
      gap = Math.max(90, span / 720 * 2.5);
    }
    lines.sort((a, b) => a[0].localeCompare(b[0]));
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth; const h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    let ymax = def.yMax || 0;
    let points = 0;
    for (const [, pts] of lines) for (const [t, v] of pts) if (v !== null && t >= from) { points++; if (!def.yMax) ymax = Math.max(ymax, v); }
    if (!def.yMax) ymax = ymax > 0 ? ymax * 1.15 : 1;
    const L = def.ticks ? 62 : 44; const R = 6; const T = 6; const B = 18;
    const X = (t) => L + (t - from) / (to - from) * (w - L - R);
    const Y = (v) => T + (1 - v / ymax) * (h - T - B);
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.strokeStyle = colors.grid; ctx.fillStyle = colors.muted;
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    const ticks = def.ticks ? def.ticks.map((label, i) => [i, label]) : [0, ymax / 2, ymax].map((v) => [v, sig(v)]);
    for (const [v, label] of ticks) {
      ctx.beginPath(); ctx.moveTo(L, Y(v) + 0.5); ctx.lineTo(w - R, Y(v) + 0.5); ctx.stroke();
      ctx.fillText(label, L - 4, Y(v));
    }
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left'; ctx.fillText(hhmm(from, span), L, h - 4);
    ctx.textAlign = 'right'; ctx.fillText(dash.range === 'live' ? 'now' : hhmm(to, span), w - R, h - 4);
    // transitions: dashed vertical lines
    ctx.save(); ctx.setLineDash([3, 3]); ctx.strokeStyle = colors.bad;
    for (const [t] of mk || []) if (t >= from) { ctx.beginPath(); ctx.moveTo(Math.round(X(t)) + 0.5, T); ctx.lineTo(Math.round(X(t)) + 0.5, h - B); ctx.stroke(); }
    ctx.restore();
    ctx.lineWidth = 1.5;
    lines.forEach(([, pts], i) => {
      ctx.strokeStyle = colorOf(i);
      ctx.beginPath();
      let prev = null;
      for (const [t, v] of pts) {
        if (t < from || v === null) { prev = null; continue; }
        const x = X(t); const y = Y(Math.min(v, ymax));
        if (prev !== null && t - prev <= gap) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        prev = t;
      }
      ctx.stroke();
    });
    const legend = document.querySelector('[data-legend="' + name + '"]');
    legend.textContent = '';
    lines.forEach(([id], i) => { const s = el('span'); const sw = el('i'); sw.style.background = colorOf(i); s.append(sw, id); legend.append(s); });
    if (mk && mk.length) legend.append(el('span', 'bad', mk.length + ' transition' + (mk.length > 1 ? 's' : '') + ' (dashed)'));
    if (points >= 2) ready(name);
  }
  // liveSince is the time of the chart's oldest point: the live view spans
  // from there (at least 2 minutes, at most 15), not an empty 15 minutes.
  function liveSince(name) {
    let t = Infinity;
    for (const pts of Object.values(live[name])) if (pts.length) t = Math.min(t, pts[0][0]);
    for (const pts of Object.values(fill[name])) if (pts.length) t = Math.min(t, pts[0][0]);
    return isFinite(t) ? t : Date.now() / 1000;
  }
  function drawAll() { for (const c in charts) draw(c); }

  // ---- panels ----
  function renderOps(md) {
    const tb = $('#ops tbody');
    tb.textContent = '';
    for (const o of [...md.ops.values()].sort((a, b) => (b.rate || 0) - (a.rate || 0))) {
      const tr = el('tr');
      const err = el('td', o.errRatio > 0.05 ? 'bad' : (o.errRatio > 0.01 ? 'warn' : ''), pct(o.errRatio));
      tr.append(el('td', '', o.name), el('td', '', sig(o.rate)), el('td', '', ms(o.p50)), el('td', '', ms(o.p95)), el('td', '', ms(o.p99)), err);
      tb.append(tr);
    }
    if (md.ops.size) ready('operations');
  }
  function tile(label, value, cls) {
    const t = el('div', 'tile');
    t.append(el('b', cls || '', value), el('small', '', label));
    return t;
  }
  function renderCache(md) {
    const box = $('#cache-tiles'); box.textContent = '';
    for (const ln of cacheLines(md.caches)) box.append(tile(ln.id, pct(ln.live)));
    if (md.caches.size) ready('cache');
  }
  function renderPool(md) {
    const box = $('#pool-tiles'); box.textContent = '';
    for (const p of md.pools.values()) {
      const pre = md.pools.size > 1 ? p.name + ' ' : '';
      box.append(tile(pre + 'in use', sig(p.in_use ? p.in_use.value : null)), tile(pre + 'idle', sig(p.idle ? p.idle.value : null)),
        tile(pre + 'waiters', sig(p.waiters ? p.waiters.value : null), p.waiters && p.waiters.value > 0 ? 'warn' : ''),
        tile(pre + 'wait p99', p.wait && p.wait.p99 !== undefined ? ms(p.wait.p99) : '–'));
    }
    if (md.pools.size) ready('pool');
  }
  function renderBreakers(md) {
    const box = $('#breaker-tiles'); box.textContent = '';
    for (const b of md.breakers.values()) {
      const st = b.state || 'unknown';
      box.append(tile(b.name, st.replace('_', '-'), st === 'closed' ? 'ok' : (st === 'open' ? 'bad' : 'warn')));
    }
    if (md.breakers.size) ready('breakers');
  }
  let health = null;
  const statusClass = (s) => (s === 'pass' ? 'ok' : (s === 'warn' ? 'warn' : 'bad'));
  function renderHealth() {
    if (!health) return;
    const box = $('#health-tiles'); box.textContent = '';
    box.append(tile('overall score', sig(health.overall && health.overall.score, 3), statusClass(health.overall && health.overall.status)),
      tile('live', health.live, statusClass(health.live)), tile('ready', health.ready, statusClass(health.ready)));
    if (health.draining) box.append(tile('draining', 'yes', 'warn'));
    const comps = $('#health-components'); comps.textContent = '';
    for (const c of health.components || []) {
      const d = el('div', 'component');
      const h3 = el('h3');
      h3.append(el('span', '', c.component), el('span', statusClass(c.status), sig(c.score, 3) + ' ' + c.status));
      d.append(h3);
      if (c.factors && c.factors.length) {
        const t = el('table');
        const hr = el('tr'); hr.append(el('th', '', 'factor'), el('th', '', 'observed'), el('th', '', 'target'), el('th', '', 'score')); t.append(hr);
        for (const f of c.factors) {
          const tr = el('tr');
          tr.append(el('td', '', f.name), el('td', '', f.no_data ? 'no data' : sig(f.observed) + (f.unit && f.unit !== 'score' ? ' ' + f.unit : '')), el('td', '', sig(f.target)), el('td', f.score < 50 ? 'bad' : (f.score < 90 ? 'warn' : ''), sig(f.score, 3)));
          t.append(tr);
        }
        d.append(t);
      }
      if (c.recommendations && c.recommendations.length) {
        const ul = el('ul', 'advice');
        for (const r of c.recommendations) ul.append(el('li', '', r));
        d.append(ul);
      }
      comps.append(d);
    }
    ready('health');
  }
  function healthEvent(m) {
    const ev = m.event || {};
    const li = el('li', '', new Date(m.time).toLocaleTimeString() + ' ' + ev.source + ' ' + ev.name + ': ' + ev.from + ' → ' + ev.to + (ev.output ? ' — ' + ev.output : ''));
    const ul = $('#health-events');
    ul.prepend(li);
    while (ul.children.length > 50) ul.lastChild.remove();
  }
  function renderAlerts(alerts) {
    const ul = $('#alerts'); ul.textContent = '';
    const firing = alerts.filter((a) => a.state === 'firing').length;
    $('#p-alerts h2').textContent = 'Alerts' + (alerts.length ? ' (' + firing + ' firing, ' + (alerts.length - firing) + ' pending)' : '');
    if (!alerts.length) ul.append(el('li', 'muted', 'No alert is pending or firing.'));
    for (const a of alerts) {
      const li = el('li');
      li.append(el('span', 'state ' + (a.state === 'firing' ? 'bad' : 'warn'), a.state), el('b', '', a.name + ' '),
        el('span', 'muted', (a.severity ? a.severity + ' · ' : '') + 'since ' + new Date(a.since).toLocaleTimeString() + ' · '),
        document.createTextNode(a.summary || ''));
      ul.append(li);
    }
    ready('alerts');
  }

  // ---- connection ----
  let ws = null;
  let retry = 0;
  let retryTimer = 0;
  function setConn(state, text) {
    const c = $('#conn'); c.dataset.state = state; $('#conn-text').textContent = text;
  }
  function connect() {
    clearTimeout(retryTimer);
    const u = new URL('stream', location.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    setConn('connecting', 'connecting');
    let opened = false;
    let refilled = false;
    const sock = new WebSocket(u);
    ws = sock;
    sock.onopen = () => {
      opened = true; retry = 0; dash.connects++;
      sock.send(JSON.stringify({ type: 'subscribe', id: 'dash', topics: GROUPS, interval_ms: 1000 }));
    };
    sock.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch (err) { dash.errors++; return; }
      switch (m.type) {
        case 'full': case 'update': {
          if (!applyFrame(m)) return;
          if (m.health) health = m.health;
          if (m.alerts) renderAlerts(m.alerts);
          const md = model();
          lastModel = md;
          record(m.time / 1000, md);
          renderOps(md); renderCache(md); renderPool(md); renderBreakers(md); renderHealth();
          dash.frames++; dash.seq = m.seq; dash.lastFrame = Date.now();
          setConn('live', 'live');
          $('#updated').textContent = 'updated ' + new Date(m.time).toLocaleTimeString();
          if (dash.range === 'live') drawAll();
          if (!refilled) { refilled = true; refill(); if (dash.range !== 'live') showRange(dash.range); }
          break;
        }
        case 'alerts': renderAlerts(m.alerts || []); break;
        case 'health_event': healthEvent(m); break;
        case 'error': dash.errors++; $('#note').textContent = 'stream: ' + m.error; break;
        default: break;
      }
    };
    sock.onclose = (e) => {
      if (ws !== sock) return;
      ws = null;
      // Going away (a restart or a drain): come back fast; otherwise back off.
      const delay = e.code === 1001 ? 300 : Math.min(5000, 500 * Math.pow(2, retry++)) * (0.75 + Math.random() / 2);
      setConn('down', (opened ? 'disconnected' : 'unreachable') + ', retrying');
      retryTimer = setTimeout(connect, delay);
    };
  }

  // ---- start ----
  readColors();
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { readColors(); drawAll(); });
  window.addEventListener('resize', () => drawAll());
  for (const b of document.querySelectorAll('#ranges button')) b.addEventListener('click', () => showRange(b.dataset.range));
  renderAlerts([]);
  $('[data-panel="alerts"]').dataset.ready = ''; // set again by the stream's alert list
  connect();
})();
