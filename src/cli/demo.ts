/**
 * @module cli/demo
 * `edgepay demo`: signs a credential-shaped CWT (a responsible party vouching for a device key), prints
 * it, verifies it, and shows a tampered copy rejected with its code. The full simulation replaces this as
 * the main job once channels and the ledger exist.
 */
import { toHex } from '../bytes.js';
import { decode, encode } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { decodeSign1, signSign1, verifySign1 } from '../codec/cose-sign1.js';
import { claimsMap, readClaims } from '../codec/cwt.js';
import { createSigner, getEd25519 } from '../crypto/index.js';
import { EdgepayError } from '../errors.js';

export async function demo(log: (line: string) => void = console.log): Promise<number> {
  const ed = await getEd25519();
  const party = await createSigner();
  const device = await createSigner();
  const now = Math.floor(Date.now() / 1000);
  const claims = claimsMap({
    iss: 'party:charging-pads-ltd',
    sub: 'device:pad-0042',
    iat: now,
    exp: now + 86_400,
    cnf: { publicKey: device.publicKey, kid: coseKeyThumbprint(device.publicKey) },
    extra: new Map([[-65537, 5_000n]]), // a private claim: a per-payment limit in minor units
  });
  const credential = await signSign1(encode(claims), party, { kid: coseKeyThumbprint(party.publicKey), cwtTag: true });
  log(`Ed25519 provider: ${ed.name}`);
  log(`credential (${credential.length} bytes, COSE_Sign1 in CWT tag 61): ${toHex(credential)}`);

  const verified = readClaims(decode(await verifySign1(decodeSign1(credential), party.publicKey)));
  log(`verified: ${verified.iss} vouches for ${verified.sub}, device key ${toHex(verified.cnf?.publicKey ?? new Uint8Array())}`);

  const tampered = credential.slice();
  tampered[tampered.length - 70]! ^= 0x01; // a byte inside the payload
  try {
    await verifySign1(decodeSign1(tampered), party.publicKey);
    log('FAILED: a tampered credential verified');
    return 1;
  } catch (e) {
    if (!(e instanceof EdgepayError)) throw e;
    log(`tampered copy rejected: ${e.message}`);
  }
  log('demo: OK');
  return 0;
}
