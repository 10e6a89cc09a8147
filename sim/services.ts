/**
 * @module sim/services
 * What a simulation runs beside its devices: an embedded MQTT broker (aedes; TCP, and WebSockets for
 * browsers), and the ledger's database (embedded PGlite, or PostgreSQL in a schema of the run's own that
 * is dropped at the end).
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { toHex } from '../src/bytes.js';
import { sha256 } from '../src/crypto/hash.js';
import { type Db, openPglite } from '../src/ledger/db.js';
import { openPostgres } from '../src/ledger/postgres.js';

export interface EmbeddedBroker {
  /** `mqtt://127.0.0.1:<port>` */
  url: string;
  /** `ws://127.0.0.1:<port>` when started with WebSockets. */
  wsUrl?: string;
  close(): Promise<void>;
}

/** Starts aedes (MQTT 3.1.1) on a loopback port, and with `ws` on a second one for MQTT over WebSockets. */
export async function startBroker(o: { ws?: boolean } = {}): Promise<EmbeddedBroker> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const closers: (() => Promise<unknown>)[] = [];
  let wsUrl: string | undefined;
  if (o.ws) {
    const { WebSocketServer, createWebSocketStream } = await import('ws');
    const http = createHttpServer();
    // MQTT over WebSockets names its subprotocol `mqtt` (MQTT 3.1.1 section 6).
    const wss = new WebSocketServer({ server: http, handleProtocols: (p) => (p.has('mqtt') ? 'mqtt' : false) });
    wss.on('connection', (socket) => broker.handle(createWebSocketStream(socket) as never));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    wsUrl = `ws://127.0.0.1:${(http.address() as { port: number }).port}`;
    closers.push(async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
      await new Promise((r) => http.close(r));
    });
  }
  return {
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    ...(wsUrl ? { wsUrl } : {}),
    close: async () => {
      for (const c of closers) await c();
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise((r) => server.close(r));
    },
  };
}

/** The ledger's database for one run: PGlite, or PostgreSQL at `url` in a fresh schema dropped on close. */
export async function openRunDb(url: string | undefined, tag: string): Promise<Db> {
  if (!url) return openPglite();
  const schema = `ep_sim_${toHex(sha256(new TextEncoder().encode(`${tag}:${Date.now()}`))).slice(0, 12)}`;
  const pg = await openPostgres(url, schema);
  return {
    ...pg,
    close: async () => {
      await pg.query(`drop schema ${schema} cascade`);
      await pg.close();
    },
  };
}
