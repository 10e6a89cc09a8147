// Adds lockfile entries for other platforms' optional binaries that the registry mirror here does not
// serve (npm then leaves them out and `npm ci` refuses the lock). Run after `npm install`.
import { readFileSync, writeFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const pk = lock.packages;
const OS = {
  android: 'android',
  darwin: 'darwin',
  linux: 'linux',
  win32: 'win32',
  freebsd: 'freebsd',
  openbsd: 'openbsd',
  openharmony: 'openharmony',
};
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'loong64', 'ppc64', 's390x', 'riscv64'];
let added = 0;
for (const [, entry] of Object.entries(pk)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (pk[key]) continue;
    const base = name.split('/').pop();
    const os = Object.keys(OS).find((o) => base.includes(`-${o}-`));
    const cpu = CPU.find((c) => new RegExp(`-${c}(-|$)`).test(base)) ?? (base.includes('-arm-') ? 'arm' : undefined);
    if (!os || !cpu) continue;
    const e = { version, optional: true, os: [os], cpu: [cpu] };
    if (entry.dev) e.dev = true;
    if (/-musl/.test(base)) e.libc = ['musl'];
    else if (os === 'linux' && /-gnu|-linux-x64$|-linux-arm64$/.test(base)) e.libc = ['glibc'];
    pk[key] = e;
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pk).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)));
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-platforms: added ${added} entries`);
