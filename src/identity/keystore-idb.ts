/**
 * @module identity/keystore-idb
 * Browsers: keys in IndexedDB (via idb-keyval). Where the browser has WebCrypto Ed25519 the key is
 * generated inside WebCrypto as non-extractable and IndexedDB stores the opaque CryptoKey: script can
 * sign with it but never read it. Elsewhere the key is kept in an encrypted envelope (a passphrase is
 * then required). Imported by targets/browser only.
 */
import { createStore, del, get, keys, promisifyRequest, set, type UseStore } from 'idb-keyval';
import type { Signer } from '../crypto/ed25519.js';
import { createSigner, detectWebCryptoEd25519, generateSecretKey, getEd25519 } from '../crypto/index.js';
import { IdentityError } from '../errors.js';
import { type EnvelopeOptions, openKey, sealKey } from './key-envelope.js';
import { checkKeyName, type KeyStore } from './keystore.js';

type Stored = { publicKey: Uint8Array; privateKey: CryptoKey } | { publicKey: Uint8Array; envelope: Uint8Array };

const ALG = { name: 'Ed25519' } as const;
const bs = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

export interface IdbKeyStoreOptions extends EnvelopeOptions {
  /** IndexedDB database name (default `edgepay-keys`). */
  dbName?: string;
  /** Needed only where WebCrypto lacks Ed25519 (keys are then encrypted with it). */
  passphrase?: string;
}

/** Device keys in IndexedDB (browsers): non-extractable WebCrypto keys where the browser has Ed25519. */
export class IdbKeyStore implements KeyStore {
  private readonly store: UseStore;
  private readonly cache = new Map<string, Signer>();

  constructor(private readonly options: IdbKeyStoreOptions = {}) {
    this.store = createStore(options.dbName ?? 'edgepay-keys', 'keys');
  }

  async generate(name: string): Promise<Signer> {
    checkKeyName(name);
    if (await detectWebCryptoEd25519()) {
      const pair = (await crypto.subtle.generateKey(ALG, false, ['sign', 'verify'])) as CryptoKeyPair;
      const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
      return this.put(name, { publicKey, privateKey: pair.privateKey });
    }
    return this.importKey(name, generateSecretKey());
  }

  async importKey(name: string, secretKey: Uint8Array): Promise<Signer> {
    checkKeyName(name);
    const publicKey = await (await getEd25519()).getPublicKey(secretKey);
    if (await detectWebCryptoEd25519()) {
      // PKCS#8 import as non-extractable: from here on the key exists only inside WebCrypto.
      const pkcs8 = new Uint8Array([
        0x30,
        0x2e,
        0x02,
        0x01,
        0x00,
        0x30,
        0x05,
        0x06,
        0x03,
        0x2b,
        0x65,
        0x70,
        0x04,
        0x22,
        0x04,
        0x20,
        ...secretKey,
      ]);
      const privateKey = await crypto.subtle.importKey('pkcs8', bs(pkcs8), ALG, false, ['sign']);
      pkcs8.fill(0);
      return this.put(name, { publicKey, privateKey });
    }
    if (this.options.passphrase === undefined)
      throw new IdentityError(
        'ID_KEY_PASSPHRASE',
        'this browser lacks WebCrypto Ed25519: a passphrase is needed to encrypt keys',
        'passphrase',
      );
    return this.put(name, { publicKey, envelope: await sealKey(name, secretKey, publicKey, this.options.passphrase, this.options) });
  }

  private async put(name: string, stored: Stored): Promise<Signer> {
    if ((await get(name, this.store)) !== undefined) throw new IdentityError('ID_KEY_EXISTS', `key ${name} exists`, 'name');
    await set(name, stored, this.store);
    return this.signerOf(name, stored);
  }

  private async signerOf(name: string, stored: Stored): Promise<Signer> {
    let signer: Signer;
    if ('privateKey' in stored) {
      const key = stored.privateKey;
      signer = { publicKey: stored.publicKey, sign: async (m) => new Uint8Array(await crypto.subtle.sign(ALG, key, bs(m))) };
    } else {
      if (this.options.passphrase === undefined)
        throw new IdentityError('ID_KEY_PASSPHRASE', 'a passphrase is needed to open this key', 'passphrase');
      const { secretKey } = await openKey(name, stored.envelope, this.options.passphrase);
      signer = await createSigner(secretKey);
      secretKey.fill(0);
    }
    this.cache.set(name, signer);
    return signer;
  }

  async get(name: string): Promise<Signer | undefined> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const stored = (await get(checkKeyName(name), this.store)) as Stored | undefined;
    return stored === undefined ? undefined : this.signerOf(name, stored);
  }

  async list(): Promise<string[]> {
    return ((await keys(this.store)) as string[]).sort();
  }

  async delete(name: string): Promise<boolean> {
    this.cache.delete(name);
    const existed = (await get(checkKeyName(name), this.store)) !== undefined;
    await del(name, this.store);
    return existed;
  }
}

/**
 * Trust-store persistence in IndexedDB: the state under `key`, and each party learned since under
 * `[key, n]`, so a new party is one small write, not a rewrite of every party. A save writes the state
 * and clears those entries in one transaction: either both happen or neither.
 */
export function idbPersistence(key = 'trust-store', dbName = 'edgepay-state'): import('./trust-store.js').Persistence {
  const store = createStore(dbName, 'state');
  const appended = () => IDBKeyRange.bound([key, 0], [key, Number.MAX_SAFE_INTEGER]);
  let next: number | undefined;
  // The index after the newest appended entry (from the database the first time: entries may predate us).
  const nextIndex = async () => {
    next ??= await store('readonly', async (s) => {
      const last = (await promisifyRequest(s.openKeyCursor(appended(), 'prev')))?.key as [string, number] | undefined;
      return last ? last[1] + 1 : 0;
    });
    return next++;
  };
  return {
    load: () => get(key, store),
    save: (bytes) =>
      store('readwrite', (s) => {
        s.put(bytes, key);
        s.delete(appended());
        return promisifyRequest(s.transaction);
      }),
    append: async (record) => set([key, await nextIndex()], record, store),
    loadAppended: () => store('readonly', (s) => promisifyRequest(s.getAll(appended()))) as Promise<Uint8Array[]>,
  };
}
