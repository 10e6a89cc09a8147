/**
 * @module channel/mutex
 * Serialises work per key (a channel id): two payments or two frames on one channel never interleave
 * their read-modify-write of the channel record. An uncontended call costs the promise of `fn` and one
 * more that the next caller for the key would wait on.
 */
export class KeyedMutex {
  private readonly busy = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    for (let held = this.busy.get(key); held !== undefined; held = this.busy.get(key)) await held;
    const work = fn();
    // What waiters wait on: settles with `work`, never rejects (a failure is the caller's, not theirs).
    const turn = work.then(ignore, ignore);
    this.busy.set(key, turn);
    try {
      return await work;
    } finally {
      if (this.busy.get(key) === turn) this.busy.delete(key);
    }
  }
}

function ignore(): void {}
