import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { MemoryChannelStore } from '../../src/channel/store.js';
import { FileChannelStore } from '../../src/channel/store-file.js';
import { channelStoreSuite } from './store-suite.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('MemoryChannelStore', () => channelStoreSuite(async () => new MemoryChannelStore()));
describe('FileChannelStore', () =>
  channelStoreSuite(async () => {
    const d = mkdtempSync(join(tmpdir(), 'edgepay-ch-'));
    dirs.push(d);
    return new FileChannelStore(join(d, 'channels'));
  }));
