// The status page: plain HTML, CSS and a little JS, served by the API listener with no build step and nothing
// from outside. It reads /v1; its one write is HA disarm and arm (POST /v1/ha/disarm|arm, a write token, recorded
// with the token's name like the CLI's). Every value from the API is put in with textContent, never as HTML.

export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cmpha status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/status.css">
<script src="/status.js" defer></script>
</head>
<body>
<header>
  <h1>cmpha</h1>
  <span id="updated" class="muted">loading…</span>
</header>
<main>
  <section id="brake" class="banner hidden" role="alert"></section>
  <section id="disarms" class="banner hidden" role="status"></section>
  <form id="disarm-form" class="card">
    <h2>HA</h2>
    <label for="disarm-scope">Disarm</label>
    <select id="disarm-scope"><option value="all">the whole cloud</option><option value="host">host</option><option value="aggregate">aggregate</option><option value="zone">zone</option></select>
    <input id="disarm-name" placeholder="its name" aria-label="host, aggregate or zone name">
    <input id="disarm-reason" placeholder="why (required)" aria-label="reason">
    <input id="disarm-until" placeholder="until: 2h or a time (optional)" aria-label="until">
    <button type="submit">Disarm</button>
    <p id="ha-result" class="muted"></p>
  </form>
  <section id="error" class="banner bad hidden" role="alert"></section>
  <form id="login" class="card hidden">
    <label for="token">API token</label>
    <input id="token" type="password" autocomplete="current-password" placeholder="a token from an [api] token file">
    <button type="submit">Show</button>
  </form>
  <section class="card">
    <h2>Hosts <span id="host-summary" class="muted"></span></h2>
    <div class="scroll"><table id="hosts"><thead><tr><th>Host</th><th>Zone</th><th>Verdict</th><th>Action</th><th>Why</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section class="card">
    <h2>Incidents</h2>
    <div class="scroll"><table id="incidents"><thead><tr><th>Incident</th><th>Host</th><th>Status</th><th>Opened</th><th>Ack</th></tr></thead><tbody></tbody></table></div>
    <p id="no-incidents" class="muted hidden">No incidents recorded.</p>
  </section>
  <section id="incident" class="card hidden">
    <h2 id="incident-title"></h2>
    <p id="incident-summary"></p>
    <h3>Timeline</h3>
    <ol id="timeline"></ol>
    <h3>Instances</h3>
    <div class="scroll"><table id="instances"><thead><tr><th>Name</th><th>State</th><th>Target</th><th>Note</th></tr></thead><tbody></tbody></table></div>
  </section>
