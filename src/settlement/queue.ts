/**
 * @module settlement/queue
 * The one way a channel's state reaches the outbox: `settlements(outbox)` is what a payer or payee takes
 * as its `outbox`. It encodes the channel's settlement record and appends it (durable when the append
 * resolves; appending the same record again keeps one).
 */
import type { SettlementSink } from '../channel/sink.js';
import type { ChannelRecord } from '../channel/store.js';
import { encodeSettlement } from './record.js';

/** Where records are appended: an Outbox (`FileOutbox`, `IdbOutbox`, `MemoryOutbox`) or a `Sync`, which wakes when one arrives. */
export interface RecordQueue {
  append(record: Uint8Array): Promise<unknown>;
}

/**
 * A payer's or payee's `outbox` option: each close (and checkpoint) becomes a settlement record in `outbox`.
 * @example new Payee({ device, trust, store, outbox: settlements(await FileOutbox.open(dir)) })
 */
export function settlements(outbox: RecordQueue): SettlementSink {
  return {
    async enqueue(record: ChannelRecord) {
      await outbox.append(encodeSettlement(record));
    },
  };
}
