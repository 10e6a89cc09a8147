/**
 * @module identity/keystore-file
 * Node: one file per key, `<dir>/<name>.key`, an encrypted envelope (see key-envelope) written atomically
 * with mode 0600 in a 0700 directory. Keys are never overwritten. Imported by targets/node only.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signer } from '../crypto/ed25519.js';
import { createSigner, generateSecretKey, getEd25519 } from '../crypto/index.js';
import { IdentityError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { type EnvelopeOptions, envelopePublicKey, openKey, sealKey } from './key-envelope.js';
import { checkKeyName, type KeyStore } from './keystore.js';

/**
 * Device keys in files, each sealed with a passphrase (scrypt and AES-256-GCM), written atomically and never
 * overwritten (Node).
 */
export class FileKeyStore implements KeyStore {
  private readonly cache = new Map<string, Signer>();

  /**
   * @param dir the directory holding the key files (created 0700 when absent)
   * @param passphrase what the keys are encrypted under
   */
  constructor(
    readonly dir: string,
    private readonly passphrase: string,
    private readonly options: EnvelopeOptions = {},
  ) {}

  private path(name: string): string {
    return join(this.dir, `${checkKeyName(name)}.key`);
  }

  async generate(name: string): Promise<Signer> {
    return this.importKey(name, generateSecretKey());
  }

  async importKey(name: string, secretKey: Uint8Array): Promise<Signer> {
    const path = this.path(name);
    const publicKey = await (await getEd25519()).getPublicKey(secretKey);
    const envelope = await sealKey(name, secretKey, publicKey, this.passphrase, this.options);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    try {
      await writeFileAtomic(path, envelope, 0o600, true);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST')
        throw new IdentityError('ID_KEY_EXISTS', `key ${name} exists in ${this.dir}`, 'name');
      throw e;
    }
    const signer = await createSigner(secretKey);
    this.cache.set(name, signer);
    return signer;
  }

  async get(name: string): Promise<Signer | undefined> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const envelope = await this.read(name);
    if (envelope === undefined) return undefined;
    const { secretKey } = await openKey(name, envelope, this.passphrase);
    const signer = await createSigner(secretKey);
    secretKey.fill(0);
    this.cache.set(name, signer);
    return signer;
  }

  /** The public key of `name` without the passphrase. */
  async publicKey(name: string): Promise<Uint8Array | undefined> {
    const envelope = await this.read(name);
    return envelope === undefined ? undefined : envelopePublicKey(envelope);
  }

  private async read(name: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.path(name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir))
        .filter((f) => f.endsWith('.key'))
        .map((f) => f.slice(0, -4))
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async delete(name: string): Promise<boolean> {
    this.cache.delete(name);
    const existed = (await this.read(name)) !== undefined;
    await rm(this.path(name), { force: true });
    return existed;
  }
}
