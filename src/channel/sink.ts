/**
 * @module channel/sink
 * Where a channel's settlement-worthy states go: a payer's or payee's `outbox` option. The settlement layer
 * provides the one implementation (`settlements(outbox)` in edgepay/settlement), which writes the
 * channel's settlement record to an outbox.
 */
import { ChannelError, EdgepayError } from '../errors.js';
import { type ChannelRecord, type ChannelStore, copyRecord } from './store.js';

/**
 * Where a channel side queues its settlement records (closes, evidence, checkpoints): `settlements(outbox)`
 * or `settlements(sync)`.
 */
export interface SettlementSink {
  /** Queues the settlement record of `record`'s state; resolves once it is durable. */
  enqueue(record: ChannelRecord): Promise<void>;
}

/**
 * What a payer or payee does with its outbox: each closed (or refused) channel's record queued once, then
 * marked `queued` in the store, so a crash between the two only queues it again (the outbox keeps one
 * copy); checkpoints on request. A failure to queue a final state is reported, not thrown: the channel
 * stays closed and unqueued, and is queued again when it resumes.
 */
export class Settling {
  constructor(
    private readonly sink: SettlementSink | undefined,
    private readonly store: ChannelStore,
    private readonly failed: (channelId: Uint8Array, error: EdgepayError) => void,
  ) {}

  /** Queues a final state once. @returns the record as now stored (marked queued), or as it was on failure. */
  async final(record: ChannelRecord): Promise<ChannelRecord> {
    if (!this.sink || record.queued) return record;
    try {
      await this.sink.enqueue(record);
      const queued = { ...copyRecord(record), queued: true };
      await this.store.put(queued);
      return queued;
    } catch (e) {
      this.failed(
        record.id,
        e instanceof EdgepayError
          ? e
          : new ChannelError('CH_QUEUE', `the settlement record could not be queued: ${(e as Error)?.message ?? e}`, 'outbox', {
              cause: e,
            }),
      );
      return record;
    }
  }

  /**
   * Queues a channel's current state (a checkpoint of a channel that stays open, so the ledger posts what is
   * paid so far). @throws ChannelError CH_QUEUE without an outbox; the outbox's error when it cannot take it.
   */
  async checkpoint(record: ChannelRecord): Promise<void> {
    if (!this.sink) throw new ChannelError('CH_QUEUE', 'there is no outbox to queue to', 'outbox');
    await this.sink.enqueue(record);
  }
}
