// The inspector page: lists the connector's recent requests, shows one, replays it. Text goes in with textContent only.
'use strict';

const state = { selected: null, filters: { host: '', status: '' }, refreshing: false, again: false };
const $ = (selector) => document.querySelector(selector);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

async function getJson(url, init) {
  const res = await fetch(url, { headers: { accept: 'application/json' }, ...init });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

function duration(ms) {
  if (ms === null || ms === undefined) return '…';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

async function refreshList() {
  // One fetch at a time; changes that arrive meanwhile fetch once more afterwards.
  if (state.refreshing) { state.again = true; return; }
  state.refreshing = true;
  try {
    const query = new URLSearchParams();
    if (state.filters.host) query.set('host', state.filters.host);
    if (state.filters.status) query.set('status', state.filters.status);
    let list;
    try {
      list = await getJson(`/api/requests?${query}`);
      $('#filter-error').textContent = '';
    } catch (error) {
      $('#filter-error').textContent = error.message;
      return;
    }
    renderList(list.requests);
  } finally {
    state.refreshing = false;
    if (state.again) { state.again = false; void refreshList(); }
  }
}

function renderList(requests) {
  const body = $('#requests tbody');
  const rows = requests.map((request) => {
    const row = el('tr');
    row.dataset.id = String(request.id);
    if (request.id === state.selected) row.classList.add('selected');
    const first = el('td', request.id);
    if (request.replayOf !== null) first.append(el('span', `replay of #${request.replayOf}`, 'tag'));
    row.append(first, el('td', request.method), el('td', request.host), el('td', request.path, 'path'));
    const status = el('td', request.status ?? (request.state === 'pending' ? '…' : '—'), 'status');
    if (request.status) status.classList.add(`status-${String(request.status)[0]}`);
    if (request.state === 'aborted') status.append(el('span', 'aborted', 'tag'));
    row.append(status, el('td', duration(request.totalMs)));
    row.addEventListener('click', () => void select(request.id));
    return row;
  });
  body.replaceChildren(...rows);
  $('#empty').hidden = requests.length > 0;
  if (requests.length === 0 && (state.filters.host || state.filters.status)) {
    $('#empty').textContent = 'No requests match the filter.';
    $('#empty').hidden = false;
  } else {
    $('#empty').textContent = 'No requests yet. Requests through the tunnel appear here as they arrive.';
  }
}

function renderHeaders(table, headers) {
  const rows = [];
  for (const [name, value] of Object.entries(headers || {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      const row = el('tr');
      row.append(el('th', name), el('td', one));
      rows.push(row);
    }
  }
  if (rows.length === 0) {
    const row = el('tr');
    row.append(el('td', 'none', 'muted'));
    rows.push(row);
  }
  table.querySelector('tbody').replaceChildren(...rows);
}

const HEX_SHOWN = 2048;

function hexDump(base64) {
  const binary = atob(base64);
  const lines = [];
  for (let offset = 0; offset < Math.min(binary.length, HEX_SHOWN); offset += 16) {
    const bytes = [];
    let ascii = '';
    for (let i = offset; i < Math.min(offset + 16, binary.length); i++) {
      const code = binary.charCodeAt(i);
      bytes.push(code.toString(16).padStart(2, '0'));
      ascii += code >= 32 && code < 127 ? binary[i] : '.';
    }
    lines.push(`${offset.toString(16).padStart(6, '0')}  ${bytes.join(' ').padEnd(47)}  ${ascii}`);
  }
  if (binary.length > HEX_SHOWN) lines.push(`… ${binary.length - HEX_SHOWN} more bytes kept`);
  return lines.join('\n');
}

function renderBody(pre, sizeNode, body) {
  const parts = [`${body.size} bytes`];
  if (body.truncated) parts.push(`first ${body.kept} kept`);
  if (body.encoding === 'binary') parts.push('binary');
  sizeNode.textContent = `(${parts.join(', ')})`;
  if (body.size === 0) pre.textContent = '(empty)';
  else pre.textContent = body.encoding === 'text' ? body.text : hexDump(body.base64);
}

async function select(id) {
  state.selected = id;
  for (const row of document.querySelectorAll('#requests tbody tr')) row.classList.toggle('selected', row.dataset.id === String(id));
  let request;
  try {
    request = await getJson(`/api/requests/${id}`);
  } catch (error) {
    $('#detail').hidden = false;
    $('#detail-title').textContent = error.message;
    return;
  }
  if (state.selected !== id) return;
  $('#detail').hidden = false;
  $('#detail-title').textContent = `#${request.id} ${request.method} ${request.host}${request.path}`;
  const meta = [
    `status ${request.status ?? (request.state === 'pending' ? 'pending' : 'none')}`,
    `started ${new Date(request.startedAt).toLocaleTimeString()}`,
    `first byte ${duration(request.firstByteMs)}`,
    `total ${duration(request.totalMs)}`,
    `rule #${request.rule + 1}`,
    `ray ${request.ray}`,
  ];
  if (request.replayOf !== null) meta.push(`replay of #${request.replayOf}`);
  if (request.state === 'aborted') meta.push('aborted before the end');
  $('#detail-meta').textContent = meta.join(' · ');
  const replay = $('#replay');
  replay.disabled = !request.replayable;
  replay.title = request.replayable ? 'Send this request to the origin again' : 'The request body was not kept in full, so it cannot be replayed';
  replay.dataset.id = String(request.id);
  renderHeaders($('#request-headers'), request.request.headers);
  renderBody($('#request-body'), $('#request-body-size'), request.request.body);
  renderHeaders($('#response-headers'), request.response.headers);
  renderBody($('#response-body'), $('#response-body-size'), request.response.body);
  // Still running (a replay shown at once, a long response): look again until it has ended.
  if (request.state === 'pending') setTimeout(() => { if (state.selected === id) void select(id); }, 250);
}

async function replay() {
  const id = Number($('#replay').dataset.id);
  const note = $('#replay-note');
  note.textContent = `Replaying #${id}…`;
  $('#replay').disabled = true;
  try {
    const replayed = await getJson(`/api/requests/${id}/replay`, { method: 'POST' });
    note.textContent = `Replayed #${id} as #${replayed.id}: status ${replayed.status ?? 'pending'}`;
    await refreshList();
    await select(replayed.id);
  } catch (error) {
    note.textContent = `Replay failed: ${error.message}`;
    $('#replay').disabled = false;
  }
}

function watch() {
  const live = $('#live');
  const events = new EventSource('/api/events');
  let pendingSelected = false;
  events.addEventListener('open', () => {
    live.textContent = 'live';
    live.classList.remove('off');
    void refreshList();
  });
  events.addEventListener('error', () => {
    live.textContent = 'reconnecting';
    live.classList.add('off');
  });
  events.addEventListener('change', (event) => {
    void refreshList();
    // A request that was still running when it was opened: show its end too.
    if (Number(event.data) === state.selected && !pendingSelected) {
      pendingSelected = true;
      setTimeout(() => { pendingSelected = false; if (state.selected !== null) void select(state.selected); }, 100);
    }
  });
}

function start() {
  const host = $('#filter-host');
  const status = $('#filter-status');
  const apply = () => {
    state.filters = { host: host.value.trim(), status: status.value.trim() };
    void refreshList();
  };
  host.addEventListener('input', apply);
  status.addEventListener('input', apply);
  $('#filters').addEventListener('submit', (event) => { event.preventDefault(); apply(); });
  $('#replay').addEventListener('click', () => void replay());
  void refreshList();
  watch();
}

start();
