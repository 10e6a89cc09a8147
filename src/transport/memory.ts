/**
 * @module transport/memory
 * An in-process network for tests and simulators: endpoints exchange frames asynchronously, in order per
 * pair, and a link can be taken down (frames wait, as a broker would hold them) and brought back.
 */
import { TransportError } from '../errors.js';
import { type FrameHandler, MAX_TRANSPORT_FRAME, type Transport } from './transport.js';

/** An in-process network of endpoints, for tests, simulators, and two devices on one board. */
export class MemoryNetwork {
  private readonly endpoints = new Map<string, MemoryEndpoint>();
  private readonly down = new Set<string>();
  private readonly held = new Map<string, [string, Uint8Array][]>();

  endpoint(address: string): Transport {
    const e = new MemoryEndpoint(address, this);
    this.endpoints.set(address, e);
    return e;
  }

  /** Takes `address` offline: frames to it are held until `online`. */
  offline(address: string): void {
    this.down.add(address);
  }

  online(address: string): void {
    this.down.delete(address);
    const held = this.held.get(address) ?? [];
    this.held.delete(address);
    for (const [from, frame] of held) this.deliver(from, address, frame);
  }

  /** @internal */
  deliver(from: string, to: string, frame: Uint8Array): void {
    if (this.down.has(to)) {
      const q = this.held.get(to) ?? [];
      q.push([from, frame]);
      this.held.set(to, q);
      return;
    }
    const e = this.endpoints.get(to);
    if (e) e.receive(from, frame);
  }

  /** @internal */
  remove(address: string): void {
    this.endpoints.delete(address);
  }
}

class MemoryEndpoint implements Transport {
  private handler: FrameHandler | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly address: string,
    private readonly net: MemoryNetwork,
  ) {}

  async send(to: string, frame: Uint8Array): Promise<void> {
    if (this.closed) throw new TransportError('TRANSPORT_CLOSED', 'transport is closed', 'transport');
    if (frame.length > MAX_TRANSPORT_FRAME)
      throw new TransportError('TRANSPORT_FRAME_SIZE', `frame of ${frame.length} bytes exceeds ${MAX_TRANSPORT_FRAME}`, 'frame');
    const copy = frame.slice();
    queueMicrotask(() => this.net.deliver(this.address, to, copy));
  }

  onFrame(handler: FrameHandler): void {
    this.handler = handler;
  }

  /** @internal frames are handled one at a time, in arrival order. */
  receive(from: string, frame: Uint8Array): void {
    const h = this.handler;
    if (!h || this.closed) return;
    this.chain = this.chain.then(() => h(from, frame)).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    this.net.remove(this.address);
  }
}
