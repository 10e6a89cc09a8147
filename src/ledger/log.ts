/**
 * @module ledger/log
 * The ledger's structured log: one JSON object a line, written by pino (an optional peer dependency,
 * loaded only where a log is opened). `Logger` is pino's call shape (`log.error({ err, code }, 'message')`),
 * so any pino logger, or anything shaped like one, can be passed wherever a log is taken.
 */
import { optional } from './optional.js';

export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * A pino logger: JSON lines to standard error (or to `write`, as in tests), each with `level`, `time` (ms),
 * `msg`, the fields given and `base`; an `err` field is written with its type, message, code, field, stack
 * and causes. Bigints (amounts) are written as strings.
 * @throws LedgerError LEDGER_DEPENDENCY when pino is not installed.
 */
export async function openLogger(
  o: { level?: LogLevel; write?: (line: string) => void; base?: object } = {},
): Promise<Logger & { flush(): void }> {
  const m = await optional('pino', "the ledger's log", () => import('pino'), 'log');
  const pino = (m as unknown as { default?: typeof m.pino }).default ?? m.pino;
  const l = pino(
    {
      level: o.level ?? 'info',
      base: { pid: process.pid, ...o.base },
      serializers: { err: pino.stdSerializers.errWithCause },
      // Amounts are bigints; JSON has no such number, so they are written as their exact decimal text.
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map(textBigints) as Parameters<typeof method>);
        },
      },
    },
    o.write ? { write: o.write } : pino.destination({ fd: 2 }),
  );
  // Only the methods, bound: a pino logger is thenable-looking to TypeScript and cannot be awaited as itself.
  return {
    debug: (f, m) => l.debug(f, m),
    info: (f, m) => l.info(f, m),
    warn: (f, m) => l.warn(f, m),
    error: (f, m) => l.error(f, m),
    flush: () => l.flush(),
  };
}

function textBigints(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object' || v instanceof Error || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) return v.map(textBigints);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, textBigints(x)]));
}

/**
 * Bounds how many lines a kind of event (a refusal code, say) writes: at most `perSecond` a second each;
 * the rest are counted, and the count goes with the next line that passes. Keys are few (codes), so the
 * table stays small whatever a client sends.
 */
export class Throttle {
  private readonly seen = new Map<string, { second: number; n: number; dropped: number }>();
  constructor(private readonly perSecond = 10) {}

  /** False to leave this one out; otherwise how many were left out since the last that passed. */
  pass(key: string): number | false {
    const second = Math.floor(performance.now() / 1000);
    const s = this.seen.get(key) ?? { second, n: 0, dropped: 0 };
    if (s.second !== second) Object.assign(s, { second, n: 0 });
    this.seen.set(key, s);
    if (++s.n > this.perSecond) {
      s.dropped++;
      return false;
    }
    const dropped = s.dropped;
    s.dropped = 0;
    return dropped;
  }
}

/** Discards everything (the default where no logger is given, as in tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
