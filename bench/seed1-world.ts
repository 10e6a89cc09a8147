/**
 * The seed trial's world (`npm run bench -- seed1`): a network issuer, one merchant party with a
 * point-of-sale device, and N account parties, each with one device. Account k holds k minor units and
 * pays them all to the merchant over one channel: the open (its terms carry the account device's chain),
 * the merchant's accept and one voucher for k. Keys are derived from the seed and k, so worker threads
 * and ledger processes rebuild the same world without sharing state.
 */
import { open as openFile } from 'node:fs/promises';
import { signAccept, signOpen, signVoucher } from '../src/channel/messages.js';
import { coseKeyThumbprint } from '../src/codec/cose-key.js';
import type { Signer } from '../src/crypto/ed25519.js';
import { sha256 } from '../src/crypto/hash.js';
import { createSigner } from '../src/crypto/index.js';
import type { Limits } from '../src/identity/claims.js';
import { encodeChain, issueCredential } from '../src/identity/credential.js';
import { encodeSettlementParts } from '../src/settlement/record.js';

export const ISSUER_ID = 'net';
export const ASSET = 'EUR';
export const MERCHANT = 'merchant';
/** Credentials are valid from a day before this to a year after; the ledger's clock is real time. */
const T0 = Math.floor(Date.UTC(2026, 0, 1) / 1000);
const BASE = { issuedAt: T0, notBefore: T0, expiresAt: T0 + 5 * 365 * 86_400 };
const LIMITS: Limits = {
  asset: ASSET,
  perPayment: 10n ** 12n,
  perChannel: 10n ** 12n,
  perPeriod: 10n ** 12n,
  periodSeconds: 86_400,
  totalOutstanding: 10n ** 12n,
};

export const key = (seed: string, name: string): Promise<Signer> =>
  createSigner(sha256(new TextEncoder().encode(`edgepay-seed1:${seed}:${name}`)));

export const accountParty = (k: number) => `acct:${k}`;

export interface Seed1World {
  issuer: Signer;
  roots: { id: string; publicKey: Uint8Array }[];
  ledgerKey: Signer;
  merchant: { signer: Signer; chain: Uint8Array; kid: Uint8Array };
}

export async function seed1World(seed: string): Promise<Seed1World> {
  const issuer = await key(seed, 'issuer');
  const party = await key(seed, 'merchant-party');
  const pos = await key(seed, 'merchant-pos');
  const partyCred = await issueCredential(issuer, {
    ...BASE,
    role: 'party',
    issuer: ISSUER_ID,
    subject: MERCHANT,
    publicKey: party.publicKey,
    limits: LIMITS,
    category: 'merchant',
    paymentRef: 'DE89370400440532013000',
  });
  const posCred = await issueCredential(party, {
    ...BASE,
    role: 'device',
    issuer: MERCHANT,
    subject: 'device:merchant-pos',
    publicKey: pos.publicKey,
    limits: {},
    category: 'merchant',
  });
  return {
    issuer,
    roots: [{ id: ISSUER_ID, publicKey: issuer.publicKey }],
    ledgerKey: await key(seed, 'ledger'),
    merchant: { signer: pos, chain: encodeChain([partyCred, posCred]), kid: coseKeyThumbprint(pos.publicKey) },
  };
}

/** Account k's device: its keys and credential chain (party `acct:k`, device `device:acct-k`). */
export async function accountDevice(w: Seed1World, seed: string, k: number): Promise<{ signer: Signer; chain: Uint8Array }> {
  const party = await key(seed, `party-${k}`);
  const device = await key(seed, `device-${k}`);
  const partyCred = await issueCredential(w.issuer, {
    ...BASE,
    role: 'party',
    issuer: ISSUER_ID,
    subject: accountParty(k),
    publicKey: party.publicKey,
    limits: LIMITS,
    category: 'wallet',
  });
  const deviceCred = await issueCredential(party, {
    ...BASE,
    role: 'device',
    issuer: accountParty(k),
    subject: `device:acct-${k}`,
    publicKey: device.publicKey,
    limits: {},
    category: 'wallet',
  });
  return { signer: device, chain: encodeChain([partyCred, deviceCred]) };
}

/** The settlement record of account k paying its whole balance, k, to the merchant. */
export async function accountRecord(w: Seed1World, device: { signer: Signer; chain: Uint8Array }, k: number): Promise<Uint8Array> {
  const nonce = new Uint8Array(8);
  new DataView(nonce.buffer).setBigUint64(0, BigInt(k));
  const { bytes: open, channelId } = await signOpen(device.signer, {
    chain: device.chain,
    payeeKid: w.merchant.kid,
    asset: ASSET,
    cap: BigInt(k),
    unitPrice: 1n,
    expiresAt: BASE.expiresAt,
    nonce,
  });
  const accept = await signAccept(w.merchant.signer, channelId, w.merchant.chain);
  const voucher = await signVoucher(device.signer, { channelId, seq: 1, cumulative: BigInt(k) });
  return encodeSettlementParts({ open, accept, voucher });
}

/** Writes accounts [from, to) to `file`: per account, a 4-byte length and the chain, then the record. */
export async function writeAccounts(seed: string, from: number, to: number, file: string): Promise<void> {
  const w = await seed1World(seed);
  const fh = await openFile(file, 'w');
  let parts: Uint8Array[] = [];
  let size = 0;
  const flush = async () => {
    await fh.write(Buffer.concat(parts));
    parts = [];
    size = 0;
  };
  for (let k = from; k < to; k++) {
    const d = await accountDevice(w, seed, k);
    const record = await accountRecord(w, d, k);
    for (const b of [d.chain, record]) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      parts.push(len, b);
      size += 4 + b.length;
    }
    if (size > 4 * 1024 * 1024) await flush();
  }
  await flush();
  await fh.close();
}

/** Reads what {@link writeAccounts} wrote. */
export function readAccounts(bytes: Uint8Array): { chains: Uint8Array[]; records: Uint8Array[] } {
  const chains: Uint8Array[] = [];
  const records: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < bytes.length; ) {
    for (const into of [chains, records]) {
      const len = view.getUint32(at, true);
      into.push(bytes.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
  }
  return { chains, records };
}
