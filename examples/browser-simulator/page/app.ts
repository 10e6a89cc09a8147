/**
 * The simulator page: a fleet of devices (run in workers, page/worker.ts) talking MQTT over WebSockets to
 * each other and HTTP to the ledger; here, on the main thread, only what is drawn and clicked: a table of
 * every device, a detail view, controls for the fleet and its faults, charts, an event log, and an export
 * of the run. `window.sim` exposes the numbers (the tests read them).
 */
import { fromHex, toHex } from 'edgepay';
import { decodeChain, decodeCredential } from 'edgepay/identity';
import { Chart } from './charts.js';
import type { PageConfig } from './config.js';
import type { SimEvent } from './context.js';
import { Fleet, type Reconciliation } from './fleet.js';
import { DeviceTable, rowOf } from './table.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

const cfg = (await (await fetch('./config.json')).json()) as PageConfig;
const fleet = new Fleet(cfg);
const sim = {
  ready: false,
  fps: 0,
  longestFrameMs: 0,
  paymentsPerSecond: 0,
  payments: 0,
  records: 0,
  outbox: 0,
  balances: {} as Record<string, string>,
  devices: [] as {
    name: string;
    credential: string;
    outbox: number;
    amount: string;
    online: string;
    disputes: number;
    role: string;
    channels: number;
  }[],
  reconciliation: undefined as Reconciliation | undefined,
  errors: [] as string[],
};
(window as unknown as { sim: typeof sim; fleet: Fleet }).sim = sim;
(window as unknown as { fleet: Fleet }).fleet = fleet;
window.addEventListener('error', (e) => sim.errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => sim.errors.push(String((e.reason as Error)?.message ?? e.reason)));

// The frame rate, for the header and the benchmark: frames drawn a second and the longest gap between two.
let frames = 0;
let lastFrame = performance.now();
let longest = 0;
const frame = (t: number) => {
  frames++;
  longest = Math.max(longest, t - lastFrame);
  lastFrame = t;
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);

/** Runs a control, showing its failure in the log rather than losing it. */
const act = (what: string, f: () => Promise<unknown> | unknown) => async () => {
  try {
    await f();
  } catch (e) {
    fleet.event({ kind: 'error', text: `${what}: ${(e as Error).message}` });
  }
};

// Page-wide links and pay settings.
for (const link of Fleet.links()) {
  const box = $<HTMLInputElement>(`page-${link}`);
  box.checked = !fleet.isOffline('page', link);
  box.addEventListener(
    'change',
    act(`page ${link}`, () => fleet.setOffline('page', link, !box.checked)),
  );
}
const rate = $<HTMLInputElement>('rate');
const min = $<HTMLInputElement>('min');
const max = $<HTMLInputElement>('max');
rate.value = String(fleet.settings.rate);
min.value = String(fleet.settings.min);
max.value = String(fleet.settings.max);
$('apply').addEventListener(
  'click',
  act('settings', () => {
    const r = Number(rate.value);
    const lo = Math.floor(Number(min.value));
    const hi = Math.floor(Number(max.value));
    if (!(r > 0 && r <= 50) || !(lo >= 1 && hi >= lo && hi <= 1_000))
      throw new Error('rate is 0 to 50 a second; amounts 1 to 1000, min ≤ max');
    fleet.setSettings({ rate: r, min: lo, max: hi });
  }),
);
$('add').addEventListener(
  'click',
  act('add', () =>
    fleet.add($<HTMLSelectElement>('add-kind').value, Math.max(1, Math.min(100, Number($<HTMLInputElement>('add-count').value) || 1))),
  ),
);

// Parties: balance, links, revoke.
const partyRows = new Map<string, HTMLTableRowElement>();
for (const p of cfg.parties) {
  const tr = $<HTMLTableElement>('parties').insertRow();
  tr.dataset.party = p.id;
  tr.innerHTML = `<td>${esc(p.id)}</td><td>${esc(p.device.category)}</td><td class="num" data-balance></td>
    <td><label><input type="checkbox" data-link="broker" checked> broker</label> <label><input type="checkbox" data-link="ledger" checked> ledger</label></td>
    <td><button type="button" data-act="revoke-party">revoke party</button></td>`;
  for (const box of Array.from(tr.querySelectorAll<HTMLInputElement>('input[data-link]'))) {
    const link = box.dataset.link as 'broker' | 'ledger';
    box.checked = !fleet.isOffline(p.id, link);
    box.addEventListener(
      'change',
      act(`${p.id} ${link}`, () => fleet.setOffline(p.id, link, !box.checked)),
    );
  }
  tr.querySelector('button')?.addEventListener(
    'click',
    act('revoke party', () => fleet.revokeParty(p.id)),
  );
  partyRows.set(p.id, tr);
}

