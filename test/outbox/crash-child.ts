/**
 * Child for the outbox kill -9 test: appends records in concurrent groups (exercising group commit),
 * removes some, compacts under a low threshold, forever. Prints `C <id>` once an append has resolved
 * (durable), `r <id>` before it asks to remove a record, and `R <id>` once the removal has resolved.
 */
import { randomBytes } from 'node:crypto';
import { toHex } from '../../src/codec/bytes.js';
import { FileOutbox } from '../../src/outbox/outbox-file.js';

const o = await FileOutbox.open(process.argv[2] as string, { compactAfterBytes: Number(process.env.COMPACT ?? 64 * 1024) });
const out = (l: string) => process.stdout.write(`${l}\n`);
out('READY');
for (let round = 0; ; round++) {
  const group = Array.from({ length: 1 + (round % 16) }, () => randomBytes(20 + (round % 300)));
  await Promise.all(
    group.map(async (r) => {
      const id = await o.append(new Uint8Array(r));
      out(`C ${toHex(id)}`);
    }),
  );
  if (round % 3 === 0) {
    const victims = (await o.pending({ maxCount: 8 })).map((e) => e.id);
    for (const id of victims) out(`r ${toHex(id)}`); // about to remove: it may be gone after a kill
    await o.remove(victims);
    for (const id of victims) out(`R ${toHex(id)}`);
  }
}
