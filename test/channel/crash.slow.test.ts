import { describe } from 'vitest';
import { crashSuite } from './crash-cases.js';

describe('channel durability under kill -9 (slow)', () => crashSuite(60));
