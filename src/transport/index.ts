/**
 * @module transport
 * How devices reach each other: the Transport interface, an in-process network, and MQTT (TCP on Node,
 * WebSockets in browsers, through MQTT.js).
 */

export * from './memory.js';
export * from './mqtt.js';
export * from './transport.js';
