/**
 * @module channel/sink
 * Where a channel's settlement-worthy states go: a payer's or payee's `outbox` option. The settlement layer
 * provides the one implementation (`settlements(outbox)` in edgepay/settlement), which writes the
 * channel's settlement record to an outbox.
 */
import type { ChannelRecord } from './store.js';

export interface SettlementSink {
  /** Queues the settlement record of `record`'s state; resolves once it is durable. */
  enqueue(record: ChannelRecord): Promise<void>;
}
