/**
 * @module transport
 * How devices reach each other: the Transport interface, an in-process network, and MQTT (TCP on Node,
 * WebSockets in browsers, through MQTT.js).
 */

export { MemoryNetwork } from './memory.js';
export { MqttTransport, type MqttTransportOptions } from './mqtt.js';
export { type FrameHandler, MAX_TRANSPORT_FRAME, type Transport } from './transport.js';
