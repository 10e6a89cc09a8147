/**
 * @module cli/version
 * The installed package's version (for --version and the ledger's start line).
 */
import { createRequire } from 'node:module';

/** The package's version (package.json is two folders up from both src/cli and dist/node). */
export function version(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
