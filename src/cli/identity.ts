/**
 * @module cli/identity
 * `edgepay keygen | issuer init | party certify | device enroll | revoke | inspect`.
 *
 * Each role has a home directory: `<dir>/keys/<name>.key` (encrypted, 0600) and `<dir>/<name>.pub` (its
 * COSE_Key). The issuer's directory also holds `issuer.json` (its id).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { toHex } from '../bytes.js';
import { decode, encode } from '../codec/cbor.js';
import { coseKeyMap, coseKeyThumbprint, readCoseKey, toJwk } from '../codec/cose-key.js';
import { decodeSign1 } from '../codec/cose-sign1.js';
import type { Signer } from '../crypto/ed25519.js';
import { narrow, narrowCategories, verifyChain, verifyParty } from '../identity/chain.js';
import type { Limits } from '../identity/claims.js';
import { type Credential, CWT_CONTENT_TYPE, decodeChain, decodeCredential, encodeChain, issueCredential } from '../identity/credential.js';
import { FileKeyStore } from '../identity/keystore-file.js';
import { Pkcs11KeyStore } from '../identity/keystore-pkcs11.js';
import { decodeRevocationList, REVOCATION_CONTENT_TYPE, signRevocationList } from '../identity/revocation.js';
import { type TrustRoot, TrustStore } from '../identity/trust-store.js';
import { CliError, type Format, parseFormat, passphrase, printJson, readObject, toJson, writeObject } from './io.js';
import type { Settings } from './settings.js';

export type Out = (line: string) => void;
export type Values = Record<string, string | boolean | string[] | undefined>;

const DAY = 86_400;
const now = () => Math.floor(Date.now() / 1000);
export const COMMON = { 'passphrase-file': { type: 'string' }, format: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

export interface Command {
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Where its settings may also come from: environment variables and a config file (see cli/settings). */
  settings?: Settings;
  run(v: Values, positionals: string[], out: Out): Promise<number>;
}

export function str(v: Values, name: string, required = true): string {
  const x = v[name];
  if (typeof x === 'string' && x.length > 0) return x;
  if (required) throw new CliError('CLI_USAGE', `--${name} is required`, name);
  return '';
}

function amount(v: Values, name: string, required: boolean): bigint | undefined {
  const s = str(v, name, required);
  if (s === '') return undefined;
  if (/^-\d+$/.test(s)) throw new CliError('CLI_USAGE', `--${name} cannot be negative (${s})`, name);
  if (!/^\d+$/.test(s)) throw new CliError('CLI_USAGE', `--${name} takes a whole number of minor units, not ${JSON.stringify(s)}`, name);
  return BigInt(s);
}

export function int(v: Values, name: string, fallback?: number): number {
  const s = str(v, name, fallback === undefined);
  if (s === '') return fallback as number;
  if (!/^\d+$/.test(s)) throw new CliError('CLI_USAGE', `--${name} takes a whole number`, name);
  return Number(s);
}

const list = (v: Values, name: string) =>
  str(v, name, false) === ''
    ? undefined
    : str(v, name)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

export async function keyStore(dir: string, v: Values): Promise<FileKeyStore> {
  const log2N = process.env.EDGEPAY_KDF_LOG2N ? Number(process.env.EDGEPAY_KDF_LOG2N) : undefined;
  return new FileKeyStore(join(dir, 'keys'), await passphrase(v['passphrase-file'] as string | undefined), log2N ? { log2N } : {});
}

/** Options that put a command's key in a PKCS#11 token instead of a file. */
export const PKCS11 = { pkcs11: { type: 'string' }, token: { type: 'string' }, 'pin-file': { type: 'string' } } as const;
const PKCS11_USAGE = '  With --pkcs11 <module> --token <label>, the key is in that token (PIN: EDGEPAY_PKCS11_PIN or --pin-file).';

/** The token `--pkcs11 <module> --token <label>` names, opened with its PIN, or undefined without --pkcs11. */
async function tokenStore(v: Values): Promise<Pkcs11KeyStore | undefined> {
  const module = str(v, 'pkcs11', false);
  if (!module) return undefined;
  const pinFile = str(v, 'pin-file', false);
  const pin = pinFile ? (await readFile(pinFile, 'utf8').catch(() => '')).replace(/\r?\n$/, '') : (process.env.EDGEPAY_PKCS11_PIN ?? '');
  if (!pin)
    throw new CliError('CLI_PASSPHRASE', 'set EDGEPAY_PKCS11_PIN or pass --pin-file (a readable file) to use a PKCS#11 token', 'pin');
  return Pkcs11KeyStore.open({ module, token: str(v, 'token'), pin });
}

