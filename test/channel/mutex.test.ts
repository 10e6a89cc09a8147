import { describe, expect, it } from 'vitest';
import { KeyedMutex } from '../../src/channel/mutex.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('KeyedMutex', () => {
  it('runs work on one key one at a time, in arrival order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    let inside = 0;
    const job = (name: string) =>
      m.run('k', async () => {
        inside++;
        expect(inside).toBe(1);
        log.push(`${name}+`);
        await tick();
        log.push(`${name}-`);
        inside--;
        return name;
      });
    expect(await Promise.all([job('a'), job('b'), job('c')])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  });

  it('lets other keys run meanwhile', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const job = (key: string) =>
      m.run(key, async () => {
        log.push(`${key}+`);
        await tick();
        log.push(`${key}-`);
      });
    await Promise.all([job('x'), job('y')]);
    expect(log).toEqual(['x+', 'y+', 'x-', 'y-']);
  });

  it('a failure is the caller’s: the next in line still runs', async () => {
    const m = new KeyedMutex();
    const failing = m.run('k', async () => {
      await tick();
      throw new Error('boom');
    });
    const next = m.run('k', async () => 'ran');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('ran');
    // Nothing is left held.
    expect(await m.run('k', async () => 'free')).toBe('free');
  });
});
