/**
 * @module ledger/optional
 * The ledger's optional peer dependencies (database drivers, pino, prom-client), loaded where they are
 * used so that a device never installs or loads them. A missing one is one line saying what to install.
 */
import { LedgerError } from '../errors.js';

const missing = (e: unknown) => {
  const code = (e as { code?: string }).code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
};

/**
 * Loads an optional package.
 * @throws LedgerError LEDGER_DEPENDENCY (with `field`) when it is not installed.
 */
export async function optional<T>(name: string, what: string, load: () => Promise<T>, field = 'db'): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (missing(e))
      throw new LedgerError('LEDGER_DEPENDENCY', `${what} needs the optional package ${name}: npm install ${name}`, field, { cause: e });
    throw e;
  }
}

/**
 * Checks several optional packages at once, so one message names all that are missing (not one a run).
 * @throws LedgerError LEDGER_DEPENDENCY
 */
export async function requireAll(what: string, packages: Record<string, () => Promise<unknown>>): Promise<void> {
  const absent: string[] = [];
  for (const [name, load] of Object.entries(packages))
    await load().catch((e) => {
      if (!missing(e)) throw e;
      absent.push(name);
    });
  if (absent.length > 0)
    throw new LedgerError(
      'LEDGER_DEPENDENCY',
      `${what} needs the optional package${absent.length > 1 ? 's' : ''} ${absent.join(', ')}: npm install ${absent.join(' ')}`,
      'dependencies',
    );
}
