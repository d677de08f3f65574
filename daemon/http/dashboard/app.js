// SPDX-License-Identifier: GPL-2.0-or-later
//
// hyperallocd's dashboard: reads the API like any client. GET /vms,
// /host and /policy once, then the event stream with samples
// (GET /events?samples=1): each "samples" frame updates the host, every
// VM's bars and the chart; each event goes to the log and refreshes what
// it changed. Changes (a VM's target, the policy) use the API token the
// user enters once; it is kept in sessionStorage, for this tab only.
'use strict';

(function () {
  const MIB = 1 << 20;
  const KEEP = 600; // samples on the chart (ten minutes)
  const LOG_MAX = 200;
  const TOKEN_KEY = 'hyperalloc.token';
  const EVENT_TYPES = ['vm_added', 'vm_removed', 'target_changed',
    'reclaim_done', 'vm_quarantined', 'vm_stuck', 'policy_changed',
    'config_reloaded', 'daemon_error'];
  const COLORS = ['#3a6ea5', '#d9480f', '#2b8a3e', '#862e9c', '#e67700',
    '#0b7285', '#c2255c', '#5c940d'];

  const vms = new Map(); // id -> { vm, row }
  let chart = null;
  let chartIds = [];
  const times = [];
  const series = new Map(); // id -> [host_resident_bytes]

  const $ = (sel) => document.querySelector(sel);

  function size(b) {
    if (b === null || b === undefined)
      return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = b, u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return (u && v < 10 ? v.toFixed(2) : u && v < 100 ? v.toFixed(1) :
      Math.round(v).toString()) + ' ' + units[u];
  }

  function say(text, ok) {
    const m = $('#message');
    m.textContent = text || '';
    m.className = 'message' + (ok ? ' ok' : '');
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }

  function showToken() {
    $('#token-state').textContent = token() ?
      'kept for this tab' : 'none: changes will be refused';
  }

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined)
      headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && token())
      headers.Authorization = 'Bearer ' + token();
    const r = await fetch(path, {
      method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let j = null;
    try {
      j = JSON.parse(text);
    } catch (e) {
      j = null;
    }
    if (!r.ok) {
      let msg = j && j.detail ? j.detail : 'HTTP ' + r.status;
      if (r.status === 401)
        msg += ' (enter the API token above)';
      throw new Error(msg);
    }
    return j;
  }

  // ---- host ----

  function renderHost(h) {
    $('#host-total').textContent = size(h.total_bytes);
    $('#host-available').textContent = size(h.available_bytes);
    $('#host-committed').textContent = size(h.committed_bytes);
    $('#host-max-committed').textContent = size(h.max_committed_bytes);
    $('#host-reserve').textContent = size(h.reserve_bytes);
    $('#host-vms').textContent = String(h.vms);
    $('#overcommit-now').textContent = h.overcommit_now.toFixed(2);
    $('#overcommit-ratio').textContent = h.overcommit_ratio.toFixed(2);
    const bar = $('#overcommit-bar');
    const frac = h.overcommit_ratio > 0 ? h.overcommit_now / h.overcommit_ratio : 0;
    bar.style.width = Math.min(100, frac * 100).toFixed(1) + '%';
    bar.className = frac > 1 ? 'over' : '';
  }

  // ---- VMs ----

  function cell(row, cls) {
    return row.querySelector('.' + cls);
  }

  function newRow(id) {
    const row = document.createElement('tr');
    row.dataset.vm = id;
    const cols = ['name', 'state', 'bars', 'max num', 'target num', 'current num',
      'resident num', 'free num', 'reclaimed num', 'set'];
    for (const c of cols) {
      const td = document.createElement('td');
      td.className = c;
      row.appendChild(td);
    }
    cell(row, 'name').textContent = id;
    const bars = cell(row, 'bars');
    const size_ = document.createElement('div');
    size_.className = 'bar size';
    for (const s of ['seg-current', 'seg-reclaimed', 'seg-target']) {
      const d = document.createElement('div');
      d.className = s;
      size_.appendChild(d);
    }
    const use = document.createElement('div');
    use.className = 'bar use';
    for (const s of ['seg-resident', 'seg-free']) {
      const d = document.createElement('div');
      d.className = s;
      use.appendChild(d);
    }
    bars.append(size_, use);

    const form = document.createElement('form');
    form.className = 'set-form';
    const input = document.createElement('input');
    input.type = 'number';
    input.min = '0';
    input.step = '2';
    input.className = 'target-input';
    input.placeholder = 'MiB';
    input.setAttribute('aria-label', 'target of ' + id + ' in MiB');
    const set = document.createElement('button');
    set.type = 'submit';
    set.className = 'set-target';
    set.textContent = 'Set';
    const rel = document.createElement('button');
    rel.type = 'button';
    rel.className = 'release';
    rel.textContent = 'Release';
    rel.title = 'hand the target back to the policy';
    form.append(input, ' MiB ', set, rel);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const mib = Number(input.value);
      if (!input.value || !Number.isFinite(mib) || mib < 0) {
        say('a target in MiB, please');
        return;
      }
      change(id, 'PATCH', '/memory', { target_bytes: Math.round(mib) * MIB },
             'target of ' + id + ' set to ' + Math.round(mib) + ' MiB');
    });
    rel.addEventListener('click', () =>
      change(id, 'DELETE', '/memory/target', undefined,
             'target of ' + id + ' handed back to the policy'));
    cell(row, 'set').appendChild(form);
    return row;
  }

  // Changes need the token: say so rather than be refused.
  function needToken() {
    if (token())
      return false;
    say('enter the API token above to make changes');
    $('#token').focus();
    return true;
  }

  async function change(id, method, rest, body, done) {
    if (needToken())
      return;
    try {
      const m = await api(method, '/vms/' + encodeURIComponent(id) + rest, body);
      const v = vms.get(id);
      if (v) {
        v.vm.memory = m;
        renderVm(v);
      }
      say(done, true);
    } catch (e) {
      say(id + ': ' + e.message);
    }
  }

  function pct(part, whole) {
    return whole > 0 ? Math.max(0, Math.min(100, part / whole * 100)).toFixed(2) + '%' : '0%';
  }

  function renderVm(v) {
    const { vm, row } = v;
    const m = vm.memory;
    row.dataset.targetBytes = String(m.target_bytes);
    row.dataset.currentBytes = String(m.current_bytes);
    row.dataset.targetSource = m.target_source;
    row.dataset.state = vm.state;
    const st = cell(row, 'state');
    st.textContent = vm.state + ' · ' + vm.mechanism;
    st.className = 'state state-' + vm.state;
    cell(row, 'max').textContent = size(m.max_bytes);
    const t = cell(row, 'target');
    t.textContent = size(m.target_bytes) + (m.target_source === 'manual' ? ' (manual)' : '');
    t.className = 'target num source-' + m.target_source;
    cell(row, 'current').textContent = size(m.current_bytes);
    cell(row, 'resident').textContent = size(m.host_resident_bytes);
    cell(row, 'free').textContent = size(m.guest_free_bytes);
    cell(row, 'reclaimed').textContent = size(m.reclaimed_bytes);
    const max = m.max_bytes;
    row.querySelector('.seg-current').style.width = pct(m.current_bytes, max);
    const rec = row.querySelector('.seg-reclaimed');
    rec.style.left = pct(max - m.reclaimed_bytes, max);
    rec.style.width = pct(m.reclaimed_bytes, max);
    row.querySelector('.seg-target').style.left = pct(m.target_bytes, max);
    row.querySelector('.seg-resident').style.width = pct(m.host_resident_bytes, max);
    const free = row.querySelector('.seg-free');
    free.style.left = pct(m.host_resident_bytes, max);
    free.style.width = pct(Math.min(m.guest_free_bytes, Math.max(0, max - m.host_resident_bytes)), max);
  }

  // The list from GET /vms or from a samples frame (id, state, memory).
  function renderVms(list, full) {
    const body = $('#vms');
    const seen = new Set();
    for (const item of list) {
      seen.add(item.id);
      let v = vms.get(item.id);
      if (!v) {
        v = { vm: { mechanism: '?', ...item }, row: newRow(item.id) };
        vms.set(item.id, v);
        body.appendChild(v.row);
      } else {
        Object.assign(v.vm, item);
      }
      renderVm(v);
    }
    if (full) {
      for (const [id, v] of vms) {
        if (!seen.has(id)) {
          v.row.remove();
          vms.delete(id);
        }
      }
    }
  }

  async function refreshVms() {
    try {
      renderVms((await api('GET', '/vms')).vms, true);
    } catch (e) {
      say('cannot read the VMs: ' + e.message);
    }
  }

  // ---- policy ----

  function renderPolicy(p) {
    $('#policy-name').textContent = p.name;
    $('#policy-detail').textContent = 'tick ' + p.tick_ms + ' ms, overcommit ' +
      p.overcommit_ratio + ', reserve ' + size(p.host_reserve_bytes);
    const sel = $('#policy-select');
    const names = p.available.includes(p.name) ? p.available : [p.name, ...p.available];
    if (sel.dataset.names !== names.join(' ')) {
      sel.textContent = '';
      for (const n of names) {
        const o = document.createElement('option');
        o.value = o.textContent = n;
        sel.appendChild(o);
      }
      sel.dataset.names = names.join(' ');
    }
    sel.value = p.name;
  }

  async function refreshPolicy() {
    try {
      renderPolicy(await api('GET', '/policy'));
    } catch (e) {
      say('cannot read the policy: ' + e.message);
    }
  }

  // ---- chart ----

  function buildChart() {
    chartIds = [...vms.keys()];
    const el = $('#chart');
    if (chart)
      chart.destroy();
    const opts = {
      width: Math.max(300, el.clientWidth - 10),
      height: 260,
      scales: { x: { time: true } },
      series: [{}].concat(chartIds.map((id, i) => ({
        label: id,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        value: (u, v) => size(v),
      }))),
      axes: [{}, { size: 70, values: (u, ticks) => ticks.map((v) => size(v)) }],
    };
    chart = new uPlot(opts, chartData(), el);
    el.dataset.series = String(chartIds.length);
  }

  function chartData() {
    return [times.slice()].concat(chartIds.map((id) => (series.get(id) || []).slice()));
  }

  function sample(s) {
    const t = Date.parse(s.time) / 1000;
    times.push(t);
    const ids = new Set(s.vms.map((v) => v.id));
    for (const v of s.vms) {
      if (!series.has(v.id))
        series.set(v.id, new Array(times.length - 1).fill(null));
      series.get(v.id).push(v.memory.host_resident_bytes);
    }
    for (const [id, arr] of series) {
      if (!ids.has(id))
        arr.push(null);
      if (arr.length > KEEP)
        arr.splice(0, arr.length - KEEP);
    }
    if (times.length > KEEP)
      times.splice(0, times.length - KEEP);
    const want = [...vms.keys()];
    if (!chart || want.join('\n') !== chartIds.join('\n'))
      buildChart();
    else
      chart.setData(chartData());
    $('#chart').dataset.samples = String(times.length);
  }

  // ---- events ----

  function log(ev) {
    const li = document.createElement('li');
    li.className = 't-' + ev.type;
    li.dataset.type = ev.type;
    if (ev.vm)
      li.dataset.vm = ev.vm;
    const time = document.createElement('time');
    time.dateTime = ev.time;
    time.textContent = ev.time.replace('T', ' ').replace('Z', '');
    const type = document.createElement('span');
    type.className = 'type';
    type.textContent = ev.type;
    const text = document.createElement('span');
    let extra = '';
    if (ev.type === 'target_changed')
      extra = ' → ' + size(ev.target_bytes) + ' (' + ev.source + ')';
    text.textContent = (ev.vm ? ev.vm + ': ' : '') + ev.message + extra;
    li.append(time, type, text);
    const ol = $('#log');
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > LOG_MAX)
      ol.lastChild.remove();
  }

  let refreshing = null;
  function refreshSoon() {
    if (!refreshing)
      refreshing = setTimeout(() => {
        refreshing = null;
        refreshVms();
      }, 50);
  }

  function connect() {
    const status = $('#status');
    const es = new EventSource('/events?samples=1');
    es.addEventListener('open', () => {
      status.textContent = 'live';
      status.className = 'status live';
      refreshVms();
      refreshPolicy();
    });
    // EventSource's own "error": the connection is lost; it reconnects
    // by itself with the last id (the daemon's are daemon_error).
    es.addEventListener('error', () => {
      status.textContent = 'reconnecting…';
      status.className = 'status down';
    });
    es.addEventListener('samples', (e) => {
      const s = JSON.parse(e.data);
      renderHost(s.host);
      renderVms(s.vms, true);
      sample(s);
    });
    for (const t of EVENT_TYPES) {
      es.addEventListener(t, (e) => {
        const ev = JSON.parse(e.data);
        log(ev);
        if (t === 'policy_changed' || t === 'config_reloaded')
          refreshPolicy();
        else
          refreshSoon();
      });
    }
  }

  // ---- start ----

  $('#token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $('#token').value.trim();
    if (v)
      sessionStorage.setItem(TOKEN_KEY, v);
    $('#token').value = '';
    showToken();
  });
  $('#token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showToken();
  });
  $('#policy-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('#policy-select').value;
    if (needToken())
      return;
    try {
      renderPolicy(await api('PUT', '/policy', { name }));
      say('policy switched to ' + name, true);
    } catch (err) {
      say('policy: ' + err.message);
    }
  });
  window.addEventListener('resize', () => {
    if (chart)
      chart.setSize({ width: Math.max(300, $('#chart').clientWidth - 10), height: 260 });
  });
  showToken();
  api('GET', '/host').then(renderHost).catch((e) => say(e.message));
  refreshVms();
  refreshPolicy();
  connect();
})();
