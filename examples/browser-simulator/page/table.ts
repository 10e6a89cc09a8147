/**
 * The device table: one row per device, sortable by any column and filtered by text, role and status.
 * Rows are made once and their cells updated in place (buttons stay where a click lands), re-ordered
 * only when the order changes.
 */
import type { DeviceSpec } from './device.js';
import type { DeviceView } from './protocol.js';

export interface Row {
  name: string;
  category: string;
  role: string;
  party: string;
  credential: string;
  expires: number;
  key: string;
  channels: number;
  amount: bigint;
  outbox: number;
  /** The revocation lists it holds: authority, version, keys. */
  lists: string;
  receipt: string;
  online: string;
}

const COLUMNS: [keyof Row, string][] = [
  ['name', 'device'],
  ['category', 'kind'],
  ['role', 'role'],
  ['party', 'party'],
  ['credential', 'credential'],
  ['expires', 'expires in'],
  ['key', 'key'],
  ['channels', 'open channels'],
  ['amount', 'paid / earned'],
  ['outbox', 'outbox'],
  ['lists', 'revocation lists (keys)'],
  ['receipt', 'last receipt'],
  ['online', 'broker · ledger'],
];

const ago = (ms: number) => `${Math.max(0, Math.round((Date.now() - ms) / 1000))} s ago`;
const span = (s: number) => (s > 2 * 86_400 ? `${Math.round(s / 86_400)} d` : s > 7_200 ? `${Math.round(s / 3_600)} h` : `${s} s`);

export function rowOf(spec: DeviceSpec, v: DeviceView | undefined, keyWhere: string): Row {
  const receipt = v?.lastReceipt;
  return {
    name: spec.name,
    category: spec.category,
    role: `${spec.pays ? 'payer' : 'payee'}${spec.cloneOf ? ` (clone of ${spec.cloneOf})` : ''}`,
    party: spec.party,
    credential: v?.credential.status ?? 'starting',
    expires: (v?.credential.expiresAt ?? 0) - Math.floor(Date.now() / 1000),
    key: `Ed25519 · ${keyWhere}`,
    channels: v?.openChannels ?? 0,
    amount: BigInt(v?.amount ?? '0'),
    outbox: v?.outbox ?? 0,
    lists: (v?.lists ?? []).map((l) => `${l.authority} (${l.keys})`).join(', '),
    receipt: receipt ? `${receipt.status}${receipt.code ? ` ${receipt.code}` : ''} · ${ago(receipt.at)}` : '',
    online: `${v?.broker === 'offline' ? 'OFFLINE' : (v?.broker ?? 'starting')} · ${v?.ledger === 'offline' ? 'OFFLINE' : 'online'}`,
  };
}

function cellText(r: Row, k: keyof Row): string {
  if (k === 'expires') return r.expires <= 0 ? 'expired' : span(r.expires);
  return String(r[k]);
}

export class DeviceTable {
  private sortKey: keyof Row = 'name';
  private sortDir = 1;
  private readonly rows = new Map<string, { tr: HTMLTableRowElement; cells: HTMLTableCellElement[]; clone?: HTMLButtonElement }>();
  private order = '';

  constructor(
    private readonly table: HTMLTableElement,
    private readonly filters: { text: HTMLInputElement; role: HTMLSelectElement; status: HTMLSelectElement },
  ) {
    const head = table.createTHead().insertRow();
    for (const [k, label] of COLUMNS) {
      const th = document.createElement('th');
      th.textContent = label;
      th.dataset.sort = k;
      th.addEventListener('click', () => {
        this.sortDir = this.sortKey === k ? -this.sortDir : 1;
        this.sortKey = k;
      });
      head.append(th);
    }
    head.append(Object.assign(document.createElement('th'), { textContent: 'controls' }));
    table.createTBody();
  }

  render(rows: Row[]): void {
    const body = this.table.tBodies[0] as HTMLTableSectionElement;
    const f = this.filters;
    const text = f.text.value.trim().toLowerCase();
    const shown = rows
      .filter(
        (r) =>
          (!text || `${r.name} ${r.party} ${r.category}`.toLowerCase().includes(text)) &&
          (!f.role.value || r.role.startsWith(f.role.value)) &&
          (!f.status.value || r.credential === f.status.value || (f.status.value === 'offline' && r.online.includes('OFFLINE'))),
      )
      .sort((a, b) => {
        const x = a[this.sortKey];
        const y = b[this.sortKey];
        return (x < y ? -1 : x > y ? 1 : 0) * this.sortDir || (a.name < b.name ? -1 : 1);
      });
    const names = new Set(rows.map((r) => r.name));
    for (const [n, r] of this.rows)
      if (!names.has(n)) {
        r.tr.remove();
        this.rows.delete(n);
      }
    for (const r of shown) {
      let row = this.rows.get(r.name);
      if (!row) {
        const tr = document.createElement('tr');
        tr.dataset.device = r.name;
        const cells = COLUMNS.map(() => tr.insertCell());
        const controls = tr.insertCell();
        const button = (act: string, label: string, title: string) => {
          const b = document.createElement('button');
          b.textContent = label;
          b.title = title;
          b.dataset.act = act;
          b.dataset.device = r.name;
          controls.append(b);
          return b;
        };
        button('detail', 'detail', 'show its credential chain, channels, outbox and receipts');
        button('broker', 'broker', 'take its broker link down or up');
        button('ledger', 'ledger', 'take its ledger link down or up');
        button('restart', 'restart', 'restart it: state comes back from IndexedDB');
        const clone = r.role.startsWith('payer') ? button('clone', 'clone', 'a second device with its key and channels') : undefined;
        button('revoke', 'revoke', 'its party revokes it');
        button('expire', 'expire', 're-enrol it with a credential that expires in 20 s');
        button('remove', 'remove', 'settle and remove it');
        row = { tr, cells, ...(clone ? { clone } : {}) };
        this.rows.set(r.name, row);
      }
      COLUMNS.forEach(([k], i) => {
        const t = cellText(r, k);
        const cell = row.cells[i] as HTMLTableCellElement;
        if (cell.textContent !== t) cell.textContent = t;
      });
      row.tr.className = r.credential !== 'valid' ? `bad ${r.credential}` : r.online.includes('OFFLINE') ? 'offline' : '';
    }
    const visible = new Set(shown.map((r) => r.name));
    for (const [n, r] of this.rows) r.tr.hidden = !visible.has(n);
    const order = shown.map((r) => r.name).join(',');
    if (order !== this.order) {
      this.order = order;
      for (const r of shown) body.append((this.rows.get(r.name) as { tr: HTMLTableRowElement }).tr);
    }
  }
}
