import { describe } from 'vitest';
import { fuzzSuite } from './fuzz-cases.js';

describe('fuzz (fast)', () => fuzzSuite(3_000));
