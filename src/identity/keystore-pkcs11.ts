/**
 * @module identity/keystore-pkcs11
 * Keys in a secure element, TPM or HSM through PKCS#11 (Node): generated in the token, found by label,
 * used there to sign, never exported (private keys are sensitive and non-extractable from birth). Only the
 * public key leaves. The binding, pkcs11js, is an optional peer dependency loaded when a store is opened.
 *
 * A token that goes away (pulled, reset, its daemon restarted) fails the signature in progress with
 * ID_TOKEN_ABSENT, and the store reconnects (module, session, login, key) on its next use: a signature
 * either comes back whole or not at all, so a caller never holds two for one state.
 */
import { createHash } from 'node:crypto';
import { PUBLIC_KEY_LENGTH, type Signer } from '../crypto/ed25519.js';
import { lowS } from '../crypto/es256.js';
import { sha256 } from '../crypto/hash.js';
import { IdentityError } from '../errors.js';
import { checkKeyName, type KeyStore } from './keystore.js';

type Pkcs11Module = typeof import('pkcs11js');
type Pkcs11 = InstanceType<Pkcs11Module['PKCS11']>;
type Handle = Buffer;

/** PKCS#11 3.0 values pkcs11js does not name (Ed25519 keys: RFC 8032 through the EdDSA mechanism). */
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
/** The curve as PKCS#11 3.0 names it by OID: id-Ed25519 (1.3.101.112, RFC 8410). */
const ED25519_PARAMS = Buffer.from([0x06, 0x03, 0x2b, 0x65, 0x70]);
/** P-256 (secp256r1, 1.2.840.10045.3.1.7), for ES256 keys. */
const P256_PARAMS = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
const CKK_EC = 0x03;
const CKM_EC_KEY_PAIR_GEN = 0x1040;
const CKM_ECDSA = 0x1041;

export interface Pkcs11Options {
  /** The token's PKCS#11 library (`/usr/lib/softhsm/libsofthsm2.so`, a TPM's or secure element's). */
  module: string;
  /** The token's label. */
  token: string;
  /** The user PIN, or where to get it (asked again when the store reconnects to a token that came back). */
  pin: string | (() => string | Promise<string>);
}

/**
 * One loaded module per library path (PKCS#11 initializes a library once per process), with how many
 * times it was started again, and a hash of the PIN each token was logged in with: login is per token,
 * not per session, so a second store must not get in on the first one's login with a wrong PIN.
 */
interface Module {
  p11: Pkcs11;
  generation: number;
  pins: Map<string, string>;
}
const modules = new Map<string, Module>();

const pinHash = (pin: string) => createHash('sha256').update(`edgepay-pkcs11-pin\0${pin}`).digest('hex');

function loadModule(m: Pkcs11Module, path: string): Module {
  let entry = modules.get(path);
  if (!entry) {
    const p11 = new m.PKCS11();
    try {
      p11.load(path);
    } catch (e) {
      throw new IdentityError('ID_TOKEN', `cannot load the PKCS#11 library ${path}: ${(e as Error).message}`, 'module', { cause: e });
    }
    entry = { p11, generation: 0, pins: new Map() };
    modules.set(path, entry);
    initialize(entry.p11);
  }
  return entry;
}

