// The operator's console client: reads the JSON under /admin (the session cookie authorizes it) and
// draws the pages. Plain browser JavaScript, no build step, no inline script (the CSP forbids it).
/* global window, document, location, fetch, URLSearchParams, Node */
'use strict';

const SVG = 'http://www.w3.org/2000/svg';

/** Creates an element with attributes and children (strings become text, never HTML). */
function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {}))
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat())
    if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** GETs JSON under /admin; a lost session goes back to the login form. */
async function getJson(path) {
  const res = await fetch(`/admin${path}`, {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  });
  if (res.status === 401) {
    location.href = '/console';
    throw new Error('signed out');
  }
  const body = await res.json();
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

const money = (cents) => `R$ ${(cents / 100).toFixed(2)}`;
const pct = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);

/** A number tile; `data-key` and `data-value` let tests read it. */
function tile(key, label, shown, value) {
  return h(
    'div',
    { class: 'tile', 'data-key': key, 'data-value': value },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, shown),
  );
}

/** A vertical bar chart of `series` (label, values per key); keys after the first are lighter. */
function columnChart(rows, keys, height = 160) {
  const width = Math.max(320, rows.length * keys.length * 14 + rows.length * 10 + 40);
  const max = Math.max(1, ...rows.flatMap((r) => keys.map((k) => r[k])));
  const svg = h('svg:svg', {
    class: 'chart',
    width,
    height: height + 30,
    viewBox: `0 0 ${width} ${height + 30}`,
    role: 'img',
  });
  rows.forEach((r, i) => {
    const x0 = 30 + i * (keys.length * 14 + 10);
    keys.forEach((k, j) => {
      const bh = Math.round((r[k] / max) * height);
      svg.append(
        h(
          'svg:rect',
          { class: j === 0 ? 'bar' : 'bar2', x: x0 + j * 14, y: height - bh + 5, width: 12, height: bh },
          h('svg:title', {}, `${r.label} ${k}: ${r[k]}`),
        ),
      );
    });
    if (rows.length <= 31 && (rows.length <= 10 || i % 5 === 0))
      svg.append(h('svg:text', { x: x0, y: height + 22 }, r.label.slice(5)));
  });
  svg.append(h('svg:text', { x: 0, y: 14 }, String(max)));
  return svg;
}

/** A horizontal bar chart of the funnel's steps. */
function barChart(steps) {
  const max = Math.max(1, ...steps.map((s) => s.count));
  const rowH = 22;
  const svg = h('svg:svg', {
    class: 'chart',
    width: 640,
    height: steps.length * rowH + 10,
    role: 'img',
    'data-chart': 'funnel',
  });
  steps.forEach((s, i) => {
    const w = Math.round((s.count / max) * 380);
    svg.append(h('svg:text', { x: 0, y: i * rowH + 15 }, s.step));
    svg.append(h('svg:rect', { class: 'bar', x: 170, y: i * rowH + 4, width: w, height: 14 }));
    svg.append(
      h(
        'svg:text',
        { x: 176 + w, y: i * rowH + 15 },
        `${s.count}${s.drop_from_previous === null ? '' : `  (−${pct(s.drop_from_previous)})`}`,
      ),
    );
  });
  return svg;
}

/** The `botflow compile --format mermaid` text with each step's count, drop and the highlighted step. */
function annotateMermaid(text, steps, current) {
  const byStep = new Map((steps ?? []).map((s) => [s.step, s]));
  let currentId = null;
  const lines = text
    .trimEnd()
    .split('\n')
    .map((line) => {
      const m = /^(\s*)state "([^"]*)" as (\w+)$/.exec(line);
      if (m === null) return line;
      if (m[2] === current) currentId = m[3];
      const s = byStep.get(m[2]);
      if (s === undefined) return line;
      const drop =
        s.drop_from_previous === null ? '' : `, drop ${pct(s.drop_from_previous).replace('%', ' pct')}`;
      return `${m[1]}state "${m[2]}, ${s.count} entered${drop}" as ${m[3]}`;
    });
  if (currentId !== null)
    lines.push(
      '  classDef current fill:#fde68a,stroke:#b45309,stroke-width:3px',
      `  class ${currentId} current`,
    );
  return `${lines.join('\n')}\n`;
}

let diagrams = 0;
/** Draws mermaid text into a new element. */
async function drawDiagram(text) {
  const box = h('div', { class: 'diagram', 'data-diagram': '' });
  const { svg } = await window.mermaid.render(`diagram${++diagrams}`, text);
  box.innerHTML = svg; // mermaid's own output, sanitized by it (securityLevel strict)
  return box;
}

function daysPicker(days, onPick) {
  const select = h(
    'select',
    { id: 'days' },
    [1, 7, 30].map((d) =>
      h(
        'option',
        { value: d, ...(d === days ? { selected: '' } : {}) },
        `last ${d} day${d === 1 ? '' : 's'}`,
      ),
    ),
  );
  select.addEventListener('change', () => onPick(Number(select.value)));
  return select;
}

