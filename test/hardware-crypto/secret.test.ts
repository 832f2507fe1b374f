// Secret sharing with TPM keys (MakeCredential seed, session salt): published known answers for the
// ECC path (derandomized), decryption of published RSA/ECC ciphertexts with the vectors' private
// keys, round trips, and hostile encrypted secrets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  TpmCryptoError, concat, encryptSalt, fromHex, fromKeyObject, recoverSharedSecret, shareSecretWith, toHex, tpm2b, type TpmPublicKey,
} from '../../hardware/crypto/index.ts';
import { loadVectors } from './vectors.ts';
import { parseTpmtPublic, privateKeyFromSensitive } from './tpmpub.ts';

interface EncapsVector { Name: string; Label: string; EphemeralPrivate?: string; PublicKey: string; PrivateKey: string; Secret: string; Ciphertext: string }

const isCode = (code: string) => (e: unknown) => e instanceof TpmCryptoError && e.code === code;

test('ECC: derandomized encapsulation reproduces every published ciphertext and secret (P-256, P-384)', () => {
  const vs = loadVectors<EncapsVector>('ecc_labeled_encaps.json');
  for (const v of vs) {
    const { key } = parseTpmtPublic(fromHex(v.PublicKey));
    const out = shareSecretWith(key, v.Label, { ephemeralPrivateKey: fromHex(v.EphemeralPrivate!) });
    assert.equal(toHex(out.encryptedSecret), v.Ciphertext, v.Name);
    assert.equal(toHex(out.seed), v.Secret, v.Name);
  }
  assert.ok(vs.length >= 60);
});

test('ECC and RSA: recoverSharedSecret decrypts every published ciphertext with the vector private key', () => {
  for (const file of ['ecc_labeled_encaps.json', 'rsa_labeled_encaps.json']) {
    for (const v of loadVectors<EncapsVector>(file)) {
      const { key } = parseTpmtPublic(fromHex(v.PublicKey));
      const priv = privateKeyFromSensitive(fromHex(v.PrivateKey), key);
      assert.equal(toHex(recoverSharedSecret(priv, key, v.Label, fromHex(v.Ciphertext))), v.Secret, v.Name);
    }
  }
});

test('round trip: fresh secrets for RSA-2048, P-256 and P-384 keys recover to the same seed; salts are digest-sized', () => {
  const keys: Array<{ pub: TpmPublicKey; priv: ReturnType<typeof generateKeyPairSync>['privateKey'] }> = [];
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  keys.push({ pub: { ...fromKeyObject(rsa.publicKey), nameAlg: 'sha256' }, priv: rsa.privateKey });
  for (const [crv, alg] of [['P-256', 'sha256'], ['P-384', 'sha384']] as const) {
    const k = generateKeyPairSync('ec', { namedCurve: crv });
    keys.push({ pub: { ...fromKeyObject(k.publicKey), nameAlg: alg }, priv: k.privateKey });
  }
  for (const { pub, priv } of keys) {
    const a = shareSecretWith(pub, 'IDENTITY');
    const b = shareSecretWith(pub, 'IDENTITY');
    assert.notEqual(toHex(a.seed), toHex(b.seed), 'fresh randomness each time');
    assert.equal(toHex(recoverSharedSecret(priv, pub, 'IDENTITY', a.encryptedSecret)), toHex(a.seed));
    const s = encryptSalt(pub);
    assert.equal(s.salt.length, pub.nameAlg === 'sha384' ? 48 : 32);
    assert.equal(toHex(recoverSharedSecret(priv, pub, 'SECRET', s.encryptedSalt)), toHex(s.salt));
    if (pub.type === 'rsa') {
      // OAEP binds the label: a salt is not a credential seed.
      assert.throws(() => recoverSharedSecret(priv, pub, 'IDENTITY', s.encryptedSalt), isCode('TPM_CRYPTO_INTEGRITY'));
    } else {
      // ECC binds the label through KDFe: the same point yields a different seed.
      assert.notEqual(toHex(recoverSharedSecret(priv, pub, 'IDENTITY', s.encryptedSalt)), toHex(s.salt));
    }
  }
});

test('hostile encrypted secrets give typed errors, never crashes', () => {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub: TpmPublicKey = { ...fromKeyObject(k.publicKey), nameAlg: 'sha256' };
  const good = shareSecretWith(pub, 'IDENTITY').encryptedSecret;
  // Every truncation, and trailing bytes.
  for (let n = 0; n < good.length; n++) assert.throws(() => recoverSharedSecret(k.privateKey, pub, 'IDENTITY', good.slice(0, n)), isCode('TPM_CRYPTO_MALFORMED'), `len ${n}`);
  assert.throws(() => recoverSharedSecret(k.privateKey, pub, 'IDENTITY', concat(good, new Uint8Array([0]))), isCode('TPM_CRYPTO_MALFORMED'));
  // Coordinates larger than the curve, a point off the curve, an oversized blob.
  assert.throws(() => recoverSharedSecret(k.privateKey, pub, 'IDENTITY', concat(tpm2b(new Uint8Array(33).fill(1)), tpm2b(new Uint8Array(32)))), isCode('TPM_CRYPTO_MALFORMED'));
  const off = good.slice();
  off[40]! ^= 1; // inside y
  assert.throws(() => recoverSharedSecret(k.privateKey, pub, 'IDENTITY', off), isCode('TPM_CRYPTO_MALFORMED'));
  assert.throws(() => recoverSharedSecret(k.privateKey, pub, 'IDENTITY', new Uint8Array(4096)), isCode('TPM_CRYPTO_MALFORMED'));
  // Random garbage of every small length: only typed errors.
  for (let i = 0; i < 2000; i++) {
    const junk = new Uint8Array(randomBytes(i % 90));
    try {
      recoverSharedSecret(k.privateKey, pub, 'IDENTITY', junk);
    } catch (e) {
      assert.ok(e instanceof TpmCryptoError, String(e));
    }
  }
  // RSA ciphertexts that are not ours.
  const r = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rpub: TpmPublicKey = { ...fromKeyObject(r.publicKey), nameAlg: 'sha256' };
  for (const ct of [new Uint8Array(0), new Uint8Array(256), new Uint8Array(randomBytes(256)), new Uint8Array(255)]) {
    assert.throws(() => recoverSharedSecret(r.privateKey, rpub, 'IDENTITY', ct), isCode('TPM_CRYPTO_INTEGRITY'));
  }
});

test('bad keys and labels are refused as usage errors', () => {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = fromKeyObject(k.publicKey);
  if (pub.type !== 'ecc') throw new Error('ecc');
  const y = pub.y.slice();
  y[31]! ^= 1;
  assert.throws(() => shareSecretWith({ ...pub, y, nameAlg: 'sha256' }, 'IDENTITY'), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => shareSecretWith({ ...pub, nameAlg: 'sha256' }, ''), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => shareSecretWith({ ...pub, nameAlg: 'sha256' }, 'A\0B'), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => shareSecretWith({ ...pub, nameAlg: 'sha256' }, 'X', { ephemeralPrivateKey: new Uint8Array(32) }), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => shareSecretWith({ type: 'rsa', n: new Uint8Array(256).fill(0xfe), e: 65537, nameAlg: 'sha256' }, 'X'), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => shareSecretWith({ type: 'rsa', n: new Uint8Array(256).fill(0xff), e: 4, nameAlg: 'sha256' }, 'X'), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => shareSecretWith({ type: 'rsa', n: new Uint8Array(64).fill(0xf1), e: 65537, nameAlg: 'sha256' }, 'X'), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
});
