/**
 * @module transport/mqtt
 * Frames over MQTT (MQTT.js), version 3.1.1 or 5.
 *
 * Topic scheme, under a configurable prefix (default `edgepay`):
 *   `<prefix>/d/<to>/from/<from>`  a frame for device `<to>` from device `<from>`
 * A device subscribes to `<prefix>/d/<its address>/from/+`. Addresses are hex key thumbprints. The sender
 * in the topic only routes replies: frames authenticate themselves.
 *
 * Besides frames between devices:
 *   `<prefix>/revocations/<authority kid>`  the authority's newest revocation list, retained (no 16 KiB
 *                                            frame limit: lists of thousands of keys pass here)
 *   `<prefix>/ledger/submit/<address>`       a device's signed submission to the ledger
 *   `<prefix>/ledger/answer/<address>`       the ledger's answer (receipts) to the device whose key
 *                                            signed the submission (its address is that key's thumbprint)
 *
 * Delivery: QoS 1 both ways, a persistent session (`clean: false`; with MQTT 5 a session expiry), so the
 * broker holds frames while a device is away, and MQTT.js resends unacknowledged publishes after it
 * reconnects (automatically, every `reconnectPeriod`). Receivers deduplicate by content: vouchers and
 * ticks are idempotent, so a redelivered frame changes nothing.
 */
import type { Writable } from 'node:stream';
import type { IClientOptions, MqttClient } from 'mqtt';

import { toHex } from '../bytes.js';
import { TransportError } from '../errors.js';
import { MAX_REVOCATION_BYTES } from '../identity/revocation.js';
import { type FrameHandler, MAX_TRANSPORT_FRAME, type Transport } from './transport.js';

/**
 * MQTT.js (an optional peer dependency), loaded when the first MQTT connection is made: a device that
 * never uses MQTT never installs or loads it. @throws TransportError TRANSPORT_DEPENDENCY when absent.
 * The default import is the one form both MQTT.js builds provide (its browser ESM has no named exports).
 */
async function connectAsync(url: string, options: IClientOptions): Promise<MqttClient> {
  const { default: mqtt } = await import('mqtt').catch((e: { code?: string }) => {
    // MQTT.js is an optional peer dependency: a device that does not talk MQTT does not install it.
    if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND')
      throw new TransportError('TRANSPORT_DEPENDENCY', 'MQTT needs the optional package mqtt: npm install mqtt', 'mqtt', { cause: e });
    throw e;
  });
  return mqtt.connectAsync(url, options);
}

export interface MqttTransportOptions {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** This device's address (its key thumbprint in hex). */
  address: string;
  /** Topic prefix (default `edgepay`): tests and tenants use their own. */
  prefix?: string;
  /** 4 (3.1.1) or 5 (default 5). */
  protocolVersion?: 4 | 5;
  /** MQTT client id (default derived from the address: a persistent session needs a stable id). */
  clientId?: string;
  /** Milliseconds between reconnect attempts (default 1000). */
  reconnectPeriod?: number;
  /** Seconds the broker keeps the session while the device is away (MQTT 5; default 1 day). */
  sessionExpirySeconds?: number;
  /** Largest frame sent or accepted (default 16 KiB). */
  maxFrameBytes?: number;
  /** End the broker-side session when `close()` is called (tests and short-lived tools). */
  endSessionOnClose?: boolean;
  /** Extra MQTT.js options (TLS, credentials). */
  mqtt?: IClientOptions;
}

const HEX = /^[0-9a-f]{1,128}$/;

const noLog = () => {};

/**
 * A payload as MQTT.js takes it: a Buffer on Node; in a browser (no global Buffer) the bytes themselves,
 * which MQTT.js's own Buffer shim reads.
 */
export const mqttPayload = (bytes: Uint8Array): Buffer => (typeof Buffer === 'undefined' ? bytes : Buffer.from(bytes)) as Buffer;
/** Whether the `DEBUG` environment variable could name MQTT.js's logs (`mqttjs:*`, `*`). */
const mqttDebug = (): boolean => {
  const d = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DEBUG;
  return d !== undefined && /(^|[\s,])(\*|mqttjs)/.test(d);
};

