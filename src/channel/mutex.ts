/**
 * @module channel/mutex
 * Serialises work per key (a channel id): two payments or two frames on one channel never interleave
 * their read-modify-write of the channel record. Uncontended calls cost one promise.
 */
export class KeyedMutex {
  private readonly busy = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    for (let held = this.busy.get(key); held !== undefined; held = this.busy.get(key)) await held;
    let release = () => {};
    this.busy.set(
      key,
      new Promise<void>((r) => {
        release = r;
      }),
    );
    try {
      return await fn();
    } finally {
      this.busy.delete(key);
      release();
    }
  }
}
