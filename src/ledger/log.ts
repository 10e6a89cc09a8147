/**
 * @module ledger/log
 * The ledger's structured log: one JSON object a line. `Logger` is the call shape pino has
 * (`log.error({ err, code }, 'message')`), so a pino logger can be passed wherever one is taken; the
 * built-in one writes the same lines without a dependency.
 */
import { EdgepayError } from '../errors.js';

export interface Logger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

const LEVELS = { info: 30, warn: 40, error: 50 } as const;

/** An error as plain fields (its code and field when it is ours, its cause's message). */
export function errorFields(e: unknown): Record<string, unknown> {
  if (!(e instanceof Error)) return { message: String(e) };
  const out: Record<string, unknown> = { type: e.name, message: e.message };
  if (e instanceof EdgepayError) Object.assign(out, { code: e.code, field: e.field });
  else if (typeof (e as { code?: unknown }).code === 'string') out.code = (e as unknown as { code: string }).code;
  if (e.stack) out.stack = e.stack;
  if (e.cause !== undefined) out.cause = errorFields(e.cause);
  return out;
}

/** JSON lines to `write` (default: standard error), each with `level`, `time` (ms) and `msg`. */
export function jsonLogger(o: { write?: (line: string) => void; level?: keyof typeof LEVELS; base?: object } = {}): Logger {
  const write = o.write ?? ((line: string) => process.stderr.write(line));
  const min = LEVELS[o.level ?? 'info'];
  const at =
    (level: keyof typeof LEVELS) =>
    (fields: object, message?: string): void => {
      if (LEVELS[level] < min) return;
      const f: Record<string, unknown> = { ...fields };
      if ('err' in f) f.err = errorFields(f.err);
      write(
        `${JSON.stringify({ level: LEVELS[level], time: Date.now(), ...o.base, ...f, msg: message }, (_k, v) =>
          typeof v === 'bigint' ? v.toString() : v,
        )}\n`,
      );
    };
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

/** Discards everything (the default where no logger is given, as in tests). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
