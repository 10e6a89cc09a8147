/**
 * @module errors
 * Every failure edgepay reports on purpose is an {@link EdgepayError}: a stable `code` a caller can
 * `switch` on, and the `field` at fault, so a log line says what went wrong and where.
 * The codes are listed in docs/errors.md; a code, once published, never changes meaning.
 */

/** Base class of all edgepay errors. */
export class EdgepayError extends Error {
  /** Stable machine-readable code, e.g. `CBOR_NON_CANONICAL`. */
  readonly code: string;
  /** The input field at fault (a path such as `payload[2].amount`), when there is one. */
  readonly field: string | undefined;

  constructor(code: string, message: string, field?: string, options?: { cause?: unknown }) {
    super(field === undefined ? `${code}: ${message}` : `${code} at ${field}: ${message}`, options);
    this.name = new.target.name;
    this.code = code;
    this.field = field;
  }
}

/** Malformed, non-deterministic or out-of-limits CBOR, or a value CBOR cannot carry. */
export class CodecError extends EdgepayError {}

/** A COSE structure that is malformed, uses an unsupported algorithm or header, or fails to verify. */
export class CoseError extends EdgepayError {}

/** A key or signature of the wrong shape, or a crypto provider that is not available here. */
export class CryptoError extends EdgepayError {}

/** True when `err` is an edgepay error, optionally with the given code. */
export function isEdgepayError(err: unknown, code?: string): err is EdgepayError {
  return err instanceof EdgepayError && (code === undefined || err.code === code);
}

/** A credential chain, revocation list or key store that fails a check (see docs/errors.md). */
export class IdentityError extends EdgepayError {}

/** A channel message or state change refused by the protocol rules (see docs/errors.md). */
export class ChannelError extends EdgepayError {}

/** A transport that cannot take a frame (too large, closed, not connected in time). */
export class TransportError extends EdgepayError {}

/** An outbox that cannot take or serve a record (see docs/errors.md). */
export class OutboxError extends EdgepayError {}

/** A settlement the ledger refuses, or a ledger call that fails (see docs/errors.md). */
export class LedgerError extends EdgepayError {}

/** A sync that cannot reach or use the ledger, or a ledger answer that fails a check (see docs/errors.md). */
export class SyncError extends EdgepayError {}
