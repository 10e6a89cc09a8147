/**
 * @module channel/payee
 * The payee's side of channels (the rules, frame by frame, are `PayeeRules`): resuming after a restart, and
 * frames that arrived together handled as runs, a store write and an ack for many.
 */
import { equalBytes } from '../bytes.js';
import { EdgepayError } from '../errors.js';
import { fastDecodeTick } from './fastframe.js';
import { encodeAck, type Frame, tryDecodeFrame } from './messages.js';
import { type PaidEvent, PayeeRules, type TickFields } from './payee-rules.js';
import { copyRecord } from './store.js';

export type { PaidEvent, PayeeEvents, PayeeOptions } from './payee-rules.js';

/**
 * The paid side of channels: checks each frame against the payer's credential chain and the channel's rules,
 * stores it before it answers, and keeps equivocation evidence.
 */
export class Payee extends PayeeRules {
  /**
   * Reloads open channels after a restart, each checked again: the payer's chain (revocation as of now) and
   * the stored frames against the record. A channel that fails is left out (a damaged one is set aside and
   * reported as `damaged`, a refused one as `rejected`); the others resume.
   */
  async resume(): Promise<number> {
    let n = 0;
    for (const record of await this.o.store.list()) {
      if (record.role !== 'payee') continue;
      // A close (or equivocation evidence) whose record never reached the outbox (a crash, a full disk) is queued now.
      if (record.state === 'closed' || record.state === 'refused') await this.settling.final(record);
      if (record.state === 'closed') continue;
      try {
        if (await this.revive(record)) n++;
      } catch (e) {
        if (!(e instanceof EdgepayError)) throw e;
        if (e.code !== 'CH_STORE_DAMAGED') this.emit('rejected', { channelId: record.id, error: e });
      }
    }
    return n;
  }

  /**
   * Handles frames that arrived together, in order, and returns each one's answers, in the same order.
   * A run of ticks on one channel is verified tick by tick (one hash each) and stored once, with one ack
   * for the newest after its last good tick: a stream's ticks cost one store write a burst, not one each.
   * A run of vouchers on one channel, each superseding the one before, costs one signature check and one
   * write: only the newest counts (see `voucherRun`). Nothing is acknowledged, and no `paid` event fires,
   * before the record that counts it is stored.
   */
  async handleMany(frames: readonly Uint8Array[]): Promise<Uint8Array[][]> {
    const out: Uint8Array[][] = [];
    const memo: (Frame | EdgepayError | undefined)[] = [];
    const frameAt = (j: number) => (memo[j] ??= tryDecodeFrame(frames[j] as Uint8Array));
    for (let i = 0; i < frames.length; ) {
      const run: TickFields[] = [];
      // Views into the frames: only the word a run ends on is kept, and it is copied then.
      for (let t = fastDecodeTick(frames[i] as Uint8Array, true); t; t = fastDecodeTick(frames[i + run.length] ?? EMPTY, true)) {
        if (run.length > 0 && !equalBytes(t.channelId, (run[0] as TickFields).channelId)) break;
        run.push(t);
      }
      // A lone tick too: decoded once here, not again by `handle`.
      if (run.length > 0) {
        out.push(...(await this.tickRun(run)));
        i += run.length;
        continue;
      }
      const first = frameAt(i);
      if (first instanceof EdgepayError || first.type !== 'voucher') {
        out.push(first instanceof EdgepayError ? await this.refuse(undefined, first) : await this.handleFrame(first));
        i++;
        continue;
      }
      const vouchers = [first];
      while (i + vouchers.length < frames.length) {
        const next = frameAt(i + vouchers.length);
        if (next instanceof EdgepayError || next.type !== 'voucher' || !supersedes(next, vouchers.at(-1) as VoucherFrame)) break;
        vouchers.push(next);
      }
      out.push(...(await this.voucherRun(vouchers)));
      i += vouchers.length;
    }
    return out;
  }

  /**
   * Vouchers that queued up on one channel, each superseding the one before: only the newest counts, so
   * it alone is verified and stored, and acked for all of them (one signature check, not one each). Any
   * doubt (a resend, a repeated seq, the newest refused) and each is handled on its own, as `handle`
   * would: the same record in the end, with an answer for each. A voucher in between is never stored, so
   * whether it was genuine does not matter: it neither counts nor refuses the channel.
   */
  private async voucherRun(run: VoucherFrame[]): Promise<Uint8Array[][]> {
    const newest = run.at(-1) as VoucherFrame;
    if (run.length > 1) {
      const id = newest.voucher.channelId;
      const answers = await this.mutex
        .run(this.ids.key(id), async () => {
          const l = await this.channelFor(id);
          return (run[0] as VoucherFrame).voucher.seq > l.record.seq ? this.onVoucher(newest) : undefined;
        })
        .catch((e: unknown) => {
          if (e instanceof EdgepayError) return undefined;
          throw e;
        });
      if (answers) return run.map((_, k) => (k === run.length - 1 ? answers : []));
    }
    const out: Uint8Array[][] = [];
    for (const f of run) out.push(await this.handleFrame(f));
    return out;
  }

  private async tickRun(run: TickFields[]): Promise<Uint8Array[][]> {
    const id = (run[0] as TickFields).channelId;
    const out = run.map((): Uint8Array[] => []);
    const refuse = async (e: unknown) => (await this.refuse(id, e))[0] as Uint8Array;
    try {
      await this.mutex.run(this.ids.key(id), async () => {
        const l = await this.channelFor(id);
        const paid: PaidEvent[] = [];
        const next = copyRecord(l.record);
        let counted = false;
        let last = -1;
        for (const [k, t] of run.entries()) {
          try {
            counted = this.countTick(l, next, t, paid) || counted;
            last = k;
          } catch (e) {
            (out[k] as Uint8Array[]).push(await refuse(e));
          }
        }
        if (counted) {
          next.tickWord = new Uint8Array(next.tickWord as Uint8Array); // our own copy, not a view into the caller's frame
          await this.commit(l, next);
        }
        for (const e of paid) this.emit('paid', e);
        if (last >= 0) (out[last] as Uint8Array[]).push(encodeAck(l.record.id, l.record.seq, l.record.ticks));
      });
    } catch (e) {
      // The channel itself is refused (unknown, closed): every tick gets the answer `handle` would give it.
      const error = await refuse(e);
      return run.map(() => [error]);
    }
    return out;
  }
}

type VoucherFrame = Extract<Frame, { type: 'voucher' }>;

const EMPTY = new Uint8Array(0);

/**
 * Whether `b` supersedes `a` on its face (signatures unchecked): the same channel, a higher seq, the same
 * tick checkpoint and no less owed, and `a` not a final one. Then whatever ticks the channel has counted,
 * `b` owes at least what `a` does, so if `b` is genuine and within the limits, handling `a` first would
 * not change what is stored in the end. (A changed checkpoint moves ticks into the cumulative amount at
 * the channel's tick value: judged one by one.)
 */
function supersedes(b: VoucherFrame, a: VoucherFrame): boolean {
  const [x, y] = [a.voucher, b.voucher];
  return (
    equalBytes(x.channelId, y.channelId) && y.seq > x.seq && (y.ticks ?? 0) === (x.ticks ?? 0) && y.cumulative >= x.cumulative && !x.final
  );
}
