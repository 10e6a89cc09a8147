import { describe } from 'vitest';
import { channelStoreDamageCase, outboxDamageCase } from './disk-cases.js';

// A dense sample here; every byte in test/adversarial/disk.slow.test.ts (npm run test:slow).
describe('a damaged disk (dense sample)', () => {
  outboxDamageCase(7);
  channelStoreDamageCase(9);
});
