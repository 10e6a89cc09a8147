/**
 * @module transport/transport
 * How devices reach each other. A transport moves opaque frames between addresses (edgepay uses the
 * hex thumbprint of a device's key); everything in a frame authenticates itself, so a transport needs no
 * trust of its own. `send` resolves once the transport has taken responsibility for the frame (for MQTT
 * QoS 1: the broker's PUBACK), so a caller that stored state first and then sent loses nothing.
 */
export type FrameHandler = (from: string, frame: Uint8Array) => void | Promise<void>;

/** How a device sends frames to another device's address and receives its own. */
export interface Transport {
  /** This endpoint's address. */
  readonly address: string;
  /** Sends `frame` to `to`. Rejects with a TransportError when the frame is too large or the transport is closed. */
  send(to: string, frame: Uint8Array): Promise<void>;
  /** Sets the handler for incoming frames (one per transport). */
  onFrame(handler: FrameHandler): void;
  close(): Promise<void>;
}

/** Largest frame any edgepay transport carries (an open with two credential chains is about 1.5 KB). */
export const MAX_TRANSPORT_FRAME = 16 * 1024;