function initialize(p11: Pkcs11): void {
  try {
    p11.C_Initialize();
  } catch (e) {
    if (ckr(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw e;
  }
}

/** Starts the module again (the only way a token that went away comes back): every store on it reconnects. */
function restart(entry: Module): void {
  try {
    entry.p11.C_Finalize();
  } catch {} // already finalized
  entry.generation++;
  entry.pins.clear();
}

/** The CKR_ name of a PKCS#11 failure, if it is one. */
const ckr = (e: unknown): string | undefined => {
  const m = /^CKR_[A-Z_]+/.exec((e as Error)?.message ?? '');
  return m?.[0];
};

/** Failures that mean the token, its session or its objects are gone: reconnect before the next call. */
const GONE = new Set([
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_DEVICE_ERROR',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
]);
const PIN = new Set(['CKR_PIN_INCORRECT', 'CKR_PIN_INVALID', 'CKR_PIN_LEN_RANGE', 'CKR_PIN_LOCKED', 'CKR_PIN_EXPIRED']);

/** A PKCS#11 failure as an IdentityError with a stable code (the CKR_ name stays in the message). */
function tokenError(e: unknown, what: string, token: string): IdentityError {
  if (e instanceof IdentityError) return e;
  const name = ckr(e);
  if (name && PIN.has(name)) return new IdentityError('ID_TOKEN_PIN', `token ${token} refused the PIN (${name})`, 'pin', { cause: e });
  if (name && GONE.has(name))
    return new IdentityError('ID_TOKEN_ABSENT', `token ${token} went away while ${what} (${name}); nothing was signed`, 'token', {
      cause: e,
    });
  return new IdentityError('ID_TOKEN', `token ${token} failed while ${what}: ${(e as Error)?.message ?? String(e)}`, 'token', { cause: e });
}

/** An attribute's value as the token gave it. @throws IdentityError ID_TOKEN when it gave none. */
function attr(a: { value?: unknown } | undefined): Buffer {
  if (!Buffer.isBuffer(a?.value)) throw new IdentityError('ID_TOKEN', 'the token answered without the attribute asked for', 'token');
  return a.value;
}

/**
 * The public key from CKA_EC_POINT, a DER OCTET STRING (PKCS#11 3.0) or the raw bytes (some tokens): 32
 * bytes for Ed25519, the 65-byte uncompressed point for P-256.
 */
function publicPoint(v: Buffer, kind: number): Uint8Array {
  const size = kind === CKK_EC ? 65 : PUBLIC_KEY_LENGTH;
  if (v.length === size + 2 && v[0] === 0x04 && v[1] === size) return new Uint8Array(v.subarray(2));
  if (v.length === size) return new Uint8Array(v);
  throw new IdentityError(
    'ID_KEY_TYPE',
    `the token's public key is ${v.length} bytes, not a ${kind === CKK_EC ? 'P-256' : 'Ed25519'} point`,
    'key',
  );
}

/**
 * Device and party keys in a PKCS#11 token. The PIN comes from the caller, never from the SDK's files.
 * @example const keys = await Pkcs11KeyStore.open({ module: '/usr/lib/softhsm/libsofthsm2.so', token: 'edge', pin });
 *          const signer = (await keys.get('device')) ?? (await keys.generate('device'));
 */
export class Pkcs11KeyStore implements KeyStore {
  private session: Handle | undefined;
  private generation = -1;
  /** Calls into the token one at a time: a session does one operation at once. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly signers = new Map<string, Signer>();

  private constructor(
    private readonly m: Pkcs11Module,
    private readonly o: Pkcs11Options,
  ) {}

  /**
   * Opens the token named `token` in `module` and logs in with the PIN.
   * @throws IdentityError ID_DEPENDENCY without pkcs11js; ID_TOKEN_ABSENT when no token has that label;
   *   ID_TOKEN_PIN for a refused PIN; ID_TOKEN for a library that cannot load.
   */
  static async open(o: Pkcs11Options): Promise<Pkcs11KeyStore> {
    let m: Pkcs11Module;
    try {
      const loaded = (await import('pkcs11js')) as Pkcs11Module & { default?: Pkcs11Module };
      m = loaded.default ?? loaded;
    } catch (e) {
      throw new IdentityError(
        'ID_DEPENDENCY',
        'keys in a PKCS#11 token need the optional package pkcs11js: npm install pkcs11js',
        'pkcs11',
        {
          cause: e,
        },
      );
    }
    const store = new Pkcs11KeyStore(m, o);
    await store.run('opening', () => undefined);
    return store;
  }

  /** `fn` with a live, logged-in session: reconnected first if the module was reinitialized or the session lost. */
  private run<T>(what: string, fn: (p11: Pkcs11, session: Handle) => T | Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      const entry = loadModule(this.m, this.o.module);
      if (this.session === undefined || this.generation !== entry.generation) await this.connect(entry);
      try {
        return await fn(entry.p11, this.session as Handle);
      } catch (e) {
        const err = tokenError(e, what, this.o.token);
        if (err.code === 'ID_TOKEN_ABSENT') this.lost(entry);
        throw err;
      }
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** The token went away: the module is started again (the only way its objects come back) and every store reconnects. */
  private lost(entry: Module): void {
    if (this.generation === entry.generation) restart(entry);
    this.session = undefined;
    this.signers.clear();
  }

  private async connect(entry: Module): Promise<void> {
    const { p11 } = entry;
    const m = this.m;
    try {
      initialize(p11);
      const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === this.o.token);
      if (!slot) {
        // The module's view of its slots is from when it started: started again, it sees a token put back.
        restart(entry);
        throw new IdentityError('ID_TOKEN_ABSENT', `no token labelled ${this.o.token} in ${this.o.module}`, 'token');
      }
      const session = p11.C_OpenSession(slot, m.CKF_RW_SESSION | m.CKF_SERIAL_SESSION);
      const pin = typeof this.o.pin === 'function' ? await this.o.pin() : this.o.pin;
      try {
        p11.C_Login(session, m.CKU_USER, pin);
        entry.pins.set(this.o.token, pinHash(pin));
      } catch (e) {
        // Login is per token, not per session: another store on the same token logged in, with the PIN the
        // token took. A token has one user PIN, so a different one here is a wrong one.
        const known = entry.pins.get(this.o.token);
        if (ckr(e) !== 'CKR_USER_ALREADY_LOGGED_IN' || (known !== undefined && known !== pinHash(pin))) {
          p11.C_CloseSession(session);
          throw ckr(e) === 'CKR_USER_ALREADY_LOGGED_IN' ? new Error('CKR_PIN_INCORRECT (not the PIN this token was opened with)') : e;
        }
      }
      this.session = session;
      this.generation = entry.generation;
    } catch (e) {
      throw tokenError(e, 'opening a session', this.o.token);
    }
  }

  /** The handles of the key pair labelled `name`, if there is one. */
  private find(p11: Pkcs11, session: Handle, name: string, cls: number): Handle | undefined {
    p11.C_FindObjectsInit(session, [
      { type: this.m.CKA_CLASS, value: cls },
      { type: this.m.CKA_LABEL, value: name },
    ]);
    try {
      return p11.C_FindObjects(session) ?? undefined;
    } finally {
      p11.C_FindObjectsFinal(session);
    }
  }

  private signer(name: string, publicKey: Uint8Array): Signer {
    const cached = this.signers.get(name);
    if (cached) return cached;
    const s: Signer = {
      publicKey,
      sign: (message) =>
        this.run(`signing with ${name}`, async (p11, session) => {
          // Found again each time: after a reconnect the handles are new.
          const key = this.find(p11, session, name, this.m.CKO_PRIVATE_KEY);
          if (!key) throw new IdentityError('ID_TOKEN_ABSENT', `key ${name} is no longer in token ${this.o.token}`, 'name');
          if (publicKey.length === 65) {
            // ES256: the token signs SHA-256 of the message (CKM_ECDSA takes the hash) as r || s; written low-S.
            p11.C_SignInit(session, { mechanism: CKM_ECDSA }, key);
            return lowS(new Uint8Array(await p11.C_SignAsync(session, Buffer.from(sha256(message)), Buffer.alloc(64))));
          }
          p11.C_SignInit(session, { mechanism: CKM_EDDSA }, key);
          const signature = await p11.C_SignAsync(session, Buffer.from(message), Buffer.alloc(64));
          return new Uint8Array(signature);
        }),
    };
    this.signers.set(name, s);
    return s;
  }

  /**
   * Generates a key pair inside the token, labelled `name`: Ed25519, or P-256 for ES256 (`{ alg: 'ES256' }`,
   * for tokens and secure elements that do only P-256). The private key is sensitive and never extractable.
   * @throws IdentityError ID_KEY_EXISTS, ID_KEY_NAME, ID_TOKEN_*.
   */
  async generate(name: string, options: { alg?: 'EdDSA' | 'ES256' } = {}): Promise<Signer> {
    checkKeyName(name);
    const m = this.m;
    const es256 = options.alg === 'ES256';
    const publicKey = await this.run(`generating ${name}`, async (p11, session) => {
      if (this.find(p11, session, name, m.CKO_PRIVATE_KEY))
        throw new IdentityError('ID_KEY_EXISTS', `key ${name} exists in token ${this.o.token}`, 'name');
      const pair = await p11.C_GenerateKeyPairAsync(
        session,
        { mechanism: es256 ? CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN },
        [
          { type: m.CKA_TOKEN, value: true },
          { type: m.CKA_LABEL, value: name },
          { type: m.CKA_EC_PARAMS, value: es256 ? P256_PARAMS : ED25519_PARAMS },
          { type: m.CKA_VERIFY, value: true },
        ],
        [
          { type: m.CKA_TOKEN, value: true },
          { type: m.CKA_LABEL, value: name },
          { type: m.CKA_PRIVATE, value: true },
          { type: m.CKA_SENSITIVE, value: true },
          { type: m.CKA_EXTRACTABLE, value: false },
          { type: m.CKA_SIGN, value: true },
        ],
      );
      const [point] = p11.C_GetAttributeValue(session, pair.publicKey, [{ type: m.CKA_EC_POINT }]);
      return publicPoint(attr(point), es256 ? CKK_EC : CKK_EC_EDWARDS);
    });
    return this.signer(name, publicKey);
  }

  /**
   * Refused: a key that existed outside the token could have been copied; a token key is generated in it.
   * @throws IdentityError ID_KEY_IMPORT
   */
  async importKey(name: string): Promise<Signer> {
    throw new IdentityError(
      'ID_KEY_IMPORT',
      `keys in token ${this.o.token} are generated there (generate('${name}')), never imported`,
      'name',
    );
  }

  /**
   * The signer for the key labelled `name`, or undefined.
   * @throws IdentityError ID_KEY_TYPE when that key is not Ed25519; ID_TOKEN_*.
   */
  async get(name: string): Promise<Signer | undefined> {
    checkKeyName(name);
    const m = this.m;
    const publicKey = await this.run(`reading ${name}`, (p11, session) => {
      const pub = this.find(p11, session, name, m.CKO_PUBLIC_KEY);
      if (!pub || !this.find(p11, session, name, m.CKO_PRIVATE_KEY)) return undefined;
      const [type, point] = p11.C_GetAttributeValue(session, pub, [{ type: m.CKA_KEY_TYPE }, { type: m.CKA_EC_POINT }]);
      const raw = attr(type);
      const kind = raw.readUIntLE(0, Math.min(raw.length, 6));
      if (kind !== CKK_EC_EDWARDS && kind !== CKK_EC)
        throw new IdentityError('ID_KEY_TYPE', `key ${name} in token ${this.o.token} is neither Ed25519 nor P-256`, 'name');
      const key = publicPoint(attr(point), kind);
      if (kind === CKK_EC) {
        // Only P-256: the curve is named in the key's parameters.
        const [params] = p11.C_GetAttributeValue(session, pub, [{ type: m.CKA_EC_PARAMS }]);
        if (!attr(params).equals(P256_PARAMS)) throw new IdentityError('ID_KEY_TYPE', `key ${name} is on a curve other than P-256`, 'name');
      }
      return key;
    });
    return publicKey && this.signer(name, publicKey);
  }

  /** The labels of the token's private keys. */
  async list(): Promise<string[]> {
    const m = this.m;
    return this.run('listing keys', (p11, session) => {
      p11.C_FindObjectsInit(session, [{ type: m.CKA_CLASS, value: m.CKO_PRIVATE_KEY }]);
      const names: string[] = [];
      try {
        for (let h = p11.C_FindObjects(session); h; h = p11.C_FindObjects(session)) {
          const [label] = p11.C_GetAttributeValue(session, h, [{ type: m.CKA_LABEL }]);
          names.push(attr(label).toString('utf8'));
        }
      } finally {
        p11.C_FindObjectsFinal(session);
      }
      return names.sort();
    });
  }

  /** Destroys the key pair labelled `name` in the token; true when it existed. */
  async delete(name: string): Promise<boolean> {
    checkKeyName(name);
    const m = this.m;
    this.signers.delete(name);
    return this.run(`deleting ${name}`, (p11, session) => {
      let found = false;
      for (const cls of [m.CKO_PRIVATE_KEY, m.CKO_PUBLIC_KEY])
        for (let h = this.find(p11, session, name, cls); h; h = this.find(p11, session, name, cls)) {
          p11.C_DestroyObject(session, h);
          found = true;
        }
      return found;
    });
  }

  /** Logs out and closes the session (the module stays loaded for other stores). */
  async close(): Promise<void> {
    await this.queue;
    const entry = modules.get(this.o.module);
    if (!entry || this.session === undefined || this.generation !== entry.generation) return;
    try {
      entry.p11.C_CloseSession(this.session);
    } catch {} // the token may be gone already
    this.session = undefined;
    this.signers.clear();
  }
}
