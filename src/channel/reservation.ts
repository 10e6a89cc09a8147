/**
 * @module channel/reservation
 * Reservation tickets: the ledger locks a party's funds for one payer's channels and signs a ticket; a
 * payee verifies it offline with the ledger's key, and the channel is then guaranteed while offline.
 * The ledger issues them (see the ledger); this module defines and verifies them.
 *
 * ```
 * COSE_Sign1, protected { 1: -8, 3: "application/edgepay-reservation+cbor", 4: ledger key kid }
 * payload { 1 ledger: tstr, 2 id: bstr 16, 3 payerKid: bstr 32, ? 4 payeeKid: bstr 32, 5 asset: tstr,
 *           6 amount: uint, 7 expiresAt: uint }
 * ```
 */
import { equalBytes, toHex } from '../bytes.js';
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { decodeSign1, signSign1, verifySign1 } from '../codec/cose-sign1.js';
import { asAmount, asBytes, asMap, asText, asTime, need, onlyKeys } from '../codec/fields.js';
import type { Signer } from '../crypto/ed25519.js';
import { ChannelError, EdgepayError } from '../errors.js';
import type { TrustRoot } from '../identity/trust-store.js';

export const RESERVATION_CONTENT_TYPE = 'application/edgepay-reservation+cbor';

export interface Reservation {
  /** The ledger's id. */
  ledger: string;
  id: Uint8Array;
  payerKid: Uint8Array;
  /** When set, only this payee may rely on the ticket. */
  payeeKid?: Uint8Array | undefined;
  asset: string;
  amount: bigint;
  expiresAt: number;
}

/** The ledger signs a reservation ticket. */
export function signReservation(ledger: Signer, r: Reservation): Promise<Uint8Array> {
  const m = new Map<number, CborValue>([
    [1, r.ledger],
    [2, r.id],
    [3, r.payerKid],
    [5, r.asset],
    [6, r.amount],
    [7, r.expiresAt],
  ]);
  if (r.payeeKid) m.set(4, r.payeeKid);
  return signSign1(encode(m), ledger, { kid: coseKeyThumbprint(ledger.publicKey), contentType: RESERVATION_CONTENT_TYPE });
}

/** The id a ticket names (not verified: the ledger compares the ticket with the one it stored). */
export function reservationId(ticket: Uint8Array): Uint8Array {
  const s = decodeSign1(ticket);
  if (s.contentType !== RESERVATION_CONTENT_TYPE || s.payload === null)
    throw new ChannelError('CH_RESERVATION', 'not a reservation ticket', 'reservation');
  return asBytes(need(asMap(decode(s.payload), 'reservation'), 2, 'reservation.id'), 'reservation.id', 16);
}

/**
 * Verifies a ticket against trusted ledger keys and the channel it is meant to guarantee.
 * @throws ChannelError CH_RESERVATION naming what does not hold.
 */
export async function verifyReservation(
  bytes: Uint8Array,
  ctx: {
    ledgers: readonly TrustRoot[];
    payerKid: Uint8Array;
    payeeKid: Uint8Array;
    asset: string;
    cap: bigint;
    channelExpiresAt: number;
    now: number;
  },
): Promise<Reservation> {
  const fail = (why: string, field: string): never => {
    throw new ChannelError('CH_RESERVATION', why, field);
  };
  let r: Reservation;
  let sign1: ReturnType<typeof decodeSign1>;
  try {
    sign1 = decodeSign1(bytes);
    if (sign1.contentType !== RESERVATION_CONTENT_TYPE || sign1.payload === null) return fail('not a reservation ticket', 'reservation');
    const m = asMap(decode(sign1.payload), 'reservation');
    onlyKeys(m, [1, 2, 3, 4, 5, 6, 7], 'reservation');
    r = {
      ledger: asText(need(m, 1, 'reservation.ledger'), 'reservation.ledger'),
      id: asBytes(need(m, 2, 'reservation.id'), 'reservation.id', 16),
      payerKid: asBytes(need(m, 3, 'reservation.payer'), 'reservation.payer', 32),
      payeeKid: m.has(4) ? asBytes(m.get(4), 'reservation.payee', 32) : undefined,
      asset: asText(need(m, 5, 'reservation.asset'), 'reservation.asset', 32),
      amount: asAmount(need(m, 6, 'reservation.amount'), 'reservation.amount'),
      expiresAt: asTime(need(m, 7, 'reservation.expiresAt'), 'reservation.expiresAt'),
    };
  } catch (e) {
    if (e instanceof ChannelError || !(e instanceof EdgepayError)) throw e;
    return fail(`malformed ticket: ${e.message}`, 'reservation');
  }
  const kid = sign1.kid ? toHex(sign1.kid) : '';
  const ledger = ctx.ledgers.find((l) => toHex(coseKeyThumbprint(l.publicKey)) === kid);
  if (!ledger) return fail('signed by no trusted ledger key', 'reservation.kid');
  if (ledger.id !== r.ledger) return fail(`names ledger ${r.ledger}, signed by ${ledger.id}`, 'reservation.ledger');
  try {
    await verifySign1(sign1, ledger.publicKey);
  } catch {
    return fail('the ledger signature does not verify', 'reservation.signature');
  }
  if (!equalBytes(r.payerKid, ctx.payerKid)) fail('issued for another payer', 'reservation.payer');
  if (r.payeeKid && !equalBytes(r.payeeKid, ctx.payeeKid)) fail('issued for another payee', 'reservation.payee');
  if (r.asset !== ctx.asset) fail(`in ${r.asset}, the channel is in ${ctx.asset}`, 'reservation.asset');
  if (r.amount < ctx.cap) fail(`reserves ${r.amount}, less than the cap ${ctx.cap}`, 'reservation.amount');
  if (r.expiresAt < ctx.channelExpiresAt || r.expiresAt <= ctx.now) fail('expires before the channel does', 'reservation.expiresAt');
  return r;
}
