import { describe } from 'vitest';
import { channelStoreDamageCase, outboxDamageCase } from './disk-cases.js';

describe('a damaged disk (every byte)', () => {
  outboxDamageCase(1);
  channelStoreDamageCase(1);
});