// The device table and its controls.
const table = new DeviceTable($<HTMLTableElement>('devices'), {
  text: $<HTMLInputElement>('filter'),
  role: $<HTMLSelectElement>('filter-role'),
  status: $<HTMLSelectElement>('filter-status'),
});
let selected: string | undefined;
$('devices').addEventListener('click', (e) => {
  const b = (e.target as HTMLElement).closest('button');
  const name = b?.dataset.device;
  if (!b || !name) return;
  const controls: Record<string, () => Promise<unknown> | unknown> = {
    detail: () => {
      selected = name;
      renderDetail();
    },
    broker: () => fleet.setOffline(name, 'broker', !fleet.isOffline(name, 'broker')),
    ledger: () => fleet.setOffline(name, 'ledger', !fleet.isOffline(name, 'ledger')),
    restart: () => fleet.restart(name),
    clone: () => fleet.clone(name),
    revoke: () => fleet.revokeDevice(name),
    expire: () => fleet.expire(name),
    remove: () => fleet.remove(name),
  };
  void act(b.dataset.act ?? '', controls[b.dataset.act ?? ''] ?? (() => {}))();
});

/** The selected device: its decoded chain, channels with their newest vouchers and ticks, outbox, receipts. */
async function renderDetail(): Promise<void> {
  const spec = fleet.specs.find((x) => x.name === selected);
  const v = spec && fleet.views.get(spec.name);
  const el = $('detail');
  if (!spec || !v) {
    el.innerHTML = '<p class="hint">Pick "detail" on a device.</p>';
    return;
  }
  const d = await fleet.detail(spec.name).catch(() => undefined);
  const creds = decodeChain(fromHex(spec.chain)).map((b) => decodeCredential(b));
  const claims = creds
    .map((c) => {
      const cl = c.claims;
      const limits = Object.entries(cl.limits)
        .map(([k, x]) => `${k} ${x}`)
        .join(', ');
      return `<tr><td>${cl.role}</td><td>${esc(cl.subject)}</td><td>${esc(cl.issuer)}</td><td>${esc(cl.category)}</td>
        <td>${esc((cl.counterparties ?? []).join(', '))}</td><td>${esc(limits || 'as its party')}</td>
        <td>${new Date(cl.notBefore * 1000).toISOString().slice(0, 19)}</td><td>${new Date(cl.expiresAt * 1000).toISOString().slice(0, 19)}</td>
        <td><code>${toHex(c.subjectKid).slice(0, 16)}</code></td></tr>`;
    })
    .join('');
  const channels = (d?.channels ?? [])
    .map(
      (c) =>
        `<tr><td><code>${c.id.slice(0, 12)}</code></td><td>${c.state}</td><td>${c.seq}</td><td class="num">${c.cumulative}</td>
        <td>${c.ticks}</td><td><code>${c.voucher}…</code> (${c.voucherBytes} B)</td><td>${new Date(c.updatedAt * 1000).toISOString().slice(11, 19)}</td></tr>`,
    )
    .join('');
  const outbox = (d?.outbox ?? []).map((p) => `<li><code>${p.id.slice(0, 16)}</code> ${p.bytes} B</li>`).join('');
  const receipts = (d?.receipts ?? [])
    .map(
      (r) =>
        `<li>${new Date(r.at).toISOString().slice(11, 19)} <code>${r.recordId.slice(0, 16)}</code> ${r.status} ${r.posted}${r.code ? ` ${r.code}` : ''}</li>`,
    )
    .join('');
  const lists = v.lists.map((l) => `<li>${esc(l.authority)}: version ${l.version}, ${l.keys} keys revoked</li>`).join('');
  el.innerHTML = `<h3>${esc(spec.name)} <small>${esc(spec.address.slice(0, 16))}… · credential ${v.credential.status}</small></h3>
    ${v.credential.detail ? `<p class="bad">${esc(v.credential.detail)}</p>` : ''}
    ${v.lastError ? `<p class="hint">last error: ${esc(v.lastError)}</p>` : ''}
    <h4>Credential chain (CWT claims)</h4><table><tr><th>role</th><th>subject</th><th>issuer</th><th>category</th><th>counterparties</th><th>limits</th><th>not before</th><th>expires</th><th>cnf kid</th></tr>${claims}</table>
    <h4>Channels: newest voucher and ticks</h4><table><tr><th>id</th><th>state</th><th>seq</th><th>cumulative</th><th>ticks</th><th>voucher</th><th>updated</th></tr>${channels}</table>
    <h4>Outbox (${v.outbox})</h4><ul>${outbox || '<li>empty</li>'}</ul>
    <h4>Receipts (newest first)</h4><ul>${receipts || '<li>none yet</li>'}</ul>
    <h4>Revocation lists held</h4><ul>${lists || '<li>none yet</li>'}</ul>`;
}

