import { describe, expect, it } from 'vitest';
import { FailoverLedgerClient, type LedgerClient, SyncFailure } from '../../src/sync/client.js';

/** An endpoint that answers with its name, or fails as told. */
interface Endpoint {
  calls: number;
  fail: SyncFailure | undefined;
  client: LedgerClient;
}
function endpoint(name: string): Endpoint {
  const e: Endpoint = {
    calls: 0,
    fail: undefined,
    client: {
      submit: async () => {
        e.calls++;
        if (e.fail) throw e.fail;
        return [new TextEncoder().encode(name)];
      },
      probe: async () => !e.fail,
    } satisfies LedgerClient,
  };
  return e;
}
const answer = async (c: LedgerClient) => new TextDecoder().decode((await c.submit(new Uint8Array(1)))[0]);
const down = () => new SyncFailure('SYNC_OFFLINE', 'connection refused', 'network', true);

describe('FailoverLedgerClient', () => {
  it('goes to the first endpoint, fails over to the next on a retryable failure, and back once it returns', async () => {
    const [a, b, c] = [endpoint('a'), endpoint('b'), endpoint('c')];
    let now = 1_000_000;
    const f = new FailoverLedgerClient([a.client, b.client, c.client], { downMs: 50, nowMs: () => now });
    expect(await answer(f)).toBe('a');
    a.fail = down();
    b.fail = down();
    expect(await answer(f)).toBe('c');
    // Passed over while down: no call wasted on them.
    const before = a.calls + b.calls;
    expect(await answer(f)).toBe('c');
    expect(a.calls + b.calls).toBe(before);
    a.fail = undefined;
    now += 49;
    expect(await answer(f)).toBe('c'); // still passed over
    now += 1;
    expect(await answer(f)).toBe('a');
  });

  it('does not retry a refusal elsewhere, and says so when every endpoint is down', async () => {
    const [a, b] = [endpoint('a'), endpoint('b')];
    const f = new FailoverLedgerClient([a.client, b.client]);
    a.fail = new SyncFailure('SYNC_REFUSED', 'bad submission', 'submission', false);
    await expect(answer(f)).rejects.toMatchObject({ code: 'SYNC_REFUSED' });
    expect(b.calls).toBe(0);
    a.fail = down();
    b.fail = down();
    await expect(answer(f)).rejects.toMatchObject({ code: 'SYNC_OFFLINE', retryable: true });
    expect(await f.probe()).toBe(false);
    b.fail = undefined;
    expect(await f.probe()).toBe(true);
    expect(() => new FailoverLedgerClient([])).toThrow(expect.objectContaining({ code: 'SYNC_CONFIG' }));
  });
});
