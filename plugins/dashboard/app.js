// The dashboard's script: follows /dashboard/events (one JSON snapshot a second) and redraws the page from it.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';

/** An element with attributes and children (strings become text): no markup is ever parsed, so nothing needs escaping. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  el.append(...children.flat());
  return el;
}

const ms = (value) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
const sum = (values) => values.reduce((a, b) => a + b, 0);
const since = (iso) => {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
};

/** PoPs on a circle, a line per measured link labelled with its round trip. */
function drawMap(pops, self) {
  const size = pops.length > 1 ? 260 : 60;
  const r = pops.length > 1 ? 95 : 0;
  const at = new Map(pops.map((pop, i) => {
    const angle = (2 * Math.PI * i) / pops.length - Math.PI / 2;
    return [pop.name, { x: size / 2 + r * Math.cos(angle), y: size / 2 + r * Math.sin(angle) }];
  }));
  const svg = s('svg', { viewBox: `0 0 ${size} ${size}`, width: size, height: size, class: 'map', role: 'img', 'aria-label': 'PoPs and their links' });
  const drawn = new Set();
  for (const pop of pops) {
    for (const [to, rtt] of Object.entries(pop.links)) {
      const a = at.get(pop.name);
      const b = at.get(to);
      const key = [pop.name, to].sort().join(' ');
      if (!a || !b || drawn.has(key)) continue;
      drawn.add(key);
      const back = pops.find((p) => p.name === to)?.links[pop.name];
      const label = back === undefined || Math.abs(back - rtt) < 0.5 ? ms(rtt) : `${ms(rtt)} / ${ms(back)}`;
      svg.append(s('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: 'link' }));
      // The label sits just outside the line, away from the middle of the map, so labels of two links do not meet.
      const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
      const away = { x: mid.x - size / 2, y: mid.y - size / 2 };
      const length = Math.hypot(away.x, away.y) || 1;
      const dx = away.x / length;
      const anchor = dx > 0.3 ? 'start' : dx < -0.3 ? 'end' : 'middle';
      svg.append(s('text', { x: mid.x + dx * 8, y: mid.y + (away.y / length) * 8 + 3, class: 'rtt', 'text-anchor': anchor }, label));
    }
  }
  for (const pop of pops) {
    const { x, y } = at.get(pop.name);
    svg.append(s('circle', { cx: x, cy: y, r: 18, class: pop.name === self ? 'pop self' : 'pop' }));
    svg.append(s('text', { x, y: y + 4, class: pop.name === self ? 'pop-name self' : 'pop-name', 'text-anchor': 'middle' }, pop.name));
  }
  return svg;
}

function renderNetwork(snap) {
  document.getElementById('network-note').textContent = snap.network
    ? `${snap.pops.length} PoPs in this network; round trips as each PoP measures its links.`
    : 'A single edge: no edge.network is configured, so this PoP has no links.';
  document.getElementById('map').replaceChildren(drawMap(snap.pops, snap.pop));
  document.querySelector('#pops tbody').replaceChildren(
    ...snap.pops.map((pop) => {
      const links = Object.entries(pop.links).sort(([a], [b]) => a.localeCompare(b));
      return h('tr', { 'data-pop': pop.name, class: pop.name === snap.pop ? 'self' : undefined },
        h('td', {}, pop.name, pop.name === snap.pop ? h('span', { class: 'muted' }, ' (this PoP)') : null),
        h('td', {}, pop.region || '—'),
        h('td', {}, links.length ? links.map(([to, rtt]) => h('span', { class: 'chip', 'data-link': `${pop.name}-${to}` }, `${to} ${ms(rtt)}`)) : h('span', { class: 'muted' }, 'none')));
    }),
  );
  const names = snap.pops.map((pop) => pop.name);
  const section = document.getElementById('routes-section');
  section.hidden = !snap.network || names.length < 2;
  if (section.hidden) return;
  document.querySelector('#routes thead').replaceChildren(h('tr', {}, h('th', {}, 'from \\ to'), names.map((to) => h('th', {}, to))));
  document.querySelector('#routes tbody').replaceChildren(
    ...names.map((from) => h('tr', {}, h('th', {}, from), names.map((to) => {
      if (to === from) return h('td', { class: 'muted' }, '—');
      const route = (snap.routes[from] || {})[to];
      if (!route) return h('td', { class: 'error' }, 'unreachable');
      return h('td', { 'data-route': `${from}-${to}` }, route.path.join(' › '), h('span', { class: 'muted' }, ` ${ms(route.rttMs)}`));
    }))),
  );
}

/** Requests (and errors, in red) per second over the window, as two filled areas. */
function drawChart(requests, errors) {
  const width = requests.length;
  const height = 60;
  const max = Math.max(1, ...requests);
  const area = (values) => {
    let d = `M0 ${height}`;
    values.forEach((v, i) => { d += ` L${i} ${height - (v / max) * (height - 4)} L${i + 1} ${height - (v / max) * (height - 4)}`; });
    return `${d} L${width} ${height} Z`;
  };
  return s('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', class: 'chart', role: 'img', 'aria-label': 'requests and errors per second' },
    s('path', { d: area(requests), class: 'requests' }),
    s('path', { d: area(errors), class: 'errors' }));
}

function renderTunnels(snap) {
  document.getElementById('tunnels-note').textContent = snap.tunnels.length
    ? `Requests that landed at ${snap.pop}, per second over the last ${Math.round(snap.windowSeconds / 60)} minutes.${snap.moreTunnels ? ` ${snap.moreTunnels} more tunnels are not listed.` : ''}`
    : 'No tunnels yet (burrow tunnel create NAME).';
  document.getElementById('tunnels').replaceChildren(
    ...snap.tunnels.map((tunnel) => {
      const complete = tunnel.requests.slice(-10);
      const rate = sum(complete) / complete.length;
      const errorRate = sum(tunnel.errors.slice(-10)) / complete.length;
      const connections = tunnel.connectors.reduce((n, c) => n + c.connections.length, 0);
      const peak = Math.max(0, ...tunnel.requests);
      return h('article', { class: 'tunnel', 'data-tunnel': tunnel.id, 'data-name': tunnel.name },
        h('header', {},
          h('h3', {}, tunnel.name, h('span', { class: connections ? 'badge up' : 'badge down' }, connections ? 'online' : 'offline')),
          h('p', { class: 'muted' }, `${tunnel.zone} · ${tunnel.id}`),
          h('p', { class: 'hostnames' }, tunnel.hostnames.length ? tunnel.hostnames.join(', ') : 'no hostnames routed')),
        h('dl', { class: 'stats' },
          h('div', {}, h('dt', {}, 'req/s (10 s)'), h('dd', { class: 'rate' }, rate.toFixed(1))),
          h('div', {}, h('dt', {}, 'errors/s'), h('dd', { class: errorRate > 0 ? 'error-rate error' : 'error-rate' }, errorRate.toFixed(1))),
          h('div', {}, h('dt', {}, `requests (${Math.round(snap.windowSeconds / 60)} min)`), h('dd', { class: 'requests-total' }, String(sum(tunnel.requests)))),
          h('div', {}, h('dt', {}, `errors (${Math.round(snap.windowSeconds / 60)} min)`), h('dd', { class: 'errors-total' }, String(sum(tunnel.errors)))),
          h('div', {}, h('dt', {}, 'connectors'), h('dd', { class: 'connectors-count' }, String(tunnel.connectors.length))),
          h('div', {}, h('dt', {}, 'connections'), h('dd', { class: 'connections-count' }, String(connections)))),
        h('figure', {}, drawChart(tunnel.requests, tunnel.errors), h('figcaption', { class: 'muted' }, `${Math.round(snap.windowSeconds / 60)} min ago … now · peak ${peak} req/s · errors in red`)),
        tunnel.connectors.length
          ? h('table', { class: 'connections' },
            h('thead', {}, h('tr', {}, ['connector', 'version', 'connection', 'PoP', 'index', 'address', 'up', 'in flight'].map((t) => h('th', {}, t)))),
            h('tbody', {}, tunnel.connectors.flatMap((connector) => connector.connections.map((c) =>
              h('tr', { class: 'connection', 'data-connection': c.id, 'data-connector': connector.id },
                h('td', { class: 'mono' }, connector.id.slice(0, 8)),
                h('td', {}, connector.version),
                h('td', { class: 'mono' }, c.id.slice(0, 8)),
                h('td', {}, c.pop),
                h('td', {}, String(c.index)),
                h('td', { class: 'mono' }, c.address),
                h('td', {}, since(c.connectedAt)),
                h('td', {}, c.inFlight === undefined ? '—' : String(c.inFlight)))))))
          : h('p', { class: 'muted' }, 'No connector is connected.'));
    }),
  );
}

function setLive(on, text) {
  const el = document.getElementById('live');
  el.textContent = text;
  el.className = on ? 'live on' : 'live off';
}

function follow() {
  const events = new EventSource('/dashboard/events');
  events.onmessage = (event) => {
    const snap = JSON.parse(event.data);
    renderNetwork(snap);
    renderTunnels(snap);
    setLive(true, `live · ${new Date(snap.at).toLocaleTimeString()}`);
  };
  events.addEventListener('signed-out', () => location.assign('/dashboard'));
  events.onerror = () => {
    // A refused stream (the session ended) is not retried by the browser: back to the sign-in page.
    if (events.readyState === EventSource.CLOSED) location.assign('/dashboard');
    else setLive(false, 'reconnecting');
  };
}

follow();