</main>
<footer class="muted">Refreshes every 5 s; disarm and arm need a write token. API: <a href="/v1/openapi.json">/v1/openapi.json</a></footer>
</body>
</html>
`;

export const STATUS_CSS = `:root { --bg: #f6f7f9; --card: #fff; --fg: #1b1f24; --muted: #5f6b7a; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --line: #d8dee4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: baseline; gap: 1rem; padding: .75rem 1rem; background: #24292f; color: #fff; }
header h1 { margin: 0; font-size: 1.2rem; }
header .muted { color: #c9d1d9; }
main { max-width: 1100px; margin: 0 auto; padding: .75rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; margin-bottom: .75rem; }
h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
h3 { font-size: .95rem; margin: .75rem 0 .25rem; }
.muted { color: var(--muted); font-weight: normal; font-size: .9em; }
.hidden { display: none !important; }
.banner { border-radius: 8px; padding: .6rem 1rem; margin-bottom: .75rem; font-weight: 600; background: #fff8c5; border: 1px solid #d4a72c; }
.banner.bad { background: #ffebe9; border-color: var(--bad); color: var(--bad); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; color: var(--muted); }
tr.clickable { cursor: pointer; }
tr.recovering { background: #fff1f0; }
tr.clickable:hover, tr.selected { background: #eef4ff; }
.pill { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .85rem; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.v-healthy, .s-resolved { color: var(--ok); }
.v-maintenance { color: var(--muted); }
.v-suspect, .v-unprobeable, .v-agent-down, .v-isolated-mgmt, .s-open, .s-fencing, .s-fenced, .s-evacuating, .s-verifying, .s-partial { color: var(--warn); }
.v-dead, .s-failed, .s-aborted, .s-awaiting_fence { color: var(--bad); }
ol#timeline { padding-left: 1.2rem; margin: 0; }
ol#timeline li { margin: .2rem 0; }
ol#timeline li.warning .step { color: var(--warn); }
ol#timeline li.critical .step { color: var(--bad); }
.step { font-weight: 600; margin-right: .4rem; }
time { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: .4rem; }
form#login { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; }
form#login input { flex: 1 1 14rem; padding: .4rem; }
footer { text-align: center; padding: 1rem; }
@media (max-width: 640px) {
  body { font-size: 14px; }
  main { padding: .4rem; }
  .card { padding: .5rem .6rem; }
  #hosts th:nth-child(2), #hosts td:nth-child(2), #hosts th:nth-child(4), #hosts td:nth-child(4) { display: none; }
  #incidents th:nth-child(4), #incidents td:nth-child(4), #incidents th:nth-child(5), #incidents td:nth-child(5) { display: none; }
  #hosts td:first-child, #incidents td:nth-child(2) { white-space: nowrap; }
  #hosts td:last-child { overflow-wrap: anywhere; }
}
`;

export const STATUS_JS = `'use strict';
(function () {
  var REFRESH_MS = 5000;
  var selected = sessionStorage.getItem('cmpha-incident');
  var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) { localStorage.setItem('cmpha-token', decodeURIComponent(m[1])); history.replaceState(null, '', location.pathname); }

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
  function pill(text, prefix) { return el('span', text, 'pill ' + prefix + text); }
  function when(iso) { if (!iso) return '-'; var d = new Date(iso); return d.toISOString().replace('T', ' ').replace(/\\.\\d+Z$/, 'Z'); }
  // Steps follow each other within a second: the timeline shows milliseconds.
  function precise(iso) { return new Date(iso).toISOString().slice(11, 23); }
  function show(id, on) { $(id).classList.toggle('hidden', !on); }

  function get(path) { return call('GET', path); }
  function post(path, body) { return call('POST', path, body); }
  function call(method, path, body) {
    var token = localStorage.getItem('cmpha-token');
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    var init = { method: method, headers: headers, cache: 'no-store' };
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { var e = new Error((body.error && body.error.message) || ('HTTP ' + r.status)); e.status = r.status; throw e; }
        return body;
      });
    });
  }

  function renderBrake(b) {
    var box = $('brake');
    if (b && b.active) { box.textContent = 'Storm brake ON since ' + when(b.since) + ': ' + (b.reason || 'no reason recorded') + '. No incidents are opened; run cmpha resume once the cause is understood.'; show('brake', true); }
    else show('brake', false);
  }

  // A disarm's key is 'all' or 'KIND:NAME'; the API takes {all: true} or {KIND: NAME}.
  function scopeBody(key) {
    var o = {};
    if (key === 'all') o.all = true;
    else o[key.slice(0, key.indexOf(':'))] = key.slice(key.indexOf(':') + 1);
    return o;
  }
  function said(what, err) {
    $('ha-result').textContent = err ? what + ' refused: ' + err.message + (err.status === 403 ? ' (a write token is needed)' : '') : what;
  }
  function arm(key) {
    post('/v1/ha/arm', scopeBody(key)).then(function () { said('armed ' + key); refresh(); }, function (e) { said('arm ' + key, e); });
  }

  // Disarm and arm run the same functions as cmpha ha; the API records the token's name as who.
  function renderDisarms(h) {
    var box = $('disarms');
    var list = (h && h.disarmed) || [];
    box.replaceChildren();
    list.forEach(function (d) {
      var state = d.state === 'pending' ? 'pending until incident(s) ' + d.pendingOn.join(', ') + ' end' : 'in effect';
      var text = 'HA DISARMED for ' + (d.key === 'all' ? 'the whole cloud' : d.key.replace(':', ' ')) + ' by ' + d.by + ' since ' + when(d.at)
        + (d.until ? ' until ' + when(d.until) : '') + ': ' + d.reason + ' (' + state + (d.overdue ? '; OVERDUE: ' + d.overdue : '') + '). Hosts there are watched, not recovered; arm here or with cmpha ha arm.';
      var p = el('p', text);
      var b = el('button', 'Arm');
      b.type = 'button';
      b.dataset.key = d.key;
      b.addEventListener('click', function () { arm(d.key); });
      p.append(' ', b);
      box.append(p);
    });
    show('disarms', list.length > 0);
  }

  function renderHosts(data) {
    var tbody = $('hosts').tBodies[0];
    tbody.replaceChildren();
    var bad = 0;
    data.hosts.forEach(function (h) {
      var tr = el('tr');
      tr.dataset.host = h.host;
      tr.append(el('td', h.host), el('td', h.zone || '-'));
      // While cmpha recovers a host it has disabled it, and Nova calls it maintenance: show what the incident saw.
      var inc = h.openIncident, last = h.latestIncident;
      var disabledByCmpha = !inc && last && h.verdict === 'maintenance' && h.evidence.nova && String(h.evidence.nova.disabledReason || '').indexOf(last.id) >= 0;
      var v = el('td');
      v.append(pill(inc && inc.origin === 'detector' ? 'dead' : h.verdict, 'v-'));
      if (inc) { v.append(' '); v.append(pill('recovering', 's-' + inc.status + ' r-')); }
      tr.append(v);
      tr.append(el('td', inc ? 'incident ' + inc.id + ': ' + inc.status : disabledByCmpha ? 'failed over' : h.action));
      var why = inc ? inc.reasons.join('; ')
        : disabledByCmpha ? 'disabled by cmpha in incident ' + last.id + ' (' + last.status + '); bring it back with cmpha host restore ' + h.host
        : h.verdict === 'healthy' ? '' : (h.held ? h.held + '; ' : '') + (h.evidence.reasons || []).join('; ');
      tr.append(el('td', why));
      if (inc) tr.className = 'recovering';
      if ((h.verdict !== 'healthy' && h.verdict !== 'maintenance') || inc) bad++;
      tbody.append(tr);
    });
    $('host-summary').textContent = data.hosts.length + ' hosts, ' + bad + ' not healthy' + (data.round.isolated ? '; CONTROLLER ISOLATED: ' + data.round.isolationReason : '');
  }

  function renderIncidents(list) {
    var tbody = $('incidents').tBodies[0];
    tbody.replaceChildren();
    show('no-incidents', list.length === 0);
    if (!selected && list.length > 0) selected = list[0].id;
    list.forEach(function (i) {
      var tr = el('tr', undefined, 'clickable' + (i.id === selected ? ' selected' : ''));
      tr.dataset.id = i.id;
      tr.append(el('td', i.id), el('td', i.host));
      var s = el('td'); s.append(pill(i.status, 's-')); tr.append(s);
      tr.append(el('td', when(i.openedAt)), el('td', i.ack ? i.ack.by : '-'));
      tr.addEventListener('click', function () { selected = i.id; sessionStorage.setItem('cmpha-incident', i.id); refresh(); });
      tbody.append(tr);
    });
  }

  function renderIncident(inc) {
    show('incident', true);
    $('incident-title').textContent = 'Incident ' + inc.id + ': ' + inc.host + ' ' + inc.status.toUpperCase();
    var parts = ['opened ' + when(inc.openedAt)];
    if (inc.closedAt) parts.push('closed ' + when(inc.closedAt));
    if (inc.fence) parts.push(inc.fence.unfenced ? 'NOT FENCED' : inc.fence.confirmedBy ? 'fence confirmed by ' + inc.fence.confirmedBy.user : 'fenced by ' + inc.fence.driver);
    if (inc.ack) parts.push('acknowledged by ' + inc.ack.by);
    // A recovery that went on after a failure (a confirmed fence) keeps the failure on record: say it is past.
    if (inc.error) parts.push((inc.status === 'resolved' ? 'earlier error ' : 'error ') + inc.error.code + ': ' + inc.error.message);
    if (inc.status === 'awaiting_fence') parts.push('every fence attempt failed: make sure ' + inc.host + ' is off, then run cmpha fence confirm ' + inc.host + ' --yes');
    $('incident-summary').textContent = parts.join(' · ');
    var ol = $('timeline');
    ol.replaceChildren();
    inc.timeline.forEach(function (t) {
      var li = el('li', undefined, t.level);
      var tm = el('time', precise(t.at)); tm.dateTime = t.at; tm.title = t.at;
      li.append(tm, el('span', t.step, 'step'), el('span', t.message));
      ol.append(li);
    });
    var tbody = $('instances').tBodies[0];
    tbody.replaceChildren();
    inc.instances.forEach(function (e) {
      var tr = el('tr');
      tr.append(el('td', e.name), el('td', e.state), el('td', e.target || '-'), el('td', e.error || e.skipReason || (e.state === 'awaiting_capacity' ? 'waiting for room: ' + (e.noRoom || '') : '')));
      tbody.append(tr);
    });
  }

  function fail(err) {
    if (err.status === 401) { show('login', true); $('error').textContent = 'A token is needed to read this page.'; }
    else $('error').textContent = 'Cannot read the cmpha API: ' + err.message;
    show('error', true);
  }

  function refresh() {
    Promise.all([get('/v1/hosts').catch(function (e) { if (e.status === 503) return null; throw e; }), get('/v1/incidents?limit=20'), get('/v1/storm-brake'), get('/v1/ha').catch(function () { return null; })])
      .then(function (r) {
        show('error', false); show('login', false);
        if (r[0]) renderHosts(r[0]); else $('host-summary').textContent = 'waiting for the first detector round';
        renderIncidents(r[1].incidents);
        renderBrake(r[2]);
        renderDisarms(r[3]);
        $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
        return selected ? get('/v1/incidents/' + encodeURIComponent(selected)).then(function (x) { renderIncident(x.incident); }) : null;
      })
      .catch(fail);
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('login').addEventListener('submit', function (ev) { ev.preventDefault(); localStorage.setItem('cmpha-token', $('token').value.trim()); refresh(); });
    $('disarm-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var kind = $('disarm-scope').value;
      var body = { reason: $('disarm-reason').value };
      if (kind === 'all') body.all = true; else body[kind] = $('disarm-name').value;
      if ($('disarm-until').value.trim() !== '') body.until = $('disarm-until').value.trim();
      post('/v1/ha/disarm', body).then(function () { said('disarmed'); refresh(); }, function (e) { said('disarm', e); });
    });
    refresh();
    setInterval(refresh, REFRESH_MS);
  });
})();
`;
