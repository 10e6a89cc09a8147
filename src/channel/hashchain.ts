/**
 * @module channel/hashchain
 * PayWord hash chains (Rivest and Shamir, 1996): the payer commits to root = H^n(seed) in the signed
 * open terms; tick k reveals w_k = H^(n-k)(seed), and the payee checks it with one hash: H(w_k) = w_{k-1}.
 * A stream of equal units then costs the payee one SHA-256 per unit instead of one signature check.
 */
import { equalBytes } from '../bytes.js';
import { randomBytes, sha256 } from '../crypto/hash.js';

/** The longest hash chain a channel may commit to (and so the most ticks it may carry). */
export const MAX_CHAIN_LENGTH = 10_000_000;

/** The payer's side: every preimage, from the root (index 0) to the seed (index n). */
export class HashChain {
  private readonly words: Uint8Array[];

  /** Builds a chain of `length` ticks from `seed` (random when omitted). Costs `length` hashes. */
  constructor(
    readonly length: number,
    readonly seed: Uint8Array = randomBytes(32),
  ) {
    const words = new Array<Uint8Array>(length + 1);
    words[length] = seed;
    for (let i = length; i > 0; i--) words[i - 1] = sha256(words[i] as Uint8Array);
    this.words = words;
  }

  get root(): Uint8Array {
    return this.words[0] as Uint8Array;
  }

  /** The preimage revealed by tick `index` (1..length). */
  word(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 1 || index > this.length) throw new RangeError(`tick ${index} outside 1..${this.length}`);
    return this.words[index] as Uint8Array;
  }
}

/**
 * A tick to check: `word`, hashed `steps` times, must give `known` (the newest verified word, or the root).
 * A ledger collects these and checks them on its verifier's threads once the signatures that commit to
 * the chain have verified: until then, nobody has proved the hashing is owed to them.
 */
export interface TickProof {
  known: Uint8Array;
  word: Uint8Array;
  steps: number;
}

/** Checks a {@link TickProof} here (`steps` hashes). */
export function verifyTickProof(p: TickProof): boolean {
  return verifyTick(p.known, 0, p.word, p.steps, p.steps);
}

/**
 * Whether `word` is tick `index` given the newest verified word `known` at `knownIndex` (the root is
 * index 0). Costs `index - knownIndex` hashes: one per tick when ticks arrive in order.
 */
export function verifyTick(known: Uint8Array, knownIndex: number, word: Uint8Array, index: number, maxSteps = 10_000): boolean {
  const steps = index - knownIndex;
  if (steps < 1 || steps > maxSteps || word.length !== 32) return false;
  let w = word;
  for (let i = 0; i < steps; i++) w = sha256(w);
  return equalBytes(w, known);
}
