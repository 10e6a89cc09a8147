/**
 * @module channel/keys
 * Channel ids as map keys (hex). A stream of ticks or vouchers asks for the same channel's key several
 * times a payment (the mutex, the live map, the store): the last id is remembered, so encoding it again
 * costs a 32-byte comparison, not a hex string each time.
 */
import { equalBytes, toHex } from '../bytes.js';

export class IdKeys {
  private id = new Uint8Array(0);
  private hex = '';

  key(id: Uint8Array): string {
    if (!equalBytes(id, this.id)) {
      this.hex = toHex(id);
      this.id = id.slice(); // our own copy: the caller may reuse its buffer
    }
    return this.hex;
  }
}
