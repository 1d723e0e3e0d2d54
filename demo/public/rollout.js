// The rollout page: the chat backend's readiness report (GET /api/rollout, the same report
// `chat-identity report` prints) drawn over the last hour in plain SVG, and the switch between
// report, enforce and off (POST /api/rollout/mode). Refreshes every 5 seconds.
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 720;
const HEIGHT = 180;
const PAD = { left: 40, right: 10, top: 10, bottom: 22 };
const COLORS = {
  MISSING_IDENTITY: '#8a94a6',
  MISSING_REQUIRED_FIELD: '#c77dff',
  MALFORMED_IDENTITY: '#f4a261',
  INVALID_SIGNATURE: '#d62828',
  SIGNATURE_EXPIRED: '#e9c46a',
  RATE_LIMITED: '#6d597a',
  KEY_UNAVAILABLE: '#264653',
  SESSION_EXPIRED: '#2a9d8f',
};

function element(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

const plotWidth = WIDTH - PAD.left - PAD.right;
const plotHeight = HEIGHT - PAD.top - PAD.bottom;
const xOf = (i, n) => PAD.left + (i + 0.5) * (plotWidth / n);
const yOf = (fraction) => PAD.top + (1 - fraction) * plotHeight;

/** Axes: horizontal grid lines with labels, and the time labels under the plot. */
function axes(svg, n, step, ticks) {
  for (const [fraction, label] of ticks) {
    svg.append(element('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: yOf(fraction), y2: yOf(fraction), stroke: '#e3e6ec' }));
    svg.append(element('text', { x: PAD.left - 4, y: yOf(fraction) + 3, 'text-anchor': 'end' }, label));
  }
  const unit = step === 60 ? 'min' : 'h';
  for (const i of [0, Math.floor(n / 2), n - 1]) {
    const ago = n - 1 - i;
    svg.append(element('text', { x: xOf(i, n), y: HEIGHT - 6, 'text-anchor': 'middle' }, ago === 0 ? 'now' : `-${ago} ${unit}`));
  }
}

/** The valid share per bucket, as lines over the buckets that had requests. */
function drawShare(timeline) {
  const svg = $('share-chart');
  svg.replaceChildren();
  const n = timeline.requests.length;
  axes(svg, n, timeline.step, [
    [1, '100 %'],
    [0.5, '50 %'],
    [0, '0 %'],
  ]);
  let segment = [];
  const segments = [];
  timeline.requests.forEach((requests, i) => {
    if (requests === 0) {
      if (segment.length) segments.push(segment);
      segment = [];
      return;
    }
    segment.push([xOf(i, n), yOf(timeline.verified[i] / requests)]);
  });
  if (segment.length) segments.push(segment);
  for (const points of segments) {
    const polyline = element('polyline', {
      points: points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '),
      fill: 'none',
      stroke: '#2557d6',
      'stroke-width': 2,
      class: 'share',
    });
    svg.append(polyline);
    for (const [x, y] of points) svg.append(element('circle', { cx: x, cy: y, r: 2, fill: '#2557d6', class: 'share-point' }));
  }
}

/** Failures per bucket, stacked by code. */
function drawFailures(timeline) {
  const svg = $('failure-chart');
  svg.replaceChildren();
  const n = timeline.requests.length;
  const codes = Object.keys(timeline.failures);
  const totals = timeline.requests.map((_, i) => codes.reduce((sum, code) => sum + timeline.failures[code][i], 0));
  const max = Math.max(1, ...totals);
  axes(svg, n, timeline.step, [
    [1, String(max)],
    [0.5, String(Math.round(max / 2))],
    [0, '0'],
  ]);
  const barWidth = Math.max(1, plotWidth / n - 2);
  for (let i = 0; i < n; i++) {
    let stacked = 0;
    for (const code of codes) {
      const count = timeline.failures[code][i];
      if (count === 0) continue;
      const top = yOf((stacked + count) / max);
      const height = yOf(stacked / max) - top;
      const rect = element('rect', {
        x: xOf(i, n) - barWidth / 2,
        y: top,
        width: barWidth,
        height,
        fill: COLORS[code] ?? '#000',
        class: 'failure',
      });
      rect.dataset.code = code;
      rect.append(element('title', {}, `${code}: ${count}`));
      svg.append(rect);
      stacked += count;
    }
  }
  $('legend').replaceChildren(
    ...codes.map((code) => {
      const item = document.createElement('span');
      item.style.setProperty('--swatch', COLORS[code] ?? '#000');
      item.textContent = code;
      return item;
    }),
  );
}

function drawTable(tenant, at) {
  const body = $('failures').querySelector('tbody');
  const expiry = (iso) => `${Date.parse(iso) <= Date.parse(at) ? 'expired' : 'expires'} ${iso.slice(0, 16).replace('T', ' ')} UTC`;
  body.replaceChildren(
    ...tenant.failures.map((line) => {
      const row = document.createElement('tr');
      const keys = line.keys.map((k) => `${k.keyId}${k.expiresAt ? ` (${expiry(k.expiresAt)})` : ''}`).join(', ');
      const diagnosis = line.mistakes.length ? line.mistakes.map((m) => `${m.id}: ${m.title}. ${m.fix}`).join(' ') : line.advice;
      for (const text of [line.code, line.count, `${line.percent} %`, keys, diagnosis]) {
        const cell = document.createElement('td');
        cell.textContent = String(text);
        row.append(cell);
      }
      return row;
    }),
  );
}

async function refresh() {
  const { mode, report } = await (await fetch('/api/rollout')).json();
  for (const input of document.querySelectorAll('input[name=mode]')) input.checked = input.value === String(mode);
  const tenant = report.tenants[0];
  if (!tenant) {
    $('verdict').textContent = 'No chat requests counted yet.';
    $('verdict').className = 'hint';
    return;
  }
  $('verdict').textContent = tenant.summary;
  $('verdict').className = tenant.verdict;
  $('totals').textContent =
    `${tenant.requests} chat requests (${tenant.modes.join(', ')}): ${tenant.validPercent} % valid, ` +
    `${tenant.byProof} by proof and ${tenant.bySession} by session.`;
  drawShare(tenant.timeline);
  drawFailures(tenant.timeline);
  drawTable(tenant, report.at);
}

for (const input of document.querySelectorAll('input[name=mode]')) {
  input.addEventListener('change', async () => {
    const mode = input.value === 'report' ? 'report' : input.value === 'true';
    await fetch('/api/rollout/mode', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode }) });
    await refresh();
  });
}

$('simulate').addEventListener('click', async () => {
  $('simulate').disabled = true;
  try {
    // JSON, though there is nothing to say: the server takes actions as application/json only (no cross-site form).
    await fetch('/api/rollout/simulate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await refresh();
  } finally {
    $('simulate').disabled = false;
  }
});

$('stats-url').textContent = `${location.origin}/api/stats`;
refresh();
setInterval(refresh, 5000);