async function showOverview(main, params) {
  const days = Number(params.get('days') ?? 7);
  const o = await getJson(`/overview?days=${days}`);
  main.replaceChildren(
    h(
      'div',
      { class: 'controls' },
      h('h2', {}, 'Overview'),
      daysPicker(days, (d) => (location.hash = `#overview?days=${d}`)),
    ),
    h(
      'div',
      { class: 'tiles', id: 'overview' },
      tile('clicks', 'Ad clicks', o.clicks, o.clicks),
      tile('starts', '/start', o.starts, o.starts),
      tile('charges', 'PIX charges', o.charges, o.charges),
      tile('paid', 'Paid', o.paid, o.paid),
      tile('revenue_cents', 'Revenue', money(o.revenue_cents), o.revenue_cents),
      tile('conversion_rate', 'Conversion (paid / starts)', pct(o.conversion_rate), o.conversion_rate ?? ''),
      tile(
        'tracked_purchase_share',
        'Purchases from tracked clicks',
        pct(o.tracked_purchase_share),
        o.tracked_purchase_share ?? '',
      ),
      tile('meta_events_sent', 'Meta events sent', o.meta_events_sent, o.meta_events_sent),
      tile('meta_events_dead', 'Meta events dead', o.meta_events_dead, o.meta_events_dead),
    ),
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Per day: starts (dark), paid (light)'),
      columnChart(
        o.series.map((d) => ({ label: d.day, starts: d.starts, paid: d.paid })),
        ['starts', 'paid'],
      ),
    ),
  );
}

async function showFunnel(main, params) {
  const { versions } = await getJson('/flow-versions');
  const days = Number(params.get('days') ?? 30);
  const chosen = params.get('flow') ?? versions[0]?.flow_id;
  const version = Number(params.get('version') ?? versions.find((v) => v.flow_id === chosen)?.version);
  const picker = h(
    'select',
    { id: 'version' },
    versions.map((v) => {
      const value = `${v.flow_id}/${v.version}`;
      return h(
        'option',
        { value, ...(v.flow_id === chosen && v.version === version ? { selected: '' } : {}) },
        `${v.name} (${v.flow_id}) v${v.version}`,
      );
    }),
  );
  const go = (d) => {
    const [f, ver] = picker.value.split('/');
    location.hash = `#funnel?flow=${encodeURIComponent(f)}&version=${ver}&days=${d}`;
  };
  picker.addEventListener('change', () => go(days));
  const controls = h('div', { class: 'controls' }, h('h2', {}, 'Funnel'), picker, daysPicker(days, go));
  if (chosen === undefined)
    return main.replaceChildren(controls, h('p', { class: 'muted' }, 'No flow is published yet.'));
  const f = await getJson(`/flows/${encodeURIComponent(chosen)}/versions/${version}/funnel?days=${days}`);
  const download = h(
    'a',
    {
      href: `/admin/flows/${encodeURIComponent(chosen)}/versions/${version}/machine`,
      download: `${chosen}-v${version}.machine.json`,
      id: 'machine-download',
    },
    'Download the machine JSON (for Stately)',
  );
  main.replaceChildren(
    controls,
    download,
    await drawDiagram(annotateMermaid(f.mermaid, f.steps, null)),
    h('div', { class: 'card' }, h('h2', {}, 'Conversations entering each step'), barChart(f.steps)),
    h(
      'table',
      { id: 'funnel-steps' },
      h(
        'tr',
        {},
        h('th', {}, 'step'),
        h('th', {}, 'type'),
        h('th', { class: 'num' }, 'entered'),
        h('th', { class: 'num' }, 'drop from previous'),
      ),
      f.steps.map((s) =>
        h(
          'tr',
          { 'data-step': s.step },
          h('td', {}, s.step),
          h('td', {}, s.type),
          h('td', { class: 'num' }, s.count),
          h('td', { class: 'num' }, pct(s.drop_from_previous)),
        ),
      ),
    ),
  );
}

async function showCampaigns(main, params) {
  const days = Number(params.get('days') ?? 30);
  const c = await getJson(`/campaigns?days=${days}`);
  const row = (name, r) =>
    h(
      'tr',
      {},
      h('td', {}, name),
      h('td', { class: 'num' }, r.clicks ?? '–'),
      h('td', { class: 'num' }, r.starts),
      h('td', { class: 'num' }, r.paid),
      h('td', { class: 'num' }, money(r.revenue_cents)),
    );
  const head = (first) =>
    h(
      'tr',
      {},
      h('th', {}, first),
      ['clicks', 'starts', 'paid', 'revenue'].map((k) => h('th', { class: 'num' }, k)),
    );
  main.replaceChildren(
    h(
      'div',
      { class: 'controls' },
      h('h2', {}, 'Campaigns'),
      daysPicker(days, (d) => (location.hash = `#campaigns?days=${d}`)),
    ),
    h(
      'table',
      { id: 'links' },
      head('tracking link (campaign)'),
      c.links.map((l) => row(`${l.slug}${l.campaign ? ` (${l.campaign})` : ''}`, l)),
    ),
    h(
      'table',
      { id: 'utm' },
      head('utm_campaign'),
      c.utm_campaigns.map((u) => row(u.utm_campaign ?? '(none)', u)),
    ),
  );
}

