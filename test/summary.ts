/**
 * Global setup of the test run: clears the list of skipped groups before, and prints it last after, so a
 * run that skipped anything says which groups and what they need (a service to start, a package to install).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { SKIPPED_LOG } from './services.js';

export function setup(): () => void {
  rmSync(SKIPPED_LOG, { force: true });
  return () => {
    if (!existsSync(SKIPPED_LOG)) return;
    const groups = [...new Set(readFileSync(SKIPPED_LOG, 'utf8').split('\n').filter(Boolean))].sort();
    rmSync(SKIPPED_LOG, { force: true });
    if (groups.length === 0) return;
    console.log(`\nskipped, and what they need:\n${groups.map((g) => `  ${g}`).join('\n')}`);
  };
}