/**
 * Devices reach each other through an MQTT broker (TCP on Node, WebSockets in browsers), one topic per
 * device address.
 */
export class MqttTransport implements Transport {
  private handler: FrameHandler | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly prefix: string;
  private readonly max: number;
  private readonly endSessionOnClose: boolean;
  /** Frames dropped on receipt (too large, bad topic), for diagnostics. */
  dropped = 0;
  /** Handlers of the non-frame topics, by topic without its last level. */
  private readonly topicHandlers = new Map<string, (last: string, payload: Uint8Array) => void>();
  /** The stream corked since a frame came in, if any (see {@link holdWrites}). */
  private held: Writable | undefined;

  private constructor(
    readonly address: string,
    readonly client: MqttClient,
    o: MqttTransportOptions,
  ) {
    this.prefix = o.prefix ?? 'edgepay';
    this.max = o.maxFrameBytes ?? MAX_TRANSPORT_FRAME;
    this.endSessionOnClose = o.endSessionOnClose ?? false;
    const mine = `${this.prefix}/d/${address}/from/`;
    client.on('packetreceive', (p) => {
      if (p.cmd === 'publish') this.holdWrites();
    });
    client.on('message', (topic, payload) => {
      if (!topic.startsWith(mine)) {
        if (!this.topicHandlers.has(topic.slice(0, topic.lastIndexOf('/')))) this.dropped++;
        return;
      }
      if (payload.length > this.max) {
        this.dropped++;
        return;
      }
      const from = topic.slice(mine.length);
      const h = this.handler;
      if (!h || !HEX.test(from)) {
        this.dropped++;
        return;
      }
      const frame = new Uint8Array(payload);
      this.chain = this.chain.then(() => h(from, frame)).catch(() => {});
    });
  }

  /**
   * Holds writes back from a received frame until the first frame sent after it, or else the end of the
   * event-loop turn, so that the frame's PUBACK and what handling it sends (the payee's ack; the payer's
   * next voucher) leave in one TCP write instead of two: on loopback the writes, not the bytes, cost. Sends
   * made together (a burst) still leave together; a frame whose handling waits on I/O gets its PUBACK at
   * the end of the turn. Node only: elsewhere there is no check phase.
   */
  private holdWrites(): void {
    const s = this.client.stream as Writable | undefined;
    if (this.held !== undefined || typeof setImmediate !== 'function' || typeof s?.cork !== 'function') return;
    this.held = s;
    s.cork();
    setImmediate(() => this.held === s && this.release());
  }

  private release(): void {
    const s = this.held;
    this.held = undefined;
    s?.uncork();
  }

