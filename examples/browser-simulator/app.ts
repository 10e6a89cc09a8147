/**
 * The simulator page: devices that pay each other in the browser (WebCrypto Ed25519 where the browser has
 * it), an IndexedDB outbox that survives a reload, a sync to the ledger that serves this page, an
 * online/offline switch, and live charts. `window.sim` exposes the numbers (the test reads them).
 */
import {
  createSigner,
  fromHex,
  getEd25519,
  HttpLedgerClient,
  IdbOutbox,
  MemoryChannelStore,
  MemoryNetwork,
  openDevice,
  Payee,
  Payer,
  PayerSession,
  Sync,
  servePayee,
  settlements,
  TrustStore,
  toHex,
} from 'edgepay';
import { decode } from 'edgepay/codec';
import { signAdmin } from 'edgepay/sync';

interface Config {
  ledgerKey: string;
  asset: string;
  roots: { id: string; publicKey: string }[];
  parties: { id: string; seed: string }[];
  pairs: { payer: { seed: string; chain: string; category: string }; payee: { seed: string; chain: string; category: string } }[];
}

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const state = {
  payments: 0,
  outbox: 0,
  synced: 0,
  online: localStorage.getItem('edgepay-online') !== 'false',
  balances: {} as Record<string, string>,
  ready: false,
};
(window as unknown as { sim: typeof state }).sim = state;

const cfg = (await (await fetch('./config.json')).json()) as Config;
const roots = cfg.roots.map((r) => ({ id: r.id, publicKey: fromHex(r.publicKey) }));
const net = new MemoryNetwork();
const outbox = new IdbOutbox('edgepay-simulator-outbox');
const receipts = new IdbOutbox('edgepay-simulator-receipts');

// Devices: each pair is a payer and a payee on the in-page network, each opened once (key and chain checked together).
const devices = await Promise.all(
  cfg.pairs.map(async (p) => {
    const trust = new TrustStore(roots);
    const open = async (d: { seed: string; chain: string }) =>
      openDevice({ signer: await createSigner(fromHex(d.seed)), chain: fromHex(d.chain), trust });
    return { trust, payer: await open(p.payer), payee: await open(p.payee) };
  }),
);
$('devices').textContent =
  `${devices.length * 2} devices (${devices.length} payers, ${devices.length} payees); Ed25519 by ${(await getEd25519()).name}`;

// The switch: what the sync loop sees as connectivity (the browser's own online/offline too).
const listeners = new Set<(up: boolean) => void>();
const toggle = $('online') as HTMLInputElement;
toggle.checked = state.online;
toggle.addEventListener('change', () => {
  state.online = toggle.checked;
  localStorage.setItem('edgepay-online', String(state.online));
  for (const l of listeners) l(state.online);
});
const sync = new Sync({
  outbox,
  receipts,
  client: new HttpLedgerClient(location.origin),
  device: devices[0]!.payer, // any enrolled device may relay everyone's records
  ledgerKey: fromHex(cfg.ledgerKey),
  connectivity: {
    online: () => state.online && navigator.onLine,
    subscribe: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  },
  backoff: { initialMs: 100, maxMs: 1000 },
  pollMs: 300,
});

// Each side's checkpoints and closes queue themselves in the page's outbox, through the sync.
const lanes = devices.map(({ trust, payer: payerDevice, payee: payeeDevice }) => {
  const payee = new Payee({ device: payeeDevice, trust, store: new MemoryChannelStore(), outbox: settlements(sync) });
  servePayee(payee, net.endpoint(toHex(payeeDevice.kid)));
  const payer = new Payer({ device: payerDevice, trust, store: new MemoryChannelStore(), outbox: settlements(sync) });
  const session = new PayerSession(payer, net.endpoint(toHex(payerDevice.kid)));
  return { payer, payee, session, address: toHex(payeeDevice.kid), kid: payeeDevice.kid };
});

sync.on('acknowledged', () => state.synced++);
sync.start();

// Balances, as each party may read its own (a call signed with the party's key).
const partyKeys = await Promise.all(cfg.parties.map(async (p) => ({ id: p.id, signer: await createSigner(fromHex(p.seed)) })));
async function refreshBalances(): Promise<void> {
  for (const p of partyKeys) {
    const body = await signAdmin(
      p.signer,
      'balance',
      { party: p.id, asset: cfg.asset },
      Math.floor(Date.now() / 1000),
      crypto.getRandomValues(new Uint8Array(16)),
    );
    const res = await fetch('/v1/admin', { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: body as BodyInit }).catch(
      () => undefined,
    );
    if (res?.ok)
      state.balances[p.id] = String((decode(new Uint8Array(await res.arrayBuffer())) as Map<string, bigint | number>).get('balance'));
  }
}

// Payments: every payer pays its payee continuously; every 5 payments both sides queue a record.
for (const lane of lanes)
  void (async () => {
    const id = await lane.session.open(lane.address, { payeeKid: lane.kid, cap: 1_000_000n });
    for (let n = 1; ; n++) {
      await lane.session.pay(lane.address, id, BigInt(1 + (n % 9)));
      state.payments++;
      if (n % 5 === 0) await lane.payer.checkpoint(id);
      await new Promise((r) => setTimeout(r, 40));
    }
  })();

// Charts: payments/s, outbox depth, balances per party (the last 60 seconds).
const series = { rate: [] as number[], depth: [] as number[], balances: new Map<string, number[]>() };
function chart(canvas: HTMLCanvasElement, title: string, lines: [string, number[]][]): void {
  const c = canvas.getContext('2d') as CanvasRenderingContext2D;
  c.clearRect(0, 0, canvas.width, canvas.height);
  c.fillStyle = '#222';
  c.fillText(title, 8, 14);
  const max = Math.max(1, ...lines.flatMap(([, v]) => v));
  const colours = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];
  lines.forEach(([name, v], i) => {
    c.strokeStyle = colours[i % colours.length] as string;
    c.beginPath();
    v.forEach((y, x) => {
      c[x ? 'lineTo' : 'moveTo'](8 + (x * (canvas.width - 16)) / 59, canvas.height - 8 - (y / max) * (canvas.height - 30));
    });
    c.stroke();
    c.fillStyle = c.strokeStyle;
    c.fillText(`${name} ${v.at(-1) ?? 0}`, 8, 30 + 14 * i);
  });
}
let last = 0;
setInterval(async () => {
  state.outbox = await outbox.size();
  if (state.online) await refreshBalances();
  const push = (a: number[], v: number) => {
    if (a.push(v) > 60) a.shift();
  };
  push(series.rate, state.payments - last);
  last = state.payments;
  push(series.depth, state.outbox);
  for (const [p, b] of Object.entries(state.balances)) {
    if (!series.balances.has(p)) series.balances.set(p, []);
    push(series.balances.get(p) as number[], Number(b));
  }
  $('payments').textContent = String(state.payments);
  $('outbox').textContent = String(state.outbox);
  $('synced').textContent = String(state.synced);
  $('status').textContent = state.online ? 'online' : 'offline';
  chart($('rate') as HTMLCanvasElement, 'payments/s', [['payments/s', series.rate]]);
  chart($('depth') as HTMLCanvasElement, 'outbox depth', [['records', series.depth]]);
  chart($('balances') as HTMLCanvasElement, 'balances per party (minor units)', [...series.balances]);
  state.ready = true;
}, 1000);