// The event log: filtered by kind and device, newest first.
const kinds = $<HTMLSelectElement>('log-kind');
for (const k of Fleet.kinds()) kinds.add(new Option(k, k));
let logDirty = true;
fleet.onEvent.add(() => {
  logDirty = true;
});
function renderLog(): void {
  if (!logDirty) return;
  logDirty = false;
  const k = kinds.value;
  const dev = $<HTMLInputElement>('log-device').value.trim();
  const lines: string[] = [];
  for (let i = fleet.events.length - 1; i >= 0 && lines.length < 300; i--) {
    const e = fleet.events[i] as SimEvent;
    if ((k && e.kind !== k) || (dev && e.device !== dev)) continue;
    lines.push(
      `<li class="${e.kind}"><time>${new Date(e.at).toISOString().slice(11, 23)}</time> <b>${e.kind}</b> ${e.device ? `<i>${esc(e.device)}</i> ` : ''}${esc(e.text)}</li>`,
    );
  }
  $('log').innerHTML = lines.join('');
}
kinds.addEventListener('change', () => {
  logDirty = true;
});
$('log-device').addEventListener('input', () => {
  logDirty = true;
});

// Stop, reconcile, export.
function showReconciliation(r: Reconciliation): void {
  sim.reconciliation = r;
  $('reconciliation').innerHTML = `<h3>Reconciliation ${r.ok ? '<span class="ok">OK</span>' : '<span class="bad">MISMATCH</span>'}</h3>
    <p>Each party's balance at the ledger against its balance when this page's fleet started plus what its
    devices' newest vouchers say moved (${r.at}). Devices elsewhere settling for the same parties show here too.
    Outboxes left: ${r.outboxLeft}; disputes seen: ${r.disputes}; revoked devices: ${esc(r.revoked.join(', ') || 'none')}.
    ${r.disputes ? 'A disputed channel is frozen at the ledger: what its copies signed after the dispute is evidence, not money.' : ''}</p>
    <table><tr><th>party</th><th>at page start</th><th>devices say</th><th>ledger</th><th></th></tr>
    ${r.parties.map((p) => `<tr><td>${esc(p.party)}</td><td class="num">${p.start}</td><td class="num">${p.devices}</td><td class="num">${p.ledger}</td><td>${p.ok ? 'ok' : 'MISMATCH'}</td></tr>`).join('')}</table>`;
}
$('stop').addEventListener(
  'click',
  act('stop', async () => {
    if (!fleet.paying) {
      fleet.resume();
      $('stop').textContent = 'stop and reconcile';
      return;
    }
    $('stop').textContent = 'stopping…';
    showReconciliation(await fleet.stopAndReconcile());
    $('stop').textContent = 'resume';
  }),
);

