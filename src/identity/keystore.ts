/**
 * @module identity/keystore
 * Where device and party keys live. The SDK only ever asks a store for a {@link Signer}; a secure
 * element or HSM implements {@link KeyStore} and never lets the key out. Provided: memory (tests), an
 * encrypted file store on Node, a non-extractable WebCrypto key in IndexedDB in browsers.
 */
import type { Signer } from '../crypto/ed25519.js';
import { createSigner, generateSecretKey } from '../crypto/index.js';
import { IdentityError } from '../errors.js';

/** Where a device's secret keys live, by name; a secure element or HSM can sit behind the same interface. */
export interface KeyStore {
  /**
   * Creates a new key inside the store.
   * @throws IdentityError ID_KEY_EXISTS when `name` is taken (a key is never overwritten), ID_KEY_NAME.
   */
  generate(name: string): Promise<Signer>;
  /** Stores an existing 32-byte secret key (migration, tests). Same errors as `generate`. */
  importKey(name: string, secretKey: Uint8Array): Promise<Signer>;
  /** The signer for `name`, or undefined when there is none. */
  get(name: string): Promise<Signer | undefined>;
  list(): Promise<string[]>;
  /** Deletes a key (after rotation); true when it existed. */
  delete(name: string): Promise<boolean>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** @throws IdentityError ID_KEY_NAME unless 1-64 characters of letters, digits, `.`, `_`, `-` (so also a safe file name). */
export function checkKeyName(name: string): string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new IdentityError('ID_KEY_NAME', 'key names are 1-64 letters, digits, ".", "_" or "-"', 'name');
  return name;
}

/** Keys in memory: for tests and simulators. */
export class MemoryKeyStore implements KeyStore {
  private readonly keys = new Map<string, Signer>();

  async generate(name: string): Promise<Signer> {
    return this.importKey(name, generateSecretKey());
  }

  async importKey(name: string, secretKey: Uint8Array): Promise<Signer> {
    checkKeyName(name);
    if (this.keys.has(name)) throw new IdentityError('ID_KEY_EXISTS', `key ${name} exists`, 'name');
    const s = await createSigner(secretKey);
    this.keys.set(name, s);
    return s;
  }

  async get(name: string): Promise<Signer | undefined> {
    return this.keys.get(name);
  }

  async list(): Promise<string[]> {
    return [...this.keys.keys()].sort();
  }

  async delete(name: string): Promise<boolean> {
    return this.keys.delete(name);
  }
}