export async function signerIn(dir: string, name: string, v: Values): Promise<Signer> {
  const token = await tokenStore(v);
  if (token) {
    const t = await token.get(name);
    if (!t) throw new CliError('CLI_FILE', `no key labelled ${name} in token ${str(v, 'token')}`, 'key');
    return t;
  }
  const s = await (await keyStore(dir, v)).get(name);
  if (!s) throw new CliError('CLI_FILE', `no key named ${name} in ${join(dir, 'keys')}`, 'key');
  return s;
}

export async function publicKeyFile(path: string): Promise<Uint8Array> {
  const bytes = await readObject(path);
  try {
    return readCoseKey(decode(bytes), path).publicKey;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new CliError('CLI_FILE', `${path} is not a public key file (a .pub from edgepay keygen or issuer init): ${why}`, path, {
      cause: e,
    });
  }
}

export async function keygen(dir: string, name: string, v: Values, out: Out): Promise<Signer> {
  const alg = (str(v, 'alg', false) || 'eddsa').toLowerCase();
  if (alg !== 'eddsa' && alg !== 'es256') throw new CliError('CLI_USAGE', '--alg is eddsa (Ed25519) or es256 (P-256)', 'alg');
  if (alg === 'es256' && !v.pkcs11)
    throw new CliError('CLI_USAGE', '--alg es256 keys are made in a PKCS#11 token (--pkcs11 <module> --token <label>)', 'alg');
  const token = await tokenStore(v);
  const signer = token
    ? await token.generate(name, { alg: alg === 'es256' ? 'ES256' : 'EdDSA' })
    : await (await keyStore(dir, v)).generate(name);
  const kid = coseKeyThumbprint(signer.publicKey);
  const fmt = parseFormat(v.format as string | undefined, ['cbor', 'json', 'hex', 'base64']);
  const pubPath = join(dir, `${name}.pub`);
  if (fmt === 'json') await writeFile(pubPath, `${JSON.stringify(toJwk(signer.publicKey, kid))}\n`);
  else await writeObject(pubPath, encode(coseKeyMap(signer.publicKey, kid)), fmt);
  const where = token ? { pkcs11: { module: str(v, 'pkcs11'), token: str(v, 'token'), label: name } } : {};
  printJson({ name, kid, publicKey: pubPath, jwk: toJwk(signer.publicKey, kid), ...where }, out);
  return signer;
}

const limitOptions = {
  asset: { type: 'string' },
  'per-payment': { type: 'string' },
  'per-channel': { type: 'string' },
  'per-period': { type: 'string' },
  period: { type: 'string' },
  'total-outstanding': { type: 'string' },
  category: { type: 'string' },
  counterparties: { type: 'string' },
  days: { type: 'string' },
  out: { type: 'string' },
} as const;

function limits(v: Values, required: boolean): Partial<Limits> {
  const l: Partial<Limits> = {};
  const asset = str(v, 'asset', required);
  if (asset) l.asset = asset;
  const set = (k: 'perPayment' | 'perChannel' | 'perPeriod' | 'totalOutstanding', flag: string) => {
    const a = amount(v, flag, required);
    if (a !== undefined) l[k] = a;
  };
  set('perPayment', 'per-payment');
  set('perChannel', 'per-channel');
  set('perPeriod', 'per-period');
  set('totalOutstanding', 'total-outstanding');
  if (required || str(v, 'period', false)) l.periodSeconds = int(v, 'period', DAY);
  return l;
}

/** What `inspect` found in a file, typed. */
function describe(bytes: Uint8Array): { type: string; value: unknown } {
  try {
    const chain = decodeChain(bytes);
    return { type: 'credential-chain', value: chain.map((c) => credentialJson(decodeCredential(c))) };
  } catch {}
  let sign1: ReturnType<typeof decodeSign1> | undefined;
  try {
    sign1 = decodeSign1(bytes, { maxBytes: 4 * 1024 * 1024, maxDepth: 16, tags: [18, 61] });
  } catch {}
  if (sign1?.contentType === CWT_CONTENT_TYPE) return { type: 'credential', value: credentialJson(decodeCredential(bytes)) };
  if (sign1?.contentType === REVOCATION_CONTENT_TYPE) {
    const l = decodeRevocationList(bytes);
    return {
      type: 'revocation-list',
      value: {
        signerKid: l.sign1.kid,
        ...l.content,
        entries: l.content.entries.length > 50 ? `${l.content.entries.length} entries` : l.content.entries,
      },
    };
  }
  if (sign1)
    return {
      type: 'cose-sign1',
      value: { kid: sign1.kid, contentType: sign1.contentType, payload: sign1.payload ? decode(sign1.payload) : null },
    };
  const key = readCoseKey(decode(bytes), 'file');
  return { type: 'cose-key', value: { kid: coseKeyThumbprint(key.publicKey), jwk: toJwk(key.publicKey) } };
}

