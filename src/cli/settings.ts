/**
 * @module cli/settings
 * A long-running command's settings from three places, strongest first: its flags; environment variables
 * (`<prefix><FLAG>`: the flag in upper case with `_` for `-`, as `EDGEPAY_LEDGER_TLS_CERT`); and a JSON
 * config file (`--config <file>`, or `<prefix>CONFIG`) whose keys are the flags' names. A list (`trust`)
 * is an array in the file and comma-separated in the environment. Relative paths in a config file are
 * taken from the file's folder, so the file can sit beside what it names.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { CliError } from './io.js';
import { suggest } from './suggest.js';

export interface Settings {
  /** Environment variables' prefix, with its trailing `_` (`EDGEPAY_LEDGER_`). */
  env: string;
  /** Settings that name files or folders (resolved from a config file's folder). */
  paths: readonly string[];
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Value = string | boolean | string[] | undefined;

const envName = (prefix: string, flag: string) => `${prefix}${flag.toUpperCase().replace(/-/g, '_')}`;

/** The flags a config file or the environment may set: all but --help and --config itself. */
const settable = (options: Options) => Object.keys(options).filter((k) => k !== 'help' && k !== 'config');

/** A value from a file or the environment, as parseArgs would have given it for `flag`. */
function coerce(flag: string, raw: unknown, options: Options, where: string, fromEnv: boolean): Value {
  const o = options[flag] as { type: 'string' | 'boolean'; multiple?: boolean };
  const bad = (want: string) => new CliError('CLI_USAGE', `${where}: ${flag} takes ${want}`, `config.${flag}`);
  if (o.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (fromEnv && typeof raw === 'string' && /^(true|1|yes|false|0|no)$/i.test(raw)) return /^(true|1|yes)$/i.test(raw);
    throw bad('true or false');
  }
  const one = (x: unknown) => {
    if (typeof x === 'string' && x.length > 0) return x;
    if (typeof x === 'number' && Number.isFinite(x)) return String(x);
    throw bad(o.multiple ? 'a list of strings' : 'a string or a number');
  };
  if (!o.multiple) return one(raw);
  if (fromEnv && typeof raw === 'string') return raw.split(',').map((x) => one(x.trim()));
  if (Array.isArray(raw)) return raw.map(one);
  return [one(raw)];
}

/** "; did you mean x?" when `name` is close to one of `names`. */
function nearest(name: string, names: readonly string[]): string {
  const guess = suggest(name, names);
  return guess ? `; did you mean ${guess}?` : '';
}

/**
 * `values` (the flags given) completed from the environment and the config file.
 * @throws CliError CLI_USAGE for an unknown or mistyped setting; CLI_FILE for a config file that cannot be read.
 */
export async function withSettings(
  values: Record<string, Value>,
  options: Options,
  s: Settings,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, Value>> {
  const names = settable(options);
  const merged: Record<string, Value> = {};
  const file = (values.config as string | undefined) || env[`${s.env}CONFIG`];
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      const what = e instanceof SyntaxError ? `is not JSON: ${e.message}` : `cannot be read: ${(e as Error).message}`;
      throw new CliError(e instanceof SyntaxError ? 'CLI_USAGE' : 'CLI_FILE', `the config file ${file} ${what}`, 'config');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new CliError('CLI_USAGE', `the config file ${file} holds a JSON object of settings`, 'config');
    for (const [k, raw] of Object.entries(parsed)) {
      if (!names.includes(k)) throw new CliError('CLI_USAGE', `${file}: unknown setting ${k}${nearest(k, names)}`, `config.${k}`);
      const v = coerce(k, raw, options, file, false);
      const rel = (p: string) => (isAbsolute(p) ? p : resolve(dirname(file), p));
      merged[k] = s.paths.includes(k) ? (Array.isArray(v) ? v.map(rel) : typeof v === 'string' ? rel(v) : v) : v;
    }
  }
  const known = new Set(names.map((n) => envName(s.env, n)));
  for (const [k, raw] of Object.entries(env)) {
    if (!k.startsWith(s.env) || k === `${s.env}CONFIG` || raw === undefined) continue;
    if (!known.has(k)) throw new CliError('CLI_USAGE', `unknown environment setting ${k}${nearest(k, [...known])}`, k);
    const flag = names.find((n) => envName(s.env, n) === k) as string;
    merged[flag] = coerce(flag, raw, options, k, true);
  }
  for (const [k, v] of Object.entries(values)) if (v !== undefined && k !== 'config') merged[k] = v;
  return merged;
}
