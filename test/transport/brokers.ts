/** MQTT brokers for tests: aedes in-process, and a private Mosquitto process that can be killed. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { reachable } from '../services.js';

export interface Broker {
  url: string;
  port: number;
  /** `ws://...` of the same broker's WebSocket listener, where started with one. */
  wsUrl?: string;
  /** Stops the broker abruptly (aedes: closed with its sessions; Mosquitto: kill -9). */
  crash(): Promise<void>;
  /** Starts it again on the same port (with no memory of sessions: both keep them in memory). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A port nothing listens on (taken and let go). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitFor(port: number, up: boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await reachable(port, '127.0.0.1', 200)) === up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not come ${up ? 'up' : 'down'}`);
}

/** An embedded aedes on a port the system picks (port 0), restarted later on that same port. */
export async function startAedes(): Promise<Broker> {
  let port = 0;
  let broker: Aedes;
  let server: Server;
  const start = async () => {
    broker = await Aedes.createBroker();
    server = createServer((socket) => {
      socket.setNoDelay(true);
      broker.handle(socket);
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  };
  const stop = async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise((r) => server.close(r));
  };
  await start();
  return { url: `mqtt://127.0.0.1:${port}`, port, crash: stop, restart: start, close: stop };
}

/**
 * A private Mosquitto on a free loopback port (not the shared one at 1883, which others use). `secure`
 * gives it the documented fleet setup (docs/operating/mosquitto: no anonymous clients, the ACL file as
 * committed) with these users and passwords.
 */
export async function startMosquitto(
  o: { tcpNoDelay?: boolean; secure?: { users: Record<string, string> }; websockets?: boolean } = {},
): Promise<Broker> {
  let port = 0;
  let wsPort = 0;
  const dir = mkdtempSync(join(tmpdir(), 'edgepay-mosq-'));
  const conf = join(dir, 'mosquitto.conf');
  let secure = 'allow_anonymous true\n';
  if (o.secure) {
    const passwd = join(dir, 'edgepay.passwd');
    writeFileSync(passwd, '', { mode: 0o644 });
    for (const [user, password] of Object.entries(o.secure.users)) execFileSync('mosquitto_passwd', ['-b', passwd, user, password]);
    const acl = join(dir, 'edgepay.acl');
    copyFileSync(new URL('../../docs/operating/mosquitto/edgepay.acl', import.meta.url), acl);
    // As root, Mosquitto would change to its own user, which cannot read this test's files.
    secure = `allow_anonymous false\npassword_file ${passwd}\nacl_file ${acl}\n${process.getuid?.() === 0 ? 'user root\n' : ''}`;
  }
  const configure = () =>
    writeFileSync(
      conf,
      `listener ${port} 127.0.0.1\n${o.websockets ? `listener ${wsPort} 127.0.0.1\nprotocol websockets\n` : ''}` +
        `${secure}persistence false\n${o.tcpNoDelay ? 'set_tcp_nodelay true\n' : ''}`,
    );
  let proc: ChildProcess;
  /** Up once it listens and is still running (another process may have taken the port it was given). */
  const start = async (): Promise<boolean> => {
    proc = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    const exited = new Promise<false>((r) => proc.once('exit', () => r(false)));
    const up = await Promise.race([
      waitFor(port, true).then(
        () => true,
        () => false,
      ),
      exited,
    ]);
    return up && proc.exitCode === null;
  };
  // Mosquitto cannot listen on port 0: a free port is picked, and picked again if it was taken meanwhile.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    if (o.websockets) wsPort = await freePort();
    configure();
    if (await start()) break;
    if (attempt === 4) throw new Error('mosquitto did not start');
  }
  const crash = async () => {
    proc.kill('SIGKILL');
    await waitFor(port, false);
  };
  if (o.websockets) await waitFor(wsPort, true);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    ...(o.websockets ? { wsUrl: `ws://127.0.0.1:${wsPort}` } : {}),
    crash,
    restart: async () => {
      if (!(await start())) throw new Error(`mosquitto did not restart on port ${port}`);
    },
    close: async () => {
      await crash();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
