/**
 * Child for the outbox kill -9 test: appends records in concurrent groups (exercising group commit),
 * removes some, compacts under a low threshold, forever. Prints `C <id>` once an append has resolved
 * (durable), `r <id>` before it asks to remove a record, and `R <id>` once the removal has resolved.
 * Before each `C` or `R` group it prints `S <bytes> <inode>`: the log's size with no write in flight, all
 * of it fsynced (the parent cuts the log above it to play a power cut, if compaction has not replaced it).
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/bytes.js';
import { FileOutbox } from '../../src/outbox/outbox-file.js';

const dir = process.argv[2] as string;
const o = await FileOutbox.open(dir, { compactAfterBytes: Number(process.env.COMPACT ?? 64 * 1024) });
const out = (l: string) => process.stdout.write(`${l}\n`);
const synced = () => {
  const st = statSync(join(dir, 'outbox.log'));
  out(`S ${st.size} ${st.ino}`);
};
out('READY');
for (let round = 0; ; round++) {
  const group = Array.from({ length: 1 + (round % 16) }, () => randomBytes(20 + (round % 300)));
  const ids = await Promise.all(group.map((r) => o.append(new Uint8Array(r))));
  synced();
  for (const id of ids) out(`C ${toHex(id)}`);
  if (round % 3 === 0) {
    const victims = (await o.pending({ maxCount: 8 })).map((e) => e.id);
    for (const id of victims) out(`r ${toHex(id)}`); // about to remove: it may be gone after a kill
    await o.remove(victims);
    synced();
    for (const id of victims) out(`R ${toHex(id)}`);
  }
}
