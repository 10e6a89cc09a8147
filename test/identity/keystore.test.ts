import { appendFileSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyParty } from '../../src/identity/chain.js';
import { MemoryKeyStore } from '../../src/identity/keystore.js';
import { FileKeyStore } from '../../src/identity/keystore-file.js';
import { filePersistence } from '../../src/identity/node-files.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import { type Persistence, TrustStore } from '../../src/identity/trust-store.js';
import { keyStoreSuite } from './keystore-suite.js';
import { ISSUER_ID, partyCredential, T0, world } from './world.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'edgepay-ks-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// Lower scrypt cost in tests (the default, 2^15, is for real keys).
const FAST = { log2N: 10 };

describe('MemoryKeyStore', () => keyStoreSuite(async () => new MemoryKeyStore()));
describe('FileKeyStore', () => {
  keyStoreSuite(async () => new FileKeyStore(join(tmp(), 'keys'), 'correct horse', FAST));

  it('writes 0600 files in a 0700 directory, encrypted (the secret is not in the file)', async () => {
    const dir = join(tmp(), 'keys');
    const ks = new FileKeyStore(dir, 'pw', FAST);
    const sk = new Uint8Array(32).fill(0x5a);
    await ks.importKey('dev', sk);
    expect(statSync(join(dir, 'dev.key')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(Buffer.from(readFileSync(join(dir, 'dev.key'))).includes(Buffer.from(sk))).toBe(false);
  });

  it('a new process (new store object) opens the key with the passphrase, and only with it', async () => {
    const dir = join(tmp(), 'keys');
    const s = await new FileKeyStore(dir, 'pw', FAST).generate('dev');
    expect((await new FileKeyStore(dir, 'pw', FAST).get('dev'))?.publicKey).toEqual(s.publicKey);
    expect(await new FileKeyStore(dir, 'pw', FAST).publicKey('dev')).toEqual(s.publicKey);
    await expect(new FileKeyStore(dir, 'wrong', FAST).get('dev')).rejects.toMatchObject({ code: 'ID_KEY_DECRYPT' });
  });

  it('rejects an altered envelope and one moved under another name', async () => {
    const dir = join(tmp(), 'keys');
    await new FileKeyStore(dir, 'pw', FAST).generate('a');
    renameSync(join(dir, 'a.key'), join(dir, 'b.key'));
    await expect(new FileKeyStore(dir, 'pw', FAST).get('b')).rejects.toMatchObject({ code: 'ID_KEY_DECRYPT' });
    const f = join(dir, 'b.key');
    const bytes = readFileSync(f);
    bytes[bytes.length - 40]! ^= 1;
    writeFileSync(f, bytes);
    await expect(new FileKeyStore(dir, 'pw', FAST).get('b')).rejects.toMatchObject({
      code: expect.stringMatching(/^(ID_KEY_DECRYPT|CBOR_|FIELD_)/),
    });
  });

  it('refuses an empty passphrase', async () => {
    await expect(new FileKeyStore(join(tmp(), 'k'), '', FAST).generate('x')).rejects.toMatchObject({ code: 'ID_KEY_PASSPHRASE' });
  });
});

describe('trust store file persistence', () => {
  it('survives a restart and writes atomically (no temp files left)', async () => {
    const w = await world();
    const dir = tmp();
    const path = join(dir, 'trust.cbor');
    const roots = [{ id: ISSUER_ID, publicKey: w.issuer.publicKey }];
    const a = await TrustStore.open(roots, filePersistence(path));
    await a.applyRevocationList(await signRevocationList(w.issuer, { issuer: ISSUER_ID, version: 4, issuedAt: T0, entries: [] }));
    const b = await TrustStore.open(roots, filePersistence(path));
    expect([...b.versions().values()]).toEqual([4]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['trust.cbor']);
  });
});

describe('trust store: learning many parties', () => {
  it('appends each new party once instead of rewriting all of them, and restores every one', async () => {
    const w = await world();
    const dir = tmp();
    const path = join(dir, 'trust.cbor');
    const roots = [{ id: ISSUER_ID, publicKey: w.issuer.publicKey }];
    let saves = 0;
    let savedBytes = 0;
    const counted = (p: Persistence): Persistence => ({
      ...p,
      save: async (b) => {
        saves++;
        savedBytes += b.length;
        await p.save(b);
      },
    });
    const party = (subject: string, key: Uint8Array) => partyCredential(w, subject, key);
    const parties: Uint8Array[] = [];
    for (let i = 0; i < 300; i++)
      parties.push(
        await party(
          `party:${i}`,
          new Uint8Array(32).fill(i % 250).map((x, j) => (j === 0 ? i >> 8 : x)),
        ),
      );
    const a = await TrustStore.open(roots, counted(filePersistence(path)));
    for (const c of parties) await verifyParty(c, { trust: a, skipTimeCheck: true });
    // 300 parties: a save folds the log in when it outgrows the state (twice here), not 300 saves of a growing file.
    expect(saves).toBeLessThanOrEqual(3);
    expect(savedBytes).toBeLessThan(parties.reduce((n, c) => n + c.length, 0) * 3);
    saves = 0;
    const b = await TrustStore.open(roots, counted(filePersistence(path)));
    expect(saves).toBe(0); // reading back writes nothing
    const { decodeCredential } = await import('../../src/identity/credential.js');
    for (const c of parties) expect(b.authority(decodeCredential(c).subjectKid)).toBeDefined();

    // A crash mid-append leaves a record cut short: it is dropped, and appends after it read back whole.
    appendFileSync(`${path}.log`, new Uint8Array([0, 0, 1, 0, 0xd2, 0x84]));
    const extra = await party('party:late', new Uint8Array(32).fill(251));
    const c = await TrustStore.open(roots, filePersistence(path));
    await verifyParty(extra, { trust: c, skipTimeCheck: true });
    const d = await TrustStore.open(roots, filePersistence(path));
    expect(d.authority(decodeCredential(extra).subjectKid)).toBeDefined();
    for (const p of parties) expect(d.authority(decodeCredential(p).subjectKid)).toBeDefined();
    expect(readdirSync(dir).sort()).toEqual(['trust.cbor', 'trust.cbor.log'].sort());

    // A power cut can leave the last entry whole in length but zeros in content: dropped, the store opens.
    appendFileSync(`${path}.log`, new Uint8Array([0, 0, 0, 40, ...new Uint8Array(40)]));
    const zeroed = await TrustStore.open(roots, filePersistence(path));
    expect(zeroed.authority(decodeCredential(extra).subjectKid)).toBeDefined();
    for (const p of parties) expect(zeroed.authority(decodeCredential(p).subjectKid)).toBeDefined();

    // Parties learned while a save runs (the save empties the log): every one is still there after a restart.
    const late = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        party(
          `party:c${i}`,
          new Uint8Array(32).fill(200).map((x, j) => (j === 1 ? i : x)),
        ),
      ),
    );
    await Promise.all([...late.map((c) => verifyParty(c, { trust: d, skipTimeCheck: true })), d.save(), d.save()]);
    const e = await TrustStore.open(roots, filePersistence(path));
    for (const c of late) expect(e.authority(decodeCredential(c).subjectKid)).toBeDefined();
  });
});
