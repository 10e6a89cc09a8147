/**
 * Keys in a PKCS#11 token (SoftHSM2, a token of the test's own in a temporary directory): generated there
 * and never extractable (opensc's pkcs11-tool, an independent client, says so), a wrong PIN refused with a
 * code, a whole channel paid and settled with the token-held key, and a token pulled mid-channel: the
 * payment in progress fails with a code, nothing is signed twice for one state, and once the token is back
 * the channel goes on and settles exactly what was paid.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { decodeFrame } from '../../src/channel/messages.js';
import { isCanonical, nobleEs256 } from '../../src/crypto/es256.js';
import { nodeEs256 } from '../../src/crypto/es256-node.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { Pkcs11KeyStore } from '../../src/identity/keystore-pkcs11.js';
import { openPglite } from '../../src/ledger/db.js';
import { encodeSettlement } from '../../src/settlement/record.js';
import { signSubmission } from '../../src/sync/submission.js';
import { deliver, pair } from '../channel/world.js';
import { codeOf } from '../codes.js';
import { haveSoftHsm, SOFTHSM_MODULE, softToken } from '../hsm.js';
import { startLedger } from '../sync/world.js';

const MODULE = SOFTHSM_MODULE;

describe.skipIf(!haveSoftHsm('the PKCS#11 token tests'))('a device key in a PKCS#11 token (SoftHSM2)', () => {
  let token: ReturnType<typeof softToken>;
  let dir: string;
  let tokens: string;
  let store: Pkcs11KeyStore;
  beforeAll(async () => {
    token = softToken('edge', '1234');
    ({ dir, tokens } = token);
    store = await Pkcs11KeyStore.open({ module: MODULE, token: 'edge', pin: () => '1234' });
  });
  afterAll(async () => {
    await store?.close();
    token?.remove();
  });

  it('generates a key in the token that signs there and is never extractable; imports and duplicates are refused', async () => {
    const s = await store.generate('device-1');
    const message = new TextEncoder().encode('a voucher');
    const signature = await s.sign(message);
    expect(await nodeEd25519.verify(signature, message, s.publicKey)).toBe(true);
    expect(toHex((await store.get('device-1'))?.publicKey as Uint8Array)).toBe(toHex(s.publicKey));
    expect(await store.get('absent')).toBeUndefined();
    expect(await store.list()).toContain('device-1');
    expect(await codeOf(store.generate('device-1'))).toBe('ID_KEY_EXISTS');
    expect(await codeOf(store.importKey('device-2'))).toBe('ID_KEY_IMPORT');
    // What an independent PKCS#11 client sees: the private key is sensitive and was never extractable.
    const listed = execFileSync(
      'pkcs11-tool',
      ['--module', MODULE, '--token-label', 'edge', '--login', '--pin', '1234', '--list-objects', '--type', 'privkey'],
      { encoding: 'utf8', env: process.env },
    );
    const entry = listed.split(/(?=Private Key Object)/).find((b) => b.includes('label:      device-1')) ?? '';
    expect(entry).toMatch(/EC_EDWARDS/);
    expect(entry).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
    expect(await store.delete('device-1')).toBe(true);
    expect(await store.get('device-1')).toBeUndefined();
  });

  it('ES256: a P-256 key made in the token signs low-S r || s that every ES256 provider verifies; a channel paid with it settles', async () => {
    const s = await store.generate('p256-device', { alg: 'ES256' });
    expect([s.publicKey.length, s.publicKey[0]]).toEqual([65, 4]);
    expect(toHex((await store.get('p256-device'))?.publicKey as Uint8Array)).toBe(toHex(s.publicKey));
    for (let i = 0; i < 6; i++) {
      const m = new TextEncoder().encode(`voucher ${i}`);
      const signature = await s.sign(m);
      expect(isCanonical(signature)).toBe(true);
      for (const p of [nodeEs256, nobleEs256]) expect(await p.verify(signature, m, s.publicKey)).toBe(true);
    }
    const p = await pair({ droneSigner: s });
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 50n });
    await deliver(p, frame);
    for (let i = 0; i < 5; i++) await deliver(p, await p.payer.pay(channelId, 10n));
    await deliver(p, await p.payer.close(channelId));
    expect(p.payee.channel(channelId)).toMatchObject({ cumulative: 50n, state: 'closed' });
    const listed = execFileSync(
      'pkcs11-tool',
      ['--module', MODULE, '--token-label', 'edge', '--login', '--pin', '1234', '--list-objects', '--type', 'privkey'],
      { encoding: 'utf8', env: process.env },
    );
    const entry = listed.split(/(?=Private Key Object)/).find((b) => b.includes('label:      p256-device')) ?? '';
    expect(entry).toMatch(/Private Key Object; EC/);
    expect(entry).toMatch(/never extractable/);
  });

  it('a wrong PIN, a token that is not there and a library that is not PKCS#11 are refused with codes', async () => {
    expect(await codeOf(Pkcs11KeyStore.open({ module: MODULE, token: 'edge', pin: '0000' }))).toBe('ID_TOKEN_PIN');
    expect(await codeOf(Pkcs11KeyStore.open({ module: MODULE, token: 'no-such-token', pin: '1234' }))).toBe('ID_TOKEN_ABSENT');
    expect(await codeOf(Pkcs11KeyStore.open({ module: join(dir, 'missing.so'), token: 'edge', pin: '1234' }))).toBe('ID_TOKEN');
  });

  it('pays a whole channel with the token-held key, and the ledger settles it', async () => {
    const drone = (await store.get('drone')) ?? (await store.generate('drone'));
    const p = await pair({ droneSigner: drone });
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 100n });
    await deliver(p, frame);
    for (let i = 0; i < 20; i++) await deliver(p, await p.payer.pay(channelId, 5n));
    await deliver(p, await p.payer.close(channelId));
    expect(p.payee.channel(channelId)).toMatchObject({ cumulative: 100n, state: 'closed' });
    const db = await openPglite();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 1_000n).then(() => {}));
    try {
      const submission = await signSubmission(p.drone, p.droneChain, [encodeSettlement(p.payer.channel(channelId)!)], p.clock.now);
      const [receipt] = await w.service.submit(submission);
      expect(receipt).toBeDefined();
      expect(await w.ledger.balance('party:fleet', 'EUR')).toBe(900n);
    } finally {
      await w.http.close();
      await db.close();
    }
  });

  it('a token pulled mid-channel: the payment fails with a code, nothing is signed twice, and the channel goes on once it is back', async () => {
    const drone = await store.generate('pulled');
    const p = await pair({ droneSigner: drone });
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 1_000n });
    await deliver(p, frame);
    const sent: Uint8Array[] = [];
    const pay = async () => {
      const f = await p.payer.pay(channelId, 7n);
      sent.push(f);
      await deliver(p, f);
    };
    for (let i = 0; i < 5; i++) await pay();
    const before = p.payer.channel(channelId);
    const [uuid] = readdirSync(tokens);
    renameSync(join(tokens, uuid as string), join(dir, 'away'));
    expect(await codeOf(pay())).toBe('ID_TOKEN_ABSENT');
    // While it is away every attempt says so; nothing more is owed (a seq reserved before signing is
    // never used again, so a voucher that might have been signed can never meet a different one).
    expect(await codeOf(pay())).toBe('ID_TOKEN_ABSENT');
    expect(p.payer.channel(channelId)?.cumulative).toBe(before?.cumulative);
    renameSync(join(dir, 'away'), join(tokens, uuid as string));
    for (let i = 0; i < 5; i++) await pay();
    await deliver(p, await p.payer.close(channelId));
    expect(p.payee.channel(channelId)).toMatchObject({ cumulative: 70n, state: 'closed' });
    // Every voucher that left the device is for its own state: one per seq, each 7 more than the last.
    const vouchers = sent.map((f) => decodeFrame(f)).flatMap((f) => (f.type === 'voucher' ? [f.voucher] : []));
    expect(vouchers).toHaveLength(10);
    expect(new Set(vouchers.map((v) => v.seq)).size).toBe(10);
    expect(vouchers.map((v) => v.cumulative)).toEqual(Array.from({ length: 10 }, (_, i) => 7n * BigInt(i + 1)));
    expect(existsSync(join(dir, 'away'))).toBe(false);
  });

  it('the CLI: keygen --pkcs11 makes a token key (only its .pub is written); a party key in the token enrols a token-held device', () => {
    const env = { ...process.env, EDGEPAY_PASSPHRASE: 'test passphrase', EDGEPAY_KDF_LOG2N: '10', EDGEPAY_PKCS11_PIN: '1234' };
    const cli = (args: string[], extra: Record<string, string> = {}) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', env: { ...env, ...extra } });
    const d = (f: string) => join(dir, 'cli', f);
    const token = ['--pkcs11', MODULE, '--token', 'edge'];
    expect(cli(['issuer', 'init', '--dir', d('issuer'), '--id', 'network:test']).status).toBe(0);
    const party = cli(['keygen', '--dir', d('fleet'), '--name', 'fleet-party', ...token]);
    expect(party.status, party.stderr).toBe(0);
    expect(JSON.parse(party.stdout)).toMatchObject({
      publicKey: d('fleet/fleet-party.pub'),
      pkcs11: { token: 'edge', label: 'fleet-party' },
    });
    expect(existsSync(d('fleet/keys'))).toBe(false); // no key file: the key is in the token alone
    const limits = ['--per-payment', '500', '--per-channel', '10000', '--per-period', '100000', '--total-outstanding', '50000'];
    const certify = cli([
      'party',
      'certify',
      '--issuer',
      d('issuer'),
      '--key',
      d('fleet/fleet-party.pub'),
      '--id',
      'party:fleet',
      '--asset',
      'EUR',
      ...limits,
      '--category',
      'fleet-operator',
      '--payment-ref',
      'tok_f',
      '--out',
      d('fleet.cred'),
    ]);
    expect(certify.status, certify.stderr).toBe(0);
    // The device's key is P-256 (ES256), as on a secure element that does only P-256; its party's is Ed25519.
    const droneKey = cli(['keygen', '--dir', d('drone'), '--name', 'drone-7', '--alg', 'es256', ...token]);
    expect(droneKey.status, droneKey.stderr).toBe(0);
    expect(JSON.parse(droneKey.stdout).jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(cli(['keygen', '--dir', d('soft'), '--name', 'k', '--alg', 'es256']).status).toBe(2); // ES256 keys live in tokens
    const enroll = [
      'device',
      'enroll',
      '--key-name',
      'fleet-party',
      '--party-cred',
      d('fleet.cred'),
      '--key',
      d('drone/drone-7.pub'),
      '--id',
      'device:drone-7',
      '--category',
      'drone',
      '--out',
      d('drone.chain'),
      ...token,
    ];
    const enrolled = cli(enroll);
    expect(enrolled.status, enrolled.stderr).toBe(0);
    const inspected = cli(['inspect', d('drone.chain'), '--trust', d('issuer/issuer.pub')]);
    expect(inspected.status, inspected.stderr).toBe(0);
    // A wrong PIN is one line with its code, and nothing is written.
    const wrong = cli([...enroll.slice(0, -4).map((a) => (a === d('drone.chain') ? d('other.chain') : a)), ...token], {
      EDGEPAY_PKCS11_PIN: '0000',
    });
    expect([wrong.status, wrong.stderr.trim()]).toEqual([1, expect.stringMatching(/^edgepay: ID_TOKEN_PIN .*CKR_PIN_INCORRECT/)]);
    expect(existsSync(d('other.chain'))).toBe(false);
  });
});
