/**
 * @module cli/io
 * File formats and output for the CLI: objects are raw CBOR on disk by default; `--format hex|base64`
 * writes text a person can paste; reading accepts all three. JSON rendering turns bytes into hex and
 * bigints into strings, so amounts print exactly.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fromBase64Url, toBase64 } from '../base64.js';
import { fromHex, toHex } from '../bytes.js';
import { Tagged } from '../codec/cbor.js';
import { EdgepayError } from '../errors.js';

export type Format = 'cbor' | 'json' | 'hex' | 'base64';

export class CliError extends EdgepayError {}

export function parseFormat(f: string | undefined, allowed: readonly Format[] = ['cbor', 'hex', 'base64']): Format {
  const v = (f ?? allowed[0]) as Format;
  if (!allowed.includes(v)) throw new CliError('CLI_USAGE', `--format must be one of ${allowed.join(', ')}`, 'format');
  return v;
}

/** Reads an object file: raw CBOR, or hex / base64 text of it. */
/** A file's bytes as they are (a PEM, a password); a file that cannot be read is CLI_FILE naming it. */
export async function readRaw(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new CliError('CLI_FILE', `cannot read ${path}: ${(e as Error).message}`, path);
  }
}

export async function readObject(path: string): Promise<Uint8Array> {
  const raw = await readRaw(path);
  const text = new TextDecoder().decode(raw).trim();
  if (/^([0-9a-fA-F]{2})+$/.test(text)) return fromHex(text, path);
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) && text.length >= 8) return fromBase64Url(text, path);
  return raw;
}

export async function writeObject(path: string, bytes: Uint8Array, format: Format): Promise<void> {
  const out = format === 'hex' ? `${toHex(bytes)}\n` : format === 'base64' ? `${toBase64(bytes)}\n` : bytes;
  await writeFile(path, out, { mode: 0o644 });
}

/** A JSON-safe rendering of decoded CBOR and typed objects. */
export function toJson(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return toHex(v);
  if (v instanceof Tagged) return { tag: v.tag, value: toJson(v.value) };
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJson(x)]));
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, toJson(x)]),
    );
  return v;
}

export function printJson(v: unknown, out: (line: string) => void): void {
  out(JSON.stringify(toJson(v), null, 2));
}

/** The passphrase for key files: `--passphrase-file`, else `EDGEPAY_PASSPHRASE`. */
export async function passphrase(file: string | undefined): Promise<string> {
  if (file !== undefined) return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  const env = process.env.EDGEPAY_PASSPHRASE;
  if (env === undefined || env === '')
    throw new CliError('CLI_PASSPHRASE', 'set EDGEPAY_PASSPHRASE or pass --passphrase-file to open or create key files', 'passphrase');
  return env;
}
