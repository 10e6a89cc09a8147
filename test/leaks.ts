/**
 * Setup for every test file: what it opened, it closes. After the file's own hooks, the process holds no
 * more servers, sockets, child processes or threads than before its first test (a few moments allowed for
 * closes to finish); otherwise the file fails, naming what was left.
 */
import { afterAll, beforeAll, expect, vi } from 'vitest';

/** Resource kinds a test opens and must close (`process.getActiveResourcesInfo()` names them). */
const WATCHED = new Set(['TCPServerWrap', 'TCPSocketWrap', 'TCPWrap', 'ProcessWrap', 'PipeServerWrap', 'UDPWrap', 'MessagePort', 'Worker']);

const count = () => {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) if (WATCHED.has(r)) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
};

let before = new Map<string, number>();
beforeAll(() => {
  before = count();
});

afterAll(async () => {
  const left = () => [...count()].filter(([k, n]) => n > (before.get(k) ?? 0)).map(([k, n]) => `${k} x${n - (before.get(k) ?? 0)}`);
  await vi.waitFor(() => expect(left(), 'left open by this file').toEqual([]), { timeout: 5_000, interval: 50 });
});
