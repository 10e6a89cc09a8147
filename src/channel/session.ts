/**
 * @module channel/session
 * Binds payers and payees to a transport: a payee answers each frame to its sender; a payer session
 * opens channels to a payee address and waits for acceptance and acknowledgements.
 */
import { toHex } from '../bytes.js';
import { ChannelError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import type { Payee } from './payee.js';
import type { OpenRequest, Payer } from './payer.js';

/** Options of {@link servePayee}. */
export interface ServePayeeOptions {
  /**
   * Called when frames could not be handled (the payee's store failed, or a bug): they go unanswered, as
   * lost frames would, and their payers resend them. Default: a line on `console.error`, so a failing
   * store never goes unnoticed.
   */
  onError?: (error: unknown, unanswered: number) => void;
}

/**
 * Serves `payee` on `transport`: every frame's answers go back to its sender. Answers are sent in order
 * but not awaited here: frames are handled one after another, and an answer whose PUBACK is slow (a broker
 * restarting) must not hold up the frames behind it. A lost answer is harmless: the payer resends.
 * Frames that arrive while earlier ones are being handled queue up and are then handled together
 * (`Payee.handleMany`): a stream's ticks that piled up cost one store write, not one each. Bad frames are
 * answered with error frames; only a failure of the payee itself (its store) reaches `onError`.
 */
export function servePayee(payee: Payee, transport: Transport, o: ServePayeeOptions = {}): void {
  const onError = o.onError ?? reportError;
  const queue: [string, Uint8Array][] = [];
  let draining = false;
  const drain = async () => {
    draining = true;
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      let answers: Uint8Array[][];
      try {
        answers = await payee.handleMany(batch.map((b) => b[1]));
      } catch (e) {
        // Nothing of the batch went live (a change is stored before it does): its payers resend. A handler
        // that throws must not stop the serving: its error is reported as the default would.
        try {
          onError(e, batch.length);
        } catch (again) {
          reportError(again, batch.length);
        }
        continue;
      }
      for (const [k, [from]] of batch.entries()) sendAll(transport, from, answers[k] as Uint8Array[]);
    }
    draining = false;
  };
  transport.onFrame((from, frame) => {
    queue.push([from, frame]);
    if (!draining) void drain();
  });
}

function reportError(e: unknown, unanswered: number): void {
  console.error(`edgepay: a payee could not handle ${unanswered} frame(s); left unanswered for their payers to resend:`, e);
}

/** Frames handled together at most: answers to the first of a long queue do not wait for all of it. */
const MAX_BATCH = 256;

function sendAll(transport: Transport, to: string, frames: Uint8Array[]): void {
  for (const f of frames) void transport.send(to, f).catch(() => {});
}

/** A payer on a transport, talking to payees by address. */
export class PayerSession {
  constructor(
    readonly payer: Payer,
    readonly transport: Transport,
  ) {
    transport.onFrame(async (from, frame) => sendAll(transport, from, await payer.handle(frame)));
  }

  /**
   * Opens a channel to the payee at `address` and waits until it is accepted.
   * @throws ChannelError CH_TIMEOUT, or the payee's refusal code.
   */
  async open(address: string, req: OpenRequest, timeoutMs = 10_000): Promise<Uint8Array> {
    const { channelId, frame } = await this.payer.open(req);
    const id = toHex(channelId);
    const accepted = this.until<void>(timeoutMs, (done, fail) => {
      const ok = (e: { channelId: Uint8Array }) => toHex(e.channelId) === id && done();
      const no = (e: { channelId: Uint8Array | undefined; code: string; message: string }) =>
        (e.channelId === undefined || toHex(e.channelId) === id) && fail(new ChannelError(e.code, e.message, 'open'));
      this.payer.on('accepted', ok).on('refused', no);
      return () => this.payer.off('accepted', ok).off('refused', no);
    });
    await this.transport.send(address, frame);
    await accepted;
    return channelId;
  }

  /** Sends a hello to a payee: both sides then exchange whatever revocation lists the other lacks. */
  async hello(address: string): Promise<void> {
    await this.transport.send(address, await this.payer.hello());
  }

  /** Pays `amount` on a channel (the voucher is durable before it is sent). */
  async pay(address: string, channelId: Uint8Array, amount: bigint, meter?: bigint): Promise<void> {
    await this.transport.send(address, await this.payer.pay(channelId, amount, meter === undefined ? {} : { meter }));
  }

  async tick(address: string, channelId: Uint8Array): Promise<void> {
    await this.transport.send(address, await this.payer.tick(channelId));
  }

  /**
   * Sends `count` ticks at once, ahead of their acks (a stream): the payer stores the burst with one write,
   * and a busy payee stores what piles up together. Sent in order; resolves once the transport has them all.
   */
  async ticks(address: string, channelId: Uint8Array, count: number): Promise<void> {
    await Promise.all((await this.payer.ticks(channelId, count)).map((f) => this.transport.send(address, f)));
  }

  /**
   * Waits until the payee has acknowledged `seq` (and `ticks`). Meanwhile it resends the newest voucher
   * and the newest tick every `resendMs`: a frame a broker lost (say, in a crash after its PUBACK) is
   * covered by the newest cumulative voucher and the newest tick; the payee takes a resend as a no-op.
   */
  async waitAck(
    address: string,
    channelId: Uint8Array,
    seq: number,
    ticks = 0,
    o: { timeoutMs?: number; resendMs?: number } = {},
  ): Promise<void> {
    const id = toHex(channelId);
    const done = () => {
      const a = this.payer.acked(channelId);
      return a.seq >= seq && a.ticks >= ticks;
    };
    if (done()) return;
    const timer = setInterval(() => {
      const r = this.payer.channel(channelId);
      const a = this.payer.acked(channelId);
      if (r?.voucher && a.seq < seq) void this.transport.send(address, r.voucher).catch(() => {});
      const tick = a.ticks < ticks ? this.payer.lastTick(channelId) : undefined;
      if (tick) void this.transport.send(address, tick).catch(() => {});
    }, o.resendMs ?? 2_000);
    try {
      await this.until<void>(o.timeoutMs ?? 10_000, (ok) => {
        const on = (e: { channelId: Uint8Array }) => toHex(e.channelId) === id && done() && ok();
        this.payer.on('acked', on);
        return () => this.payer.off('acked', on);
      });
    } finally {
      clearInterval(timer);
    }
  }

  /** Closes cooperatively and waits for the payee's countersignature. */
  async close(address: string, channelId: Uint8Array, timeoutMs = 10_000): Promise<void> {
    const id = toHex(channelId);
    const closed = this.until<void>(timeoutMs, (ok) => {
      const on = (e: { channelId: Uint8Array }) => toHex(e.channelId) === id && ok();
      this.payer.on('closed', on);
      return () => this.payer.off('closed', on);
    });
    await this.transport.send(address, await this.payer.close(channelId));
    await closed;
  }

  private until<T>(ms: number, setup: (done: (v?: T) => boolean, fail: (e: Error) => boolean) => () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let cleanup = () => {};
      const timer = setTimeout(() => {
        cleanup();
        reject(new ChannelError('CH_TIMEOUT', `no answer within ${ms} ms`, 'transport'));
      }, ms);
      const finish = (f: () => void) => {
        clearTimeout(timer);
        cleanup();
        f();
        return true;
      };
      cleanup = setup(
        (v) => finish(() => resolve(v as T)),
        (e) => finish(() => reject(e)),
      );
    });
  }
}