  /**
   * Connects and subscribes. Resolves once subscribed (the broker holds frames from then on).
   * @throws TransportError TRANSPORT_ADDRESS for an address that is not hex; MQTT.js errors when the
   *   broker cannot be reached within its connect timeout.
   */
  static async connect(o: MqttTransportOptions): Promise<MqttTransport> {
    if (!HEX.test(o.address)) throw new TransportError('TRANSPORT_ADDRESS', 'addresses are lower-case hex', 'address');
    const v = o.protocolVersion ?? 5;
    const client = await connectAsync(o.url, {
      clientId: o.clientId ?? `${o.prefix ?? 'edgepay'}:${o.address.slice(0, 24)}`,
      clean: false,
      protocolVersion: v,
      reconnectPeriod: o.reconnectPeriod ?? 1000,
      connectTimeout: 10_000,
      resubscribe: true,
      ...(v === 5 ? { properties: { sessionExpiryInterval: o.sessionExpirySeconds ?? 86_400 } } : {}),
      // MQTT.js logs each step of each packet through `debug` (about 20 calls a payment, 5 KB of garbage
      // even when disabled): a no-op unless DEBUG asks for its logs.
      ...(mqttDebug() ? {} : { log: noLog }),
      ...o.mqtt,
    });
    // Frames are small and each waits for an answer: without TCP_NODELAY, Nagle's algorithm and delayed
    // ACKs add a delayed-ACK wait per hop. Set on every (re)connect, since each reconnect makes a new socket.
    const noDelay = () => (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    noDelay();
    client.on('connect', noDelay);
    const t = new MqttTransport(o.address, client, o);
    await client.subscribeAsync(`${t.prefix}/d/${o.address}/from/+`, { qos: 1 });
    return t;
  }

  /** Publishes with QoS 1; resolves at the broker's PUBACK (queued and resent while disconnected). */
  async send(to: string, frame: Uint8Array): Promise<void> {
    if (frame.length > this.max)
      throw new TransportError('TRANSPORT_FRAME_SIZE', `frame of ${frame.length} bytes exceeds ${this.max}`, 'frame');
    if (!HEX.test(to)) throw new TransportError('TRANSPORT_ADDRESS', 'addresses are lower-case hex', 'to');
    if (this.client.disconnecting) throw new TransportError('TRANSPORT_CLOSED', 'transport is closed', 'transport');
    const sent = this.client.publishAsync(`${this.prefix}/d/${to}/from/${this.address}`, mqttPayload(frame), { qos: 1 });
    // Written (into the held stream) by now; flush once this run of sends is done.
    if (this.held !== undefined) queueMicrotask(() => this.release());
    await sent;
  }

  /** This transport's topic prefix. */
  get topicPrefix(): string {
    return this.prefix;
  }

  /**
   * Subscribes to `<base>/+` (or only `<base>/<only>`) and calls `handler` with the last topic level and the
   * payload (retained messages arrive at once). For the ledger and revocation topics; frames use {@link onFrame}.
   */
  async subscribeTopic(base: string, handler: (last: string, payload: Uint8Array) => void, maxBytes: number, only?: string): Promise<void> {
    this.topicHandlers.set(base, handler);
    this.client.on('message', (topic, payload) => {
      if (!topic.startsWith(`${base}/`) || payload.length > maxBytes) return;
      const last = topic.slice(base.length + 1);
      if (last.includes('/') || (only !== undefined && last !== only)) return;
      handler(last, new Uint8Array(payload));
    });
    await this.client.subscribeAsync(`${base}/${only ?? '+'}`, { qos: 1 });
  }

  /**
   * Takes every revocation list published on this prefix (retained: the newest arrives on subscribing).
   * The handler verifies and applies: e.g. `(l) => trust.applyRevocationList(l)`.
   */
  onRevocationLists(handler: (list: Uint8Array) => void | Promise<void>): Promise<void> {
    let chain = Promise.resolve();
    return this.subscribeTopic(
      `${this.prefix}/revocations`,
      (_kid, list) => {
        chain = chain.then(() => handler(list)).catch(() => {});
      },
      MAX_REVOCATION_BYTES,
    );
  }

  /** Publishes an authority's newest list, retained, so devices that connect later get it too. */
  async publishRevocationList(authorityKid: Uint8Array, list: Uint8Array): Promise<void> {
    await this.client.publishAsync(`${this.prefix}/revocations/${toHex(authorityKid)}`, mqttPayload(list), { qos: 1, retain: true });
  }

  onFrame(handler: FrameHandler): void {
    this.handler = handler;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /**
   * Disconnects. With `endSession` the broker forgets this device's session and queued frames (on MQTT 5
   * by a session expiry of 0 at disconnect; on 3.1.1 by reconnecting with a clean session).
   */
  async close(options: { endSession?: boolean } = {}): Promise<void> {
    const endSession = options.endSession ?? this.endSessionOnClose;
    const v5 = this.client.options.protocolVersion === 5;
    if (endSession && v5) {
      await this.client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
      return;
    }
    await this.client.endAsync();
    if (endSession) {
      const { host, port, protocol } = this.client.options;
      const c = await connectAsync(`${protocol ?? 'mqtt'}://${host}:${port}`, {
        clientId: this.client.options.clientId,
        clean: true,
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
      await c.endAsync();
    }
  }
}
