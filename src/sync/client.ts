/**
 * @module sync/client
 * How a device reaches a ledger. `HttpLedgerClient` uses `fetch` (Node 18+ and browsers alike).
 * A client throws SyncError with `retryable` true for what a later attempt may fix (network down, the
 * ledger busy or failing) and false for what it will not (the ledger refused the submission itself).
 */
import { decode } from '../codec/cbor.js';
import { asArray, asBytes } from '../codec/fields.js';
import { EdgepayError, SyncError } from '../errors.js';

/**
 * How Sync reaches a ledger: submits a signed batch and returns the ledger's signed answer (HTTP, MQTT, or
 * failover over several).
 */
export interface LedgerClient {
  /** Sends a signed submission; resolves to one signed receipt per record, in order. */
  submit(submission: Uint8Array): Promise<Uint8Array[]>;
  /** True when the ledger answers now (a cheap health probe). */
  probe(): Promise<boolean>;
}

/** A sync failure: `retryable` says whether trying again later may succeed. */
export class SyncFailure extends SyncError {
  constructor(
    code: string,
    message: string,
    field: string | undefined,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(code, message, field, options);
  }
}

export interface HttpLedgerClientOptions {
  /** Milliseconds before a request is abandoned (default 15000). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * A ledger over HTTP (`POST /v1/submit`, CBOR), with a timeout per request; `fetch` on Node and in browsers.
 */
export class HttpLedgerClient implements LedgerClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(
    url: string,
    private readonly o: HttpLedgerClientOptions = {},
  ) {
    this.base = url.replace(/\/+$/, '');
    this.fetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async submit(submission: Uint8Array): Promise<Uint8Array[]> {
    const res = await this.request('/v1/submit', {
      method: 'POST',
      headers: { 'content-type': 'application/cbor' },
      body: submission as Uint8Array<ArrayBuffer>,
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    try {
      return asArray(decode(bytes, { maxBytes: 16 * 1024 * 1024, maxDepth: 2, tags: [] }), 'receipts').map((r, i) =>
        asBytes(r, `receipts[${i}]`),
      );
    } catch (e) {
      throw new SyncFailure('SYNC_ANSWER', 'the ledger answered with something other than receipts', 'receipts', true, { cause: e });
    }
  }

  async probe(): Promise<boolean> {
    try {
      await this.request('/health', { method: 'GET' });
      return true;
    } catch {
      return false;
    }
  }

  private async request(path: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetch(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(this.o.timeoutMs ?? 15_000) });
    } catch (e) {
      throw new SyncFailure('SYNC_OFFLINE', `the ledger cannot be reached: ${(e as Error).message}`, 'network', true, { cause: e });
    }
    if (res.ok) return res;
    let err: { code?: string; message?: string; field?: string } = {};
    try {
      err = (await res.json()) as typeof err;
    } catch {}
    // 429 and 5xx pass; other 4xx answers refuse the submission itself.
    const retryable = res.status === 429 || res.status >= 500;
    throw new SyncFailure(
      retryable ? 'SYNC_BUSY' : 'SYNC_REFUSED',
      `the ledger answered ${res.status}${err.code ? ` ${err.code}: ${err.message}` : ''}`,
      err.field,
      retryable,
      { cause: err.code ? new EdgepayError(err.code, err.message ?? '', err.field) : undefined },
    );
  }
}

export interface FailoverOptions {
  /** How long an endpoint that failed is passed over before it is tried first again (ms, default 1000). */
  downMs?: number;
  /** The clock, in milliseconds (default `Date.now`): injected, as everywhere, so tests control time. */
  nowMs?: () => number;
}

/**
 * Several endpoints of one ledger (API processes sharing its database) as one client: a call goes to the
 * first endpoint not recently found down, in the order given; a retryable failure passes it over for
 * `downMs` and the call moves on to the next. So a client fails over to a survivor, and back to its first
 * choice once that answers again. A refusal is the ledger's answer: it is not retried elsewhere. Safe
 * because submissions are idempotent: a batch a dying endpoint applied gets the same receipts again.
 */
export class FailoverLedgerClient implements LedgerClient {
  private readonly downUntil: number[];

  constructor(
    private readonly clients: readonly LedgerClient[],
    private readonly o: FailoverOptions = {},
  ) {
    if (clients.length === 0) throw new SyncError('SYNC_CONFIG', 'a failover client needs at least one endpoint', 'clients');
    this.downUntil = clients.map(() => 0);
    this.nowMs = o.nowMs ?? Date.now;
  }

  private readonly nowMs: () => number;

  /** Passes endpoint `i` over for `downMs`. */
  private down(i: number): void {
    this.downUntil[i] = this.nowMs() + (this.o.downMs ?? 1000);
  }

  submit(submission: Uint8Array): Promise<Uint8Array[]> {
    return this.first((c) => c.submit(submission));
  }

  async probe(): Promise<boolean> {
    for (const i of this.order()) {
      if (await (this.clients[i] as LedgerClient).probe()) {
        this.downUntil[i] = 0;
        return true;
      }
      this.down(i);
    }
    return false;
  }

  /** Endpoints up first, then those passed over (all down: still try each). */
  private order(): number[] {
    const now = this.nowMs();
    const all = this.clients.map((_, i) => i);
    return [...all.filter((i) => (this.downUntil[i] as number) <= now), ...all.filter((i) => (this.downUntil[i] as number) > now)];
  }

  private async first<T>(call: (c: LedgerClient) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const i of this.order()) {
      try {
        const out = await call(this.clients[i] as LedgerClient);
        this.downUntil[i] = 0;
        return out;
      } catch (e) {
        if (!(e instanceof SyncFailure) || !e.retryable) throw e;
        this.down(i);
        last = e;
      }
    }
    throw last;
  }
}
