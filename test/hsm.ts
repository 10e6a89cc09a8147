/**
 * A SoftHSM2 token of a test's own: its configuration and token directory in a temporary folder, set
 * as SOFTHSM2_CONF for this process (SoftHSM reads it when its library first initializes, so before any
 * store opens). Skipped, with how to install them, where softhsm2 or opensc are absent.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveTool } from './services.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** True when SoftHSM2 and opensc's pkcs11-tool are here (noted as skipped, or required in CI, otherwise). */
export const haveSoftHsm = (group: string) =>
  haveTool('softhsm2-util', ['--version'], group, 'apt-get install softhsm2') &&
  haveTool('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--list-mechanisms'], group, 'apt-get install opensc');

/** A fresh token labelled `label` with user PIN `pin`, in a folder of its own; `remove` deletes it. */
export function softToken(
  label = 'edge',
  pin = '1234',
): { dir: string; tokens: string; module: string; label: string; pin: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'edgepay-hsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '5678'], { stdio: 'ignore' });
  return { dir, tokens, module: SOFTHSM_MODULE, label, pin, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
