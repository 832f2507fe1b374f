import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, sign } from 'node:crypto';
import { verifySignatureOverDigest } from '../../attest/index.ts';
import { makeKey } from '../fixtures/attest/keys.ts';

const msg = Buffer.from('the artifact, which the verifier never sees in full');

for (const [scheme, hash] of [['ecdsa-sha2-nistp256', 'sha256'], ['ecdsa-sha2-nistp384', 'sha384'], ['ecdsa-sha2-nistp256', 'sha512'], ['ecdsa-sha2-nistp384', 'sha256']] as const) {
  test(`ECDSA over a digest: ${scheme} with ${hash} (DER and P1363), wrong digest and garbage fail`, () => {
    const k = makeKey(scheme);
    const d = createHash(hash).update(msg).digest();
    for (let i = 0; i < 5; i++) {
      assert.equal(verifySignatureOverDigest(k.publicKey, hash, d, sign(hash, msg, k.privateKey)), true);
      assert.equal(verifySignatureOverDigest(k.publicKey, hash, d, sign(hash, msg, { key: k.privateKey, dsaEncoding: 'ieee-p1363' })), true);
    }
    const sig = sign(hash, msg, k.privateKey);
    const other = createHash(hash).update('other').digest();
    assert.equal(verifySignatureOverDigest(k.publicKey, hash, other, sig), false);
    assert.equal(verifySignatureOverDigest(makeKey(scheme).publicKey, hash, d, sig), false, 'another key');
    assert.equal(verifySignatureOverDigest(k.publicKey, hash, d, Buffer.alloc(0)), false);
    assert.equal(verifySignatureOverDigest(k.publicKey, hash, d, Buffer.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00])), false, 'r = s = 0');
    assert.equal(verifySignatureOverDigest(k.publicKey, hash, d, Buffer.alloc(200, 0x30)), false);
  });
}

test('RSA over a digest: PKCS#1 v1.5 and PSS, wrong digest fails', () => {
  const k = makeKey('rsa-pkcs1v15-sha256');
  for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
    const d = createHash(hash).update(msg).digest();
    assert.equal(verifySignatureOverDigest(k.publicKey, hash, d, sign(hash, msg, k.privateKey)), true);
    for (const saltLength of [0, 20, constants.RSA_PSS_SALTLEN_DIGEST, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
      const pss = sign(hash, msg, { key: k.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
      assert.equal(verifySignatureOverDigest(k.publicKey, hash, d, pss), true, `pss salt ${saltLength}`);
      assert.equal(verifySignatureOverDigest(k.publicKey, hash, Buffer.alloc(d.length), pss), false);
    }
    assert.equal(verifySignatureOverDigest(k.publicKey, hash, Buffer.alloc(d.length), sign(hash, msg, k.privateKey)), false);
  }
  assert.equal(verifySignatureOverDigest(k.publicKey, 'sha256', Buffer.alloc(32), Buffer.alloc(10)), false);
});

test('Ed25519 cannot be checked over a digest: the caller is told (undefined), not lied to', () => {
  const k = makeKey('ed25519');
  assert.equal(verifySignatureOverDigest(k.publicKey, 'sha256', createHash('sha256').update(msg).digest(), sign(null, msg, k.privateKey)), undefined);
});
