import { describe } from 'vitest';
import { outboxCrashSuite } from './crash-cases.js';

describe('outbox durability under kill -9 (slow)', () => outboxCrashSuite(150));
