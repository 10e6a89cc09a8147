import { describe } from 'vitest';
import { fuzzSuite } from './fuzz-cases.js';

describe('fuzz (slow, 100,000 cases per property)', () => fuzzSuite(Number(process.env.FUZZ_RUNS ?? 100_000)));
