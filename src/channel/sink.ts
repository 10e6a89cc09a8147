/**
 * @module channel/sink
 * Where a channel's settlement-worthy states go: a payer's or payee's `outbox` option. The settlement layer
 * provides the one implementation (`settlements(outbox)` in edgepay/settlement), which writes the
 * channel's settlement record to an outbox.
 */
import { ChannelError, EdgepayError } from '../errors.js';
import { type ChannelRecord, type ChannelStore, copyRecord } from './store.js';

export interface SettlementSink {
  /** Queues the settlement record of `record`'s state; resolves once it is durable. */
  enqueue(record: ChannelRecord): Promise<void>;
}

/**
 * Queues a closed (or refused) channel's record once: to `sink`, then marked `queued` in `store`, so a
 * crash between the two only queues it again (the outbox keeps one copy). A failure is returned, not
 * thrown: the channel stays closed and unqueued, and is queued again when it resumes.
 */
export async function queueFinal(
  sink: SettlementSink,
  store: ChannelStore,
  record: ChannelRecord,
): Promise<{ record: ChannelRecord } | { error: EdgepayError }> {
  try {
    await sink.enqueue(record);
    const queued = { ...copyRecord(record), queued: true };
    await store.put(queued);
    return { record: queued };
  } catch (e) {
    const error =
      e instanceof EdgepayError
        ? e
        : new ChannelError('CH_QUEUE', `the settlement record could not be queued: ${(e as Error)?.message ?? e}`, 'outbox', { cause: e });
    return { error };
  }
}
