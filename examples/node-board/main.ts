/**
 * `npx tsx examples/node-board/main.ts [dir] [--pkcs11 <module> --token <label>]` (after `npm run build`):
 * the whole story on one machine. It sets up what would come from elsewhere (a network issuer, the board's
 * party, an embedded ledger), then runs the board: enrol, pay offline, queue, sync. With --pkcs11 the
 * board's keys are made and kept in that token (PIN from EDGEPAY_PKCS11_PIN).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createSigner, encodeChain, issueCredential, type KeyStore, TrustStore } from 'edgepay';
import { Pkcs11KeyStore, type Pkcs11Options } from 'edgepay/identity';
import { Ledger, LedgerService, openPglite, serveHttp } from 'edgepay/ledger';
import { runBoard } from './board.js';

export async function main(
  dir = mkdtempSync(join(tmpdir(), 'edgepay-board-')),
  log: (l: string) => void = console.log,
  o: { pkcs11?: Pkcs11Options } = {},
): Promise<number> {
  const now = Math.floor(Date.now() / 1000);
  const validity = { issuedAt: now, notBefore: now, expiresAt: now + 30 * 86_400 };
  // Elsewhere in real life: the network issuer certifies the party; the party enrols the board's keys.
  const issuer = await createSigner();
  const party = await createSigner();
  const roots = [{ id: 'network:example', publicKey: issuer.publicKey }];
  const limits = {
    asset: 'EUR',
    perPayment: 100n,
    perChannel: 10_000n,
    perPeriod: 100_000n,
    periodSeconds: 86_400,
    totalOutstanding: 50_000n,
  };
  const partyCred = await issueCredential(issuer, {
    ...validity,
    role: 'party',
    issuer: 'network:example',
    subject: 'party:workshop',
    publicKey: party.publicKey,
    limits,
    category: 'workshop',
    paymentRef: 'tok_workshop',
  });
  const { FileKeyStore } = await import('edgepay');
  // The board's keys: in a token (generated there, never leaving it), or in encrypted files.
  const token = o.pkcs11 ? await Pkcs11KeyStore.open(o.pkcs11) : undefined;
  const keys: KeyStore = token ?? new FileKeyStore(join(dir, 'keys'), 'board passphrase');
  if (token) log(`keys in PKCS#11 token ${o.pkcs11?.token}: ${(await keys.list()).join(', ') || 'none yet'}`);
  const enrol = async (name: string, category: string) =>
    encodeChain([
      partyCred,
      await issueCredential(party, {
        ...validity,
        role: 'device',
        issuer: 'party:workshop',
        subject: `device:${name}`,
        publicKey: ((await keys.get(name)) ?? (await keys.generate(name))).publicKey,
        limits: {},
        category,
      }),
    ]);
  const chain = await enrol('device', 'board');
  const meterChain = await enrol('meter', 'meter');

  // Elsewhere in real life: `edgepay ledger serve`. Here an embedded one, funded for the party.
  const ledgerKey = await createSigner();
  const db = await openPglite();
  const trust = new TrustStore(roots);
  const ledger = await Ledger.open({ db, signer: ledgerKey, id: 'ledger:example', trust });
  await ledger.fund('party:workshop', 'EUR', 1_000n);
  const http = await serveHttp(await LedgerService.open({ ledger, trust }));
  try {
    const r = await runBoard(
      {
        dir,
        passphrase: 'board passphrase',
        keys,
        roots,
        ledgerUrl: http.url,
        ledgerKey: ledgerKey.publicKey,
        chain,
        meter: { chain: meterChain },
      },
      20,
      log,
    );
    // Paying oneself (board and meter share a party) moves nothing between parties: the channel is applied.
    const [row] = await db.query<{ applied: string }>('select applied::text as applied from channels');
    log(`ledger: channel applied ${row?.applied}, party balance ${await ledger.balance('party:workshop', 'EUR')}`);
    return r.paid === 100n && row?.applied === '100' ? 0 : 1;
  } finally {
    await token?.close();
    await http.close();
    await db.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ options: { pkcs11: { type: 'string' }, token: { type: 'string' } }, allowPositionals: true });
  const pkcs11 = values.pkcs11
    ? { module: values.pkcs11, token: values.token ?? '', pin: process.env.EDGEPAY_PKCS11_PIN ?? '' }
    : undefined;
  process.exitCode = await main(positionals[0], console.log, pkcs11 ? { pkcs11 } : {});
}
