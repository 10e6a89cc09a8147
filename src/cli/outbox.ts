/**
 * @module cli/outbox
 * `edgepay outbox <dir>`: what a device's outbox directory holds, read without changing it (the device may
 * be running): settlement records waiting, dead letters (records the ledger refused for good, with its
 * code), receipts (verified with `--ledger-key`), and damage, found or already set aside.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { toHex } from '../bytes.js';
import { decodeFrame } from '../channel/messages.js';
import { sha256 } from '../crypto/hash.js';
import { EdgepayError } from '../errors.js';
import { FileOutbox } from '../outbox/outbox-file.js';
import { verifyReceipt } from '../settlement/receipt.js';
import { readSettlement } from '../settlement/record.js';
import { decodeDeadLetter } from '../sync/dead-letter.js';
import { COMMON, type Command, publicKeyFile, str } from './identity.js';
import { CliError, printJson, toJson } from './io.js';

/** What a settlement record says, read (not verified). */
function settlement(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const { m, open } = readSettlement(bytes);
    let voucher: Record<string, unknown> = { seq: 0, amount: '0' };
    if (m.get(3) instanceof Uint8Array)
      try {
        const f = decodeFrame(m.get(3) as Uint8Array);
        if (f.type === 'voucher') voucher = { seq: f.voucher.seq, amount: String(f.voucher.cumulative) };
      } catch (e) {
        voucher = { voucher: `unreadable: ${e instanceof EdgepayError ? e.code : 'not a voucher'}` };
      }
    return {
      type: 'settlement',
      channel: toHex(open.channelId),
      asset: open.terms.asset,
      ...voucher,
      closed: m.has(4),
      ...(m.has(5) ? { tick: (m.get(5) as [number])[0] } : {}),
      ...(m.has(6) ? { evidence: true } : {}),
    };
  } catch {
    return undefined;
  }
}

async function describe(bytes: Uint8Array, ledgerKey: Uint8Array | undefined): Promise<Record<string, unknown>> {
  const id = toHex(sha256(bytes));
  const s = settlement(bytes);
  if (s) return { id, ...s };
  try {
    const d = decodeDeadLetter(bytes);
    return {
      id,
      type: 'dead-letter',
      code: d.code,
      refusedAt: new Date(d.time * 1000).toISOString(),
      ...(d.message ? { message: d.message } : {}),
      record: { id: toHex(sha256(d.record)), ...(settlement(d.record) ?? { type: 'unknown', bytes: d.record.length }) },
    };
  } catch {}
  if (ledgerKey)
    try {
      const r = await verifyReceipt(bytes, ledgerKey);
      return { id, type: 'receipt', record: toHex(r.recordId), status: r.status, code: r.code, posted: String(r.posted), ledger: r.ledger };
    } catch {}
  return { id, type: 'unknown', bytes: bytes.length };
}

export const outboxCommands: Record<string, Command> = {
  outbox: {
    usage:
      'edgepay outbox <dir> [--ledger-key <ledger.pub>]\n' +
      '  Lists what an outbox directory holds, without changing it: settlement records waiting (channel, seq,\n' +
      '  amount), dead letters (records the ledger refused for good, with its code), receipts (verified with\n' +
      '  --ledger-key), damage the next open will set aside, and what <dir>/quarantine already holds.',
    options: { 'ledger-key': { type: 'string' }, ...COMMON },
    async run(v, positionals, out) {
      const dir = positionals[0];
      if (!dir) throw new CliError('CLI_USAGE', 'outbox takes a directory', 'dir');
      const ledgerKey = str(v, 'ledger-key', false) ? await publicKeyFile(str(v, 'ledger-key')) : undefined;
      let found: Awaited<ReturnType<typeof FileOutbox.inspect>>;
      try {
        found = await FileOutbox.inspect(dir);
      } catch (e) {
        if (e instanceof EdgepayError) throw e;
        throw new CliError('CLI_FILE', `cannot read ${dir}: ${(e as Error).message}`, 'dir');
      }
      const quarantined = await readdir(join(dir, 'quarantine')).catch(() => [] as string[]);
      const entries = [];
      for (const e of found.records) entries.push(await describe(e.bytes, ledgerKey));
      printJson(
        toJson({
          dir,
          records: entries.length,
          entries,
          damaged: found.damaged.map((d) => ({ ...d, kind: d.torn ? 'torn' : 'damaged' })),
          quarantined: quarantined.map((q) => join(dir, 'quarantine', q)),
        }),
        out,
      );
      return 0;
    },
  },
};
