/**
 * `npm run bench -- edge`: payments in one process, payer and payee side by side, against the bare
 * Ed25519 sign-then-verify loop measured in the same run.
 *  - signed-voucher payments/s: payer signs (state stored first), payee decodes strictly, verifies, checks
 *    the rules, stores the newest voucher, acks; the payer takes the ack. Memory store, then file store.
 *  - vouchers paid ahead in bursts of 32 to a file-store payee: it verifies and stores only the newest.
 *  - hash-chain ticks/s: the same round with a PayWord tick (one SHA-256 to verify).
 *  - streamed ticks/s: a stream runs ahead of its acks; the payer reveals a burst of ticks with one store
 *    write, the payee verifies each (one hash each), stores the burst once and acks the newest.
 * The bare loop, vouchers and ticks are measured in alternating slices, so each ratio compares the same
 * stretch of machine time (a shared machine drifts by tens of percent between seconds).
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatBytes } from '../src/bytes.js';
import { FileChannelStore } from '../src/channel/store-file.js';
import { PKCS8_PREFIX, SPKI_PREFIX } from '../src/crypto/ed25519.js';
import { P256_PKCS8_PREFIX } from '../src/crypto/es256.js';
import { generateEs256SecretKey, generateSecretKey } from '../src/crypto/index.js';
import { nodeEd25519 } from '../src/crypto/node.js';
import { interleaved, MEASURE_MS, opsPerSecond, report } from './harness.js';
import { type BenchPair, benchPairs } from './world.js';

/** Ticks a streaming payer reveals at once (and a payee then handles together). */
const TICK_BURST = 32;

async function openChannel(p: BenchPair, payword?: { length: number; tickValue: bigint }): Promise<Uint8Array> {
  const { channelId, frame } = await p.payer.open({ payeeKid: p.payeeKid, cap: 10n ** 14n, payword });
  for (const a of await p.payee.handle(frame)) await p.payer.handle(a);
  return channelId;
}

const round = (p: BenchPair) => async (frame: Uint8Array) => {
  for (const a of await p.payee.handle(frame)) await p.payer.handle(a);
};

/**
 * One in-process signed-voucher payment a call (payer signs, payee verifies and stores, payer takes the
 * ack, memory stores): the rate other benchmarks compare against, measured beside them.
 */
export async function voucherRound(payerAlg: 'EdDSA' | 'ES256' = 'EdDSA'): Promise<() => Promise<void>> {
  const [p] = (await benchPairs(1, undefined, payerAlg)) as [BenchPair];
  const id = await openChannel(p);
  const r = round(p);
  return async () => r(await p.payer.pay(id, 1n));
}

export async function benchEdge(): Promise<{ voucherRate: number }> {
  const sk = generateSecretKey();
  const pk = await nodeEd25519.getPublicKey(sk);
  const priv = createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, sk)), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, pk)), format: 'der', type: 'spki' });
  const msg = new Uint8Array(120);
  let i = 0;
  const bareOp = () => {
    msg[0] = i++ & 0xff;
    return verify(null, msg, pub, sign(null, msg, priv));
  };
  const voucherOp = await voucherRound();
  const [ticker] = await benchPairs(1);
  const length = 2_000_000;
  const tickId = await openChannel(ticker as BenchPair, { length, tickValue: 1n });
  const tickRound = round(ticker as BenchPair);
  const [streamer] = (await benchPairs(1)) as [BenchPair];
  const streamId = await openChannel(streamer, { length: 3_000_000, tickValue: 1n });
  const streamRound = async () => {
    for (const answers of await streamer.payee.handleMany(await streamer.payer.ticks(streamId, TICK_BURST)))
      for (const a of answers) await streamer.payer.handle(a);
  };
  // Each figure beside its limit, in alternating slices: the machine's drift hits both alike.
  const [bare, voucherRate, tickRate] = (await interleaved(
    [bareOp, voucherOp, async () => tickRound(await (ticker as BenchPair).payer.tick(tickId))],
    3 * MEASURE_MS,
  )) as [number, number, number];
  // Streamed ticks beside vouchers on their own: a burst's garbage, collected in the next slice, would
  // otherwise land on the bare loop's or the vouchers' time.
  const [streamVoucherRate, burstRate] = (await interleaved([voucherOp, streamRound], 2 * MEASURE_MS)) as [number, number];
  report('edge.bare.sign+verify', bare, 'ops/s');
  report('edge.voucher.memory', voucherRate, 'payments/s', bare);
  // An ES256 payer (a P-256 secure element's key), against bare ES256 sign+verify measured beside it.
  const esPriv = createPrivateKey({
    key: Buffer.from(concatBytes(P256_PKCS8_PREFIX, generateEs256SecretKey())),
    format: 'der',
    type: 'pkcs8',
  });
  const esPub = createPublicKey(esPriv);
  const bareEs256 = () => {
    msg[0] = i++ & 0xff;
    return verify(
      'sha256',
      msg,
      { key: esPub, dsaEncoding: 'ieee-p1363' },
      sign('sha256', msg, { key: esPriv, dsaEncoding: 'ieee-p1363' }),
    );
  };
  const [bareEs, esVoucherRate] = (await interleaved([bareEs256, await voucherRound('ES256')], 2 * MEASURE_MS)) as [number, number];
  report('edge.bare.es256.sign+verify', bareEs, 'ops/s');
  report('edge.voucher.es256', esVoucherRate, 'payments/s', bareEs);

  const dir = mkdtempSync(join(tmpdir(), 'edgepay-bench-'));
  try {
    const [file] = await benchPairs(1, () => ({
      payer: new FileChannelStore(join(dir, 'payer')),
      payee: new FileChannelStore(join(dir, 'payee')),
    }));
    const fileId = await openChannel(file as BenchPair);
    const fileRound = round(file as BenchPair);
    report(
      'edge.voucher.file',
      await opsPerSecond(async () => fileRound(await (file as BenchPair).payer.pay(fileId, 1n))),
      'payments/s',
      bare,
    );
    // Paying ahead of the acks (as a metered session's credit window allows): the payee takes what queued
    // up together, verifies and stores only the newest voucher, once.
    const f = file as BenchPair;
    const burst = async () => {
      const frames: Uint8Array[] = [];
      for (let k = 0; k < TICK_BURST; k++) frames.push(await f.payer.pay(fileId, 1n));
      for (const answers of await f.payee.handleMany(frames)) for (const a of answers) await f.payer.handle(a);
    };
    report(`edge.voucher.burst${TICK_BURST}.file`, (await opsPerSecond(burst)) * TICK_BURST, 'payments/s', bare);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  report('edge.tick.memory', tickRate, 'ticks/s', voucherRate);
  report(`edge.tick.stream${TICK_BURST}.memory`, burstRate * TICK_BURST, 'ticks/s', streamVoucherRate);
  return { voucherRate };
}