async function showBuyer(main, params) {
  const { versions } = await getJson('/flow-versions');
  const bots = [...new Set(versions.map((v) => v.bot_id))];
  const botId = params.get('bot') ?? bots[0] ?? '';
  const userId = params.get('user') ?? '';
  const bot = h(
    'select',
    { id: 'bot' },
    bots.map((b) => h('option', { value: b, ...(b === botId ? { selected: '' } : {}) }, b)),
  );
  const user = h('input', {
    id: 'user',
    placeholder: 'Telegram user id',
    value: userId,
    inputmode: 'numeric',
  });
  const form = h(
    'form',
    { class: 'controls', id: 'buyer-form' },
    h('h2', {}, 'Buyer'),
    bot,
    user,
    h('button', { type: 'submit' }, 'Show'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#buyer?bot=${encodeURIComponent(bot.value)}&user=${encodeURIComponent(user.value.trim())}`;
  });
  if (userId === '') return main.replaceChildren(form);
  const b = await getJson(`/buyers/${encodeURIComponent(botId)}/${encodeURIComponent(userId)}`);
  const parts = [
    form,
    h(
      'div',
      { class: 'tiles', id: 'buyer' },
      tile('flow', 'Flow', b.flow_id ?? '–', b.flow_id ?? ''),
      tile('flow_version', 'Version', b.flow_version ?? '–', b.flow_version ?? ''),
      tile('current_step', 'Current step', b.current_step ?? '(none)', b.current_step ?? ''),
      tile('campaign', 'Came from', b.tracking?.slug ?? 'no tracked click', b.tracking?.slug ?? ''),
    ),
  ];
  if (b.flow_id !== null) {
    const f = await getJson(
      `/flows/${encodeURIComponent(b.flow_id)}/versions/${b.flow_version}/funnel?days=30`,
    );
    parts.push(await drawDiagram(annotateMermaid(f.mermaid, [], b.current_step)));
  }
  parts.push(
    h('h2', {}, 'Pending timers'),
    h(
      'table',
      { id: 'timers' },
      h('tr', {}, h('th', {}, 'timer'), h('th', {}, 'due')),
      b.timers.map((t) => h('tr', {}, h('td', {}, t.timer_id), h('td', {}, t.due_at))),
    ),
    h('h2', {}, 'Orders'),
    h(
      'table',
      { id: 'orders' },
      h(
        'tr',
        {},
        ['order', 'step', 'status', 'amount', 'access', 'paid at'].map((k) => h('th', {}, k)),
      ),
      b.orders.map((o) =>
        h(
          'tr',
          {},
          h('td', {}, o.flow_order || o.order_id),
          h('td', {}, o.step),
          h('td', {}, o.status),
          h('td', { class: 'num' }, money(o.amount_cents)),
          h('td', {}, o.access ?? '–'),
          h('td', {}, o.paid_at ?? '–'),
        ),
      ),
    ),
    h('h2', {}, 'Messages botflow sent'),
    h(
      'table',
      { id: 'messages' },
      h(
        'tr',
        {},
        ['at', 'step', 'kind', 'text', 'delivery'].map((k) => h('th', {}, k)),
      ),
      b.messages.map((m) =>
        h(
          'tr',
          {},
          h('td', {}, m.created_at),
          h('td', {}, m.step ?? ''),
          h('td', {}, m.type),
          h('td', {}, m.text),
          h('td', {}, m.status),
        ),
      ),
    ),
  );
  main.replaceChildren(...parts);
}

const PAGES = { overview: showOverview, funnel: showFunnel, campaigns: showCampaigns, buyer: showBuyer };

async function route() {
  const [name, query] = (location.hash.slice(1) || 'overview').split('?');
  const page = PAGES[name] ?? showOverview;
  for (const a of document.querySelectorAll('header a'))
    a.classList.toggle('active', a.dataset.page === name);
  const main = document.getElementById('main');
  main.setAttribute('aria-busy', 'true');
  try {
    await page(main, new URLSearchParams(query ?? ''));
  } catch (error) {
    main.replaceChildren(h('p', { class: 'error' }, String(error.message ?? error)));
  }
  main.dataset.page = name in PAGES ? name : 'overview';
  main.setAttribute('aria-busy', 'false');
}

if (document.body.classList.contains('login')) {
  if (new URLSearchParams(location.search).has('failed')) document.getElementById('failed').hidden = false;
} else {
  window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral' });
  window.addEventListener('hashchange', route);
  route();
}
