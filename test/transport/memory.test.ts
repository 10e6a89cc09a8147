import { describe } from 'vitest';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { transportSuite } from './suite.js';

describe('memory transport', () => {
  transportSuite(() => {
    const net = new MemoryNetwork();
    const eps = new Map<string, ReturnType<MemoryNetwork['endpoint']>>();
    return {
      connect: async (a) => {
        const e = eps.get(a) ?? net.endpoint(a);
        eps.set(a, e);
        return e;
      },
      away: async (a) => {
        net.offline(a);
        return async () => {
          const e = eps.get(a) as ReturnType<MemoryNetwork['endpoint']>;
          queueMicrotask(() => net.online(a));
          return e;
        };
      },
    };
  });
});
