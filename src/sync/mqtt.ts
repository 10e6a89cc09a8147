/**
 * @module sync/mqtt
 * Sync over MQTT, for devices that have a broker but no HTTP route to the ledger: a submission goes to
 * `<prefix>/ledger/submit/<address>`, the answer comes back on `<prefix>/ledger/answer/<address>`
 * (QoS 1, on the device's persistent session: an answer sent while the device was away still arrives).
 * The ledger answers the identity that signed the submission, so `<address>` is the device key's
 * thumbprint (hex): the transport's address must be the signer's.
 *
 * Answer: `{ 1 submission: bstr .size 32 (its SHA-256), 2 receipts: [* bstr] }`, or on refusal
 * `{ 1 submission, 3 code: tstr, 4 message: tstr, 5 retryable: bool }`.
 */
import { toHex } from '../bytes.js';
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { asArray, asBool, asBytes, asMap, asText } from '../codec/fields.js';
import { sha256 } from '../crypto/hash.js';
import { EdgepayError } from '../errors.js';
import { type MqttTransport, mqttPayload } from '../transport/mqtt.js';
import { type LedgerClient, SyncFailure } from './client.js';

export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export type LedgerAnswer = { receipts: Uint8Array[] } | { code: string; message: string; retryable: boolean };

export function encodeAnswer(submissionId: Uint8Array, a: LedgerAnswer): Uint8Array {
  const m = new Map<number, CborValue>([[1, submissionId]]);
  if ('receipts' in a) m.set(2, a.receipts);
  else m.set(3, a.code).set(4, a.message).set(5, a.retryable);
  return encode(m);
}

export function decodeAnswer(bytes: Uint8Array): { id: Uint8Array; answer: LedgerAnswer } {
  const m = asMap(decode(bytes, { maxBytes: MAX_ANSWER_BYTES, maxDepth: 3, tags: [] }), 'answer');
  const id = asBytes(m.get(1), 'answer.submission', 32);
  if (m.has(2))
    return { id, answer: { receipts: asArray(m.get(2), 'answer.receipts').map((r, i) => asBytes(r, `answer.receipts[${i}]`)) } };
  return {
    id,
    answer: {
      code: asText(m.get(3), 'answer.code'),
      message: asText(m.get(4), 'answer.message', 1024),
      retryable: asBool(m.get(5), 'answer.retryable'),
    },
  };
}

/**
 * A ledger over MQTT: submits on `<prefix>/ledger/submit/<address>` and hears its answers on its own topic only.
 */
export class MqttLedgerClient implements LedgerClient {
  private readonly waiting = new Map<string, { resolve: (a: LedgerAnswer) => void }>();
  private ready: Promise<void> | undefined;

  constructor(
    private readonly transport: MqttTransport,
    private readonly o: { timeoutMs?: number } = {},
  ) {}

  private listen(): Promise<void> {
    this.ready ??= this.transport.subscribeTopic(
      `${this.transport.topicPrefix}/ledger/answer`,
      (address, bytes) => {
        if (address !== this.transport.address) return;
        try {
          const { id, answer } = decodeAnswer(bytes);
          this.waiting.get(toHex(id))?.resolve(answer);
        } catch {} // not an answer: ignore (the submission times out and is sent again)
      },
      MAX_ANSWER_BYTES,
      this.transport.address, // its own answers only: a broker's ACL lets a device read nothing else
    );
    return this.ready;
  }

  async submit(submission: Uint8Array): Promise<Uint8Array[]> {
    await this.listen();
    const id = toHex(sha256(submission));
    const ms = this.o.timeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = new Promise<LedgerAnswer>((resolve, reject) => {
      this.waiting.set(id, { resolve });
      timer = setTimeout(() => reject(new SyncFailure('SYNC_OFFLINE', `no answer from the ledger within ${ms} ms`, 'network', true)), ms);
    });
    try {
      await this.transport.client
        .publishAsync(`${this.transport.topicPrefix}/ledger/submit/${this.transport.address}`, mqttPayload(submission), { qos: 1 })
        .catch((e: Error) => {
          throw new SyncFailure('SYNC_OFFLINE', `the broker did not take the submission: ${e.message}`, 'network', true, { cause: e });
        });
      const a = await answer;
      if ('receipts' in a) return a.receipts;
      throw new SyncFailure(
        a.retryable ? 'SYNC_BUSY' : 'SYNC_REFUSED',
        `the ledger answered ${a.code}: ${a.message}`,
        undefined,
        a.retryable,
        { cause: new EdgepayError(a.code, a.message) },
      );
    } finally {
      clearTimeout(timer);
      this.waiting.delete(id);
    }
  }

  async probe(): Promise<boolean> {
    return this.transport.connected;
  }
}
