/**
 * @module channel/mutex
 * Serialises work per key (a channel id): two payments or two frames on one channel never interleave
 * their read-modify-write of the channel record. An uncontended call costs the promise of `fn` and the
 * one `run` returns; only a caller that finds the key busy makes more (to wait without seeing its error).
 */
export class KeyedMutex {
  private readonly busy = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    // A failure of the holder's work is the holder's, not the waiter's.
    for (let held = this.busy.get(key); held !== undefined; held = this.busy.get(key)) await held.then(ignore, ignore);
    const work = fn();
    this.busy.set(key, work);
    try {
      return await work;
    } finally {
      if (this.busy.get(key) === work) this.busy.delete(key);
    }
  }
}

function ignore(): void {}