function download(name: string, type: string, body: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([body], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
const csv = (rows: (string | number)[][]) => rows.map((r) => r.map((v) => `"${String(v).replace(/"/g, '""')}"`).join(',')).join('\n');
/** Each export button: its file, type and content, made when clicked. */
const exports: Record<string, [string, string, () => string]> = {
  'export-json': [
    `edgepay-run-${cfg.runId.slice(0, 8)}.json`,
    'application/json',
    () =>
      JSON.stringify(
        {
          run: cfg.runId,
          exportedAt: new Date().toISOString(),
          settings: fleet.settings,
          balances: sim.balances,
          reconciliation: sim.reconciliation ?? null,
          devices: sim.devices,
          droppedEvents: fleet.droppedEvents,
          events: fleet.events,
        },
        null,
        1,
      ),
  ],
  'export-csv': [
    `edgepay-events-${cfg.runId.slice(0, 8)}.csv`,
    'text/csv',
    () =>
      csv([['time', 'kind', 'device', 'text'], ...fleet.events.map((e) => [new Date(e.at).toISOString(), e.kind, e.device ?? '', e.text])]),
  ],
  'export-balances': [
    `edgepay-balances-${cfg.runId.slice(0, 8)}.csv`,
    'text/csv',
    () =>
      csv([
        ['party', 'at page start', 'devices say', 'ledger', 'ok'],
        ...(sim.reconciliation?.parties.map((p) => [p.party, p.start, p.devices, p.ledger, String(p.ok)]) ??
          Object.entries(sim.balances).map(([p, b]) => [p, '', '', b, ''])),
      ]),
  ],
};
for (const [id, [file, type, body]] of Object.entries(exports))
  $(id).addEventListener(
    'click',
    act('export', () => download(file, type, body())),
  );

// Charts.
const charts = $('charts');
const chart = {
  payments: new Chart(charts, 'Payments', 'payments/s', ['payments/s']),
  records: new Chart(charts, 'Settlement records', 'records/s', ['settled/s']),
  outbox: new Chart(charts, 'Outbox depth by kind', 'records', Object.keys(cfg.fleet)),
  balances: new Chart(
    charts,
    `Balances by party, net of deposits (${cfg.asset})`,
    'minor units',
    cfg.parties.map((p) => p.id),
  ),
  latency: new Chart(charts, 'Ledger round trip', 'ms', ['median', 'max']),
};

await fleet.open();
fleet.event({ kind: 'control', text: `page ready: ${fleet.specs.length} devices, broker ${cfg.broker}` });

// Once a second: balances (every other second), table, detail, log, charts, window.sim.
let tick = 0;
setInterval(async () => {
  tick++;
  if (tick % 2 === 1 && !fleet.isOffline('page', 'ledger'))
    await fleet
      .balances()
      .then((b) => {
        for (const [p, v] of Object.entries(b)) sim.balances[p] = String(v);
      })
      .catch(() => {});
  const specs = fleet.specs;
  const rows = specs.map((s) => rowOf(s, fleet.views.get(s.name), fleet.keyWhere));
  table.render(rows);
  if (tick % 2 === 0) await renderDetail();
  renderLog();
  const t = Math.floor(Date.now() / 1000);
  const { tally } = fleet;
  fleet.tally = { payments: 0, records: 0, latencies: [] };
  const lat = tally.latencies.sort((a, b) => a - b);
  chart.payments.push(t, [tally.payments]);
  chart.records.push(t, [tally.records]);
  chart.outbox.push(
    t,
    Object.keys(cfg.fleet).map((k) => rows.filter((r) => r.category === k).reduce((n, r) => n + r.outbox, 0)),
  );
  chart.balances.push(
    t,
    // Net of deposits, so a payee's earnings and a payer's spending share one scale.
    cfg.parties.map((p) => Number(BigInt(sim.balances[p.id] ?? p.funding) - BigInt(p.funding))),
  );
  chart.latency.push(t, [lat[Math.floor(lat.length / 2)] ?? 0, lat.at(-1) ?? 0]);
  for (const [p, tr] of partyRows) {
    const cell = tr.querySelector('[data-balance]') as HTMLElement;
    cell.textContent = sim.balances[p] ?? '';
  }
  sim.paymentsPerSecond = tally.payments;
  sim.payments = fleet.totals.payments;
  sim.records = fleet.totals.records;
  sim.fps = frames;
  sim.longestFrameMs = Math.round(longest);
  frames = 0;
  longest = 0;
  sim.outbox = rows.reduce((n, r) => n + r.outbox, 0);
  sim.devices = rows.map((r) => ({
    name: r.name,
    role: r.role,
    credential: r.credential,
    outbox: r.outbox,
    amount: String(r.amount),
    online: r.online,
    disputes: fleet.views.get(r.name)?.disputes ?? 0,
    channels: r.channels,
  }));
  $('stat-devices').textContent = String(rows.length);
  $('stat-rate').textContent = String(sim.paymentsPerSecond);
  $('stat-payments').textContent = String(sim.payments);
  $('stat-records').textContent = String(sim.records);
  $('stat-outbox').textContent = String(sim.outbox);
  $('stat-fps').textContent = `${sim.fps} (longest frame ${sim.longestFrameMs} ms)`;
  sim.ready = rows.length > 0 && rows.every((r) => r.credential !== 'starting');
}, 1_000);
