/**
 * @module base64
 * base64 and base64url (RFC 4648) over the platform's `btoa`/`atob` (Node 16+ and every browser), with
 * the validation `atob` lacks for base64url and a clear error instead of a DOMException.
 */
import { CryptoError } from './errors.js';

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** base64url without padding (JWK, JOSE). */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Decodes base64 or base64url, padded or not.
 * @throws CryptoError CRYPTO_BYTES on characters outside the alphabet or an impossible length.
 */
export function fromBase64Url(text: string, field = 'base64'): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) throw new CryptoError('CRYPTO_BYTES', 'not base64', field);
  const s = text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  if (s.length % 4 === 1) throw new CryptoError('CRYPTO_BYTES', 'not base64 (impossible length)', field);
  const bin = atob(s + '='.repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