function credentialJson(c: Credential): unknown {
  const { publicKey, ...rest } = c.claims;
  return {
    ...rest,
    publicKey,
    subjectKid: c.subjectKid,
    signerKid: c.sign1.kid,
    notBefore: iso(c.claims.notBefore),
    expiresAt: iso(c.claims.expiresAt),
  };
}

const iso = (t: number) => new Date(t * 1000).toISOString();

/** Trust roots from `--trust <issuer.pub>...`: the issuer id is read beside each key (issuer.json), or given. */
export async function trustRoots(v: Values): Promise<TrustRoot[]> {
  const files = (v.trust as string[] | undefined) ?? [];
  if (files.length === 0) throw new CliError('CLI_USAGE', '--trust <issuer.pub> is required', 'trust');
  return Promise.all(
    files.map(async (f) => {
      const idFile = join(f, '..', 'issuer.json');
      const id = str(v, 'issuer-id', false) || (existsSync(idFile) ? (JSON.parse(await readFile(idFile, 'utf8')).id as string) : '');
      if (!id) throw new CliError('CLI_USAGE', `no issuer.json beside ${f}: pass --issuer-id`, 'issuer-id');
      return { id, publicKey: await publicKeyFile(f) };
    }),
  );
}

export const commands: Record<string, Command> = {
  keygen: {
    usage:
      'edgepay keygen --dir <dir> --name <name> [--format cbor|json|hex|base64] [--pkcs11 <module> --token <label> [--pin-file f] [--alg eddsa|es256]]\n' +
      '  Creates an encrypted key in <dir>/keys and writes its public key to <dir>/<name>.pub.\n' +
      '  With --pkcs11, the key is generated in that PKCS#11 token, labelled <name>, and never leaves it\n' +
      '  (PIN: EDGEPAY_PKCS11_PIN or --pin-file); only <dir>/<name>.pub is written. --alg es256 makes a P-256 key\n' +
      '  (ES256) for tokens and secure elements that do only P-256.',
    options: { dir: { type: 'string' }, name: { type: 'string' }, alg: { type: 'string' }, ...PKCS11, ...COMMON },
    async run(v, _p, out) {
      await mkdir(str(v, 'dir'), { recursive: true });
      await keygen(str(v, 'dir'), str(v, 'name'), v, out);
      return 0;
    },
  },
  'issuer init': {
    usage:
      'edgepay issuer init --dir <dir> --id <issuer id>\n  Creates the network issuer key (<dir>/keys/issuer.key), <dir>/issuer.pub (the trust root) and <dir>/issuer.json.',
    options: { dir: { type: 'string' }, id: { type: 'string' }, ...COMMON },
    async run(v, _p, out) {
      const dir = str(v, 'dir');
      await mkdir(dir, { recursive: true });
      await keygen(dir, 'issuer', v, out);
      await writeFile(join(dir, 'issuer.json'), `${JSON.stringify({ id: str(v, 'id') })}\n`);
      return 0;
    },
  },
  'party certify': {
    usage:
      'edgepay party certify --issuer <dir> --key <party.pub> --id <party id> --asset <code> --per-payment <n> --per-channel <n>\n' +
      '    --per-period <n> [--period <seconds>] --total-outstanding <n> --category <c> [--counterparties a,b] --payment-ref <token>\n' +
      '    [--days 365] --out <party.cred>\n  The issuer certifies a responsible party (after checking it) with its limits and payment reference.\n' +
      PKCS11_USAGE,
    options: {
      issuer: { type: 'string' },
      key: { type: 'string' },
      id: { type: 'string' },
      'payment-ref': { type: 'string' },
      ...limitOptions,
      ...PKCS11,
      ...COMMON,
    },
    async run(v, _p, out) {
      const dir = str(v, 'issuer');
      const issuerId = JSON.parse(await readFile(join(dir, 'issuer.json'), 'utf8')).id as string;
      const t = now();
      const cred = await issueCredential(await signerIn(dir, 'issuer', v), {
        role: 'party',
        issuer: issuerId,
        subject: str(v, 'id'),
        publicKey: await publicKeyFile(str(v, 'key')),
        issuedAt: t,
        notBefore: t,
        expiresAt: t + int(v, 'days', 365) * DAY,
        limits: limits(v, true),
        category: str(v, 'category'),
        counterparties: list(v, 'counterparties'),
        paymentRef: str(v, 'payment-ref'),
      });
      await writeObject(str(v, 'out'), cred, parseFormat(v.format as string | undefined));
      printJson({ wrote: str(v, 'out'), ...(credentialJson(decodeCredential(cred)) as object) }, out);
      return 0;
    },
  },
  'device enroll': {
    usage:
      'edgepay device enroll --party <dir> [--key-name party] --party-cred <party.cred> --key <device.pub> --id <device id>\n' +
      "    --category <c> [--counterparties a,b] [--model m --serial s] [limits that narrow the party's] [--days 30] --out <device.chain>\n" +
      '  The party vouches for a device key; writes the chain [party credential, device credential]. The device key may be\n' +
      "  in a token (its .pub from keygen --pkcs11); so may the party's:\n" +
      PKCS11_USAGE,
    options: {
      party: { type: 'string' },
      'key-name': { type: 'string' },
      'party-cred': { type: 'string' },
      key: { type: 'string' },
      id: { type: 'string' },
      model: { type: 'string' },
      serial: { type: 'string' },
      ...limitOptions,
      ...PKCS11,
      ...COMMON,
    },
    async run(v, _p, out) {
      const partyCred = decodeCredential(await readObject(str(v, 'party-cred')));
      // What the chain could never verify with is refused here, before anything is signed or written.
      const deviceLimits = limits(v, false);
      const counterparties = list(v, 'counterparties');
      narrow(partyCred.claims.limits as Limits, deviceLimits);
      narrowCategories(partyCred.claims.counterparties, counterparties);
      const t = now();
      const model = str(v, 'model', false);
      // The party's key: a file under --party, or (with --pkcs11) in a token, where --party is not needed.
      const partySigner = await signerIn(v.pkcs11 ? '' : str(v, 'party'), str(v, 'key-name', false) || 'party', v);
      const device = await issueCredential(partySigner, {
        role: 'device',
        issuer: partyCred.claims.subject,
        subject: str(v, 'id'),
        publicKey: await publicKeyFile(str(v, 'key')),
        issuedAt: t,
        notBefore: t,
        expiresAt: Math.min(t + int(v, 'days', 30) * DAY, partyCred.claims.expiresAt),
        limits: deviceLimits,
        category: str(v, 'category'),
        counterparties,
        device: model ? { model, serial: str(v, 'serial') } : undefined,
      });
      await writeObject(str(v, 'out'), encodeChain([partyCred.bytes, device]), parseFormat(v.format as string | undefined));
      printJson({ wrote: str(v, 'out'), ...(credentialJson(decodeCredential(device)) as object) }, out);
      return 0;
    },
  },
  revoke: {
    usage:
      'edgepay revoke --authority <dir> [--key-name issuer|party] [--id <authority id>] (--cred <file> | --kid <hex>) [--at <unix time>]\n' +
      '    --list <revocations file> [--ledger <url> [--party-cred <file>]]\n' +
      "  Adds a revocation to the authority's list (creating it), bumps its version and re-signs it. With --ledger,\n" +
      "  sends the list to the ledger, which applies it at once and republishes it to devices (a party's list goes\n" +
      "  with the party's credential: from the device chain given as --cred, or --party-cred).",
    options: {
      authority: { type: 'string' },
      'key-name': { type: 'string' },
      id: { type: 'string' },
      cred: { type: 'string' },
      kid: { type: 'string' },
      at: { type: 'string' },
      list: { type: 'string' },
      ledger: { type: 'string' },
      'party-cred': { type: 'string' },
      ...COMMON,
    },
    async run(v, _p, out) {
      const dir = str(v, 'authority');
      const isIssuer = existsSync(join(dir, 'issuer.json'));
      const id = str(v, 'id', !isIssuer) || (JSON.parse(await readFile(join(dir, 'issuer.json'), 'utf8')).id as string);
      const signer = await signerIn(dir, str(v, 'key-name', false) || (isIssuer ? 'issuer' : 'party'), v);
      let kid: Uint8Array;
      let partyCred = str(v, 'party-cred', false) ? await readObject(str(v, 'party-cred')) : undefined;
      if (str(v, 'cred', false)) {
        const creds = decodeChain(await readObject(str(v, 'cred')));
        kid = decodeCredential(creds[creds.length - 1] as Uint8Array).subjectKid;
        if (creds.length === 2 && !isIssuer) partyCred ??= creds[0];
      } else kid = Buffer.from(str(v, 'kid'), 'hex');
      const listPath = str(v, 'list');
      const prev = existsSync(listPath) ? decodeRevocationList(await readObject(listPath)).content : undefined;
      if (prev && prev.issuer !== id) throw new CliError('CLI_USAGE', `${listPath} is ${prev.issuer}'s list, not ${id}'s`, 'list');
      const at = int(v, 'at', now());
      const bytes = await signRevocationList(signer, {
        issuer: id,
        version: (prev?.version ?? 0) + 1,
        issuedAt: now(),
        entries: [...(prev?.entries ?? []), { kid, revokedAt: at }],
      });
      await writeObject(listPath, bytes, parseFormat(v.format as string | undefined));
      const ledger = str(v, 'ledger', false) ? await sendList(str(v, 'ledger'), bytes, isIssuer ? undefined : partyCred) : undefined;
      printJson(
        { wrote: listPath, issuer: id, version: (prev?.version ?? 0) + 1, revoked: toHex(kid), revokedAt: at, bytes: bytes.length, ledger },
        out,
      );
      return 0;
    },
  },
  inspect: {
    usage:
      'edgepay inspect <file> [--trust <issuer.pub>]... [--issuer-id <id>] [--revocations <list>]... [--now <unix time>]\n' +
      '  Decodes any edgepay object and prints it as JSON. With --trust, verifies it: exit 0 when valid,\n  1 with the error code when not.',
    options: {
      trust: { type: 'string', multiple: true },
      'issuer-id': { type: 'string' },
      revocations: { type: 'string', multiple: true },
      now: { type: 'string' },
      ...COMMON,
    },
    async run(v, positionals, out) {
      const file = positionals[0];
      if (!file) throw new CliError('CLI_USAGE', 'inspect takes a file', 'file');
      const bytes = await readObject(file);
      const found = describe(bytes);
      const trustFiles = (v.trust as string[] | undefined) ?? [];
      if (trustFiles.length === 0) {
        printJson({ ...found, verified: false }, out);
        return 0;
      }
      const trust = new TrustStore(await trustRoots(v));
      const opts = { trust, now: int(v, 'now', now()) };
      const chain = found.type === 'credential-chain' ? decodeChain(bytes) : undefined;
      for (const l of (v.revocations as string[] | undefined) ?? [])
        await trust.applyRevocationList(await readObject(l), chain ? { partyCredential: chain[0] } : {});
      let verified: unknown;
      if (found.type === 'credential-chain') {
        const r = await verifyChain(chain as Uint8Array[], opts);
        verified = { limits: r.limits, counterparties: r.counterparties, paymentRef: r.paymentRef, validUntil: iso(r.validUntil) };
      } else if (found.type === 'credential') verified = { party: (await verifyParty(bytes, opts)).claims.subject };
      else if (found.type === 'revocation-list') verified = { applied: await trust.applyRevocationList(bytes) };
      else throw new CliError('CLI_USAGE', `cannot verify a ${found.type} against trust roots`, 'file');
      printJson({ ...found, verified: true, result: verified }, out);
      return 0;
    },
  },
};

/** Sends a revocation list (with the party's credential, for a party's list) to the ledger at `url`. */
async function sendList(url: string, list: Uint8Array, partyCred: Uint8Array | undefined): Promise<unknown> {
  const endpoint = `${url.replace(/\/+$/, '')}/v1/revocations`;
  const body = partyCred ? encode([list, partyCred]) : list;
  let res: Response;
  try {
    res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: body as Uint8Array<ArrayBuffer> });
  } catch (e) {
    throw new CliError('CLI_NETWORK', `cannot reach ${endpoint}: ${(e as Error).message}`, 'ledger');
  }
  if (!res.ok) {
    const e = (await res.json().catch(() => ({}))) as { code?: string; message?: string; field?: string };
    throw new CliError(e.code ?? 'CLI_NETWORK', `the ledger refused the list (${res.status}): ${e.message ?? ''}`, e.field);
  }
  return toJson(decode(new Uint8Array(await res.arrayBuffer())));
}

export type { Format };
