// Session arithmetic rules that the interop test cannot isolate: which authValue goes into which
// key, trailing zeros, direction-specific parameter encryption keys, and typed errors. (That the
// TPM agrees with all of it is shown in interop.test.ts "salted HMAC sessions against the TPM".)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  KDFa, TpmCryptoError, checkResponseHmac, commandHmac, concat, cpHash, decryptCommandParameter, decryptResponseParameter,
  encryptCommandParameter, encryptResponseParameter, parameterKeyMaterial, responseHmac, rpHash, sessionHmacKey, sessionKey,
  stripTrailingZeros, toHex, type ParamSession,
} from '../../hardware/crypto/index.ts';

const rnd = (n: number) => new Uint8Array(randomBytes(n));
const isCode = (code: string) => (e: unknown) => e instanceof TpmCryptoError && e.code === code;

test('sessionKey: empty for an unbound unsalted session; KDFa("ATH") of bind authValue ‖ salt otherwise; trailing zeros ignored', () => {
  const nT = rnd(32), nC = rnd(32), salt = rnd(32), auth = new Uint8Array([1, 2, 3]);
  assert.equal(sessionKey('sha256', new Uint8Array(0), new Uint8Array(0), nT, nC).length, 0);
  assert.equal(toHex(sessionKey('sha256', auth, salt, nT, nC)), toHex(KDFa('sha256', concat(auth, salt), 'ATH', nT, nC, 256)));
  assert.equal(toHex(sessionKey('sha256', new Uint8Array([1, 2, 3, 0, 0]), salt, nT, nC)), toHex(sessionKey('sha256', auth, salt, nT, nC)));
  assert.equal(sessionKey('sha384', new Uint8Array(0), salt, nT, nC).length, 48);
  assert.deepEqual(stripTrailingZeros(new Uint8Array([0, 1, 0, 0])), new Uint8Array([0, 1]));
  assert.deepEqual(stripTrailingZeros(new Uint8Array([0, 0])), new Uint8Array(0));
});

test('HMAC key: authValue in for HMAC sessions unless bound to the entity; for policy sessions only after PolicyAuthValue', () => {
  const sk = rnd(32), auth = new Uint8Array([9, 9, 0]);
  const withAuth = toHex(concat(sk, new Uint8Array([9, 9])));
  assert.equal(toHex(sessionHmacKey({ sessionKey: sk, authValue: auth, sessionType: 'hmac' })), withAuth);
  assert.equal(toHex(sessionHmacKey({ sessionKey: sk, authValue: auth, sessionType: 'hmac', boundToEntity: true })), toHex(sk));
  assert.equal(toHex(sessionHmacKey({ sessionKey: sk, authValue: auth, sessionType: 'policy' })), toHex(sk));
  assert.equal(toHex(sessionHmacKey({ sessionKey: sk, authValue: auth, sessionType: 'policy', policyAuthValue: true })), withAuth);
  assert.equal(toHex(sessionHmacKey({ sessionKey: sk, sessionType: 'hmac' })), toHex(sk));
  // Parameter encryption uses the authValue even for the bind entity.
  assert.equal(toHex(parameterKeyMaterial(sk, auth)), withAuth);
});

test('cpHash/rpHash/HMACs: each input changes the result; decrypt/encrypt nonces only when given', () => {
  const names = [rnd(34)], cp = rnd(20);
  const base = toHex(cpHash('sha256', 0x137, names, cp));
  assert.notEqual(toHex(cpHash('sha256', 0x138, names, cp)), base);
  assert.notEqual(toHex(cpHash('sha256', 0x137, [rnd(34)], cp)), base);
  assert.notEqual(toHex(rpHash('sha256', 0x137, cp)), toHex(rpHash('sha256', 0x137, cp, 1)));
  const key = rnd(32), nC = rnd(32), nT = rnd(32), h = rnd(32);
  const m = toHex(commandHmac('sha256', key, h, nC, nT, 1));
  assert.notEqual(toHex(commandHmac('sha256', key, h, nC, nT, 0x21)), m);
  assert.notEqual(toHex(commandHmac('sha256', key, h, nC, nT, 1, rnd(32))), m);
  assert.notEqual(toHex(commandHmac('sha256', key, h, nT, nC, 1)), m, 'nonce order matters');
  assert.notEqual(toHex(responseHmac('sha256', key, h, nT, nC, 1)), toHex(responseHmac('sha256', key, h, nC, nT, 1)));
  assert.throws(() => commandHmac('sha256', key, h, nC, nT, 256), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => cpHash('sha256', -1, [], cp), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
});

test('checkResponseHmac: equal passes; any difference or length is a typed INTEGRITY error', () => {
  const a = rnd(32);
  checkResponseHmac(a, a.slice());
  const b = a.slice();
  b[31]! ^= 1;
  assert.throws(() => checkResponseHmac(a, b), isCode('TPM_CRYPTO_INTEGRITY'));
  assert.throws(() => checkResponseHmac(a, a.slice(0, 31)), isCode('TPM_CRYPTO_INTEGRITY'));
  assert.throws(() => checkResponseHmac(a, new Uint8Array(0)), isCode('TPM_CRYPTO_INTEGRITY'));
});

test('parameter encryption: CFB (128/256) and XOR round-trip per direction; command and response keys differ', () => {
  for (const symmetric of [{ alg: 'aes', bits: 128 }, { alg: 'aes', bits: 256 }, { alg: 'xor' }] as const) {
    const s: ParamSession = { hashAlg: 'sha256', keyMaterial: rnd(40), symmetric, nonceCaller: rnd(32), nonceTPM: rnd(32) };
    for (const len of [0, 1, 15, 16, 17, 1024]) {
      const p = rnd(len);
      const c = encryptCommandParameter(s, p);
      assert.equal(c.length, len);
      assert.deepEqual(decryptCommandParameter(s, c), p);
      const r = encryptResponseParameter(s, p);
      assert.deepEqual(decryptResponseParameter(s, r), p);
      if (len > 0) {
        assert.notEqual(toHex(c), toHex(p));
        assert.notEqual(toHex(c), toHex(r), `${symmetric.alg} directions must use different keys`);
      }
    }
  }
  const s: ParamSession = { hashAlg: 'sha256', keyMaterial: rnd(32), symmetric: { alg: 'aes', bits: 100 as 128 }, nonceCaller: rnd(32), nonceTPM: rnd(32) };
  assert.throws(() => encryptCommandParameter(s, rnd(4)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => encryptCommandParameter({ ...s, symmetric: { alg: 'aes', bits: 128 } }, new Uint8Array(70000)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
});
