/**
 * The channel messages shown in docs/wire-format.md, from fixed inputs (RFC 8032 keys, a fixed nonce and
 * hash-chain seed) so they reproduce byte for byte. `npx tsx test/channel/examples.ts` prints them.
 */

import { fromHex, toHex } from '../../src/bytes.js';
import { HashChain } from '../../src/channel/hashchain.js';
import { encodeAck, encodeTick, signAccept, signClose, signError, signOpen, signVoucher } from '../../src/channel/messages.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { encodeChain } from '../../src/identity/credential.js';
import { examples as identityExamples, RFC_KEYS } from '../identity/examples.js';

export async function channelExamples(): Promise<Record<string, string>> {
  const ids = await identityExamples();
  const payer = await nodeEd25519.signer(fromHex(RFC_KEYS.device));
  const payee = await nodeEd25519.signer(fromHex(RFC_KEYS.party)); // stands in for a payee device here
  const chain = fromHex(ids.chain as string);
  const hc = new HashChain(1000, new Uint8Array(32).fill(0x42));
  const { bytes: open, channelId } = await signOpen(payer, {
    chain,
    payeeKid: coseKeyThumbprint(payee.publicKey),
    asset: 'EUR',
    cap: 5_000n,
    unitPrice: 3n,
    expiresAt: 1_767_312_000,
    nonce: new Uint8Array(16).fill(7),
    payword: { root: hc.root, length: 1000, tickValue: 3n },
  });
  const voucher = { channelId, seq: 1, cumulative: 120n, ticks: 0 };
  return {
    'channel id': toHex(channelId),
    open: toHex(open),
    accept: toHex(await signAccept(payee, channelId, encodeChain([fromHex(ids['party credential'] as string)]))),
    voucher: toHex(await signVoucher(payer, voucher)),
    tick: toHex(encodeTick(channelId, 1, hc.word(1))),
    ack: toHex(encodeAck(channelId, 1, 1)),
    'final voucher': toHex(await signVoucher(payer, { channelId, seq: 2, cumulative: 123n, ticks: 1, final: true })),
    close: toHex(await signClose(payee, { channelId, seq: 2, cumulative: 123n, ticks: 1 })),
    error: toHex(await signError(payee, channelId, 'CH_OVER_CAP', 'total 5001 exceeds the cap 5000')),
  };
}

if (process.argv[1]?.endsWith('channel/examples.ts'))
  for (const [k, v] of Object.entries(await channelExamples())) console.log(`${k}:\n${v}\n`);
