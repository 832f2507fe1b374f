// Byte-level public keys, signatures and Names: conversions against Node/OpenSSL, ECDSA DER
// strictness, digest-signature verification against signatures made by Node, curve constants,
// and hostile inputs to every parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createECDH, createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import {
  TpmCryptoError, concat, curveParams, ecdsaFromDer, ecdsaToDer, fromKeyObject, fromPem, nvName, objectName, parseName,
  toHex, toKeyObject, toPem, verifyDigestSignature, type EccCurve,
} from '../../hardware/crypto/index.ts';
import { isOnCurve, scalarMult } from '../../hardware/crypto/ecc.ts';

const isCode = (code: string) => (e: unknown) => e instanceof TpmCryptoError && e.code === code;

test('curve constants: G is Node\'s generator, on the curve, and n·G is the point at infinity', () => {
  for (const curve of ['P-256', 'P-384'] as EccCurve[]) {
    const c = curveParams(curve);
    const ecdh = createECDH(c.nodeName);
    ecdh.setPrivateKey(new Uint8Array(c.bytes).fill(0).map((_, i) => (i === c.bytes - 1 ? 1 : 0)));
    const g = ecdh.getPublicKey();
    assert.equal(toHex(g.subarray(1, 1 + c.bytes)), c.gx.toString(16).padStart(c.bytes * 2, '0'));
    assert.equal(toHex(g.subarray(1 + c.bytes)), c.gy.toString(16).padStart(c.bytes * 2, '0'));
    assert.ok(isOnCurve(c, c.gx, c.gy));
    assert.equal(scalarMult(curve, c.n, c.gx, c.gy), undefined);
    const two = scalarMult(curve, 2n, c.gx, c.gy)!;
    assert.ok(isOnCurve(c, two.x, two.y));
  }
});

test('RSA and ECC keys convert KeyObject ↔ bytes ↔ PEM without change', () => {
  const keys = [generateKeyPairSync('rsa', { modulusLength: 2048 }), generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }),
    generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ec', { namedCurve: 'P-384' })];
  for (const { publicKey } of keys) {
    const b = fromKeyObject(publicKey);
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    assert.deepEqual(toKeyObject(b).export({ type: 'spki', format: 'der' }), spki);
    assert.equal(toPem(b), publicKey.export({ type: 'spki', format: 'pem' }));
    assert.deepEqual(fromPem(toPem(b)), b);
    if (b.type === 'ecc') assert.equal(b.x.length, b.curve === 'P-256' ? 32 : 48);
  }
  // TPM convention: exponent 0 means 65537; a leading zero byte on n is tolerated.
  const rsa = fromKeyObject(keys[0]!.publicKey);
  if (rsa.type !== 'rsa') throw new Error('rsa');
  assert.equal(toPem({ ...rsa, e: 0 }), toPem(rsa));
  assert.equal(toPem({ ...rsa, n: concat(new Uint8Array([0]), rsa.n) }), toPem(rsa));
});

test('hostile keys and PEM give typed errors', () => {
  const ec = fromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  if (ec.type !== 'ecc') throw new Error('ecc');
  const y = ec.y.slice();
  y[0]! ^= 0x40;
  assert.throws(() => toKeyObject({ ...ec, y }), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => toKeyObject({ ...ec, x: new Uint8Array(33).fill(1) }), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => toKeyObject({ ...ec, curve: 'P-521' as EccCurve }), isCode('TPM_CRYPTO_UNSUPPORTED_ALG'));
  assert.throws(() => toKeyObject({ type: 'rsa', n: new Uint8Array(256).fill(0xff), e: 2 }), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => toKeyObject({ type: 'rsa', n: new Uint8Array(0), e: 65537 }), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  const pem = toPem(ec);
  // One bit of y flipped inside the DER: the point is then off the curve.
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 1]! ^= 0x01;
  const offCurve = `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
  for (const bad of ['', 'not a key', pem.slice(0, 60), offCurve, '-----BEGIN PUBLIC KEY-----\n' + 'A'.repeat(70000)]) {
    assert.throws(() => fromPem(bad), isCode('TPM_CRYPTO_MALFORMED'), bad.slice(0, 30));
  }
  const ed = generateKeyPairSync('ed25519').publicKey;
  assert.throws(() => fromPem(ed.export({ type: 'spki', format: 'pem' }) as string), isCode('TPM_CRYPTO_UNSUPPORTED_ALG'));
  assert.throws(() => fromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
});

test('ECDSA (r, s) ↔ DER matches OpenSSL; strict DER parsing refuses non-canonical and hostile input', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  for (let i = 0; i < 50; i++) {
    const msg = randomBytes(40);
    const der = new Uint8Array(sign('sha256', msg, privateKey));
    const { r, s } = ecdsaFromDer(der, 'P-256');
    assert.equal(r.length, 32);
    assert.deepEqual(ecdsaToDer(r, s), der);
    const p1363 = new Uint8Array(sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
    const pr = ecdsaFromDer(ecdsaToDer(p1363.slice(0, 32), p1363.slice(32)), 'P-256');
    assert.ok(verifyDigestSignature(fromKeyObject(publicKey), new Uint8Array(createHash('sha256').update(msg).digest()), { scheme: 'ecdsa', hashAlg: 'sha256', ...pr }));
  }
  const good = new Uint8Array(sign('sha256', Buffer.from('x'), privateKey));
  const bad = (b: Uint8Array) => assert.throws(() => ecdsaFromDer(b, 'P-256'), isCode('TPM_CRYPTO_MALFORMED'), toHex(b));
  for (let n = 0; n < good.length; n++) bad(good.slice(0, n));
  bad(concat(good, new Uint8Array([0])));
  bad(new Uint8Array([0x31, ...good.slice(1)]));
  bad(new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01])); // negative r
  bad(new Uint8Array([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01])); // non-minimal r
  bad(new Uint8Array([0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])); // non-minimal length
  bad(new Uint8Array([0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01])); // empty INTEGER
  bad(concat(new Uint8Array([0x30, 0x46, 0x02, 0x21, 0x01]), new Uint8Array(32), new Uint8Array([0x02, 0x21, 0x01]), new Uint8Array(32))); // r > curve
  bad(new Uint8Array(5000));
  for (let i = 0; i < 3000; i++) {
    const m = good.slice();
    m[(Math.random() * m.length) | 0] = (Math.random() * 256) | 0;
    try { ecdsaFromDer(m, 'P-256'); } catch (e) { assert.ok(e instanceof TpmCryptoError, String(e)); }
  }
});

test('verifyDigestSignature agrees with Node signatures for RSASSA, RSAPSS (any salt length) and ECDSA; any change fails', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaOdd = generateKeyPairSync('rsa', { modulusLength: 2049 }); // emLen < k path of PSS
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const msg = randomBytes(123);
  for (const hashAlg of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
    const digest = new Uint8Array(createHash(hashAlg).update(msg).digest());
    const other = digest.slice();
    other[0]! ^= 1;
    for (const kp of [rsa, rsaOdd]) {
      const key = fromKeyObject(kp.publicKey);
      const pkcs = new Uint8Array(sign(hashAlg, msg, kp.privateKey));
      assert.ok(verifyDigestSignature(key, digest, { scheme: 'rsassa', hashAlg, sig: pkcs }), `rsassa ${hashAlg}`);
      assert.equal(verifyDigestSignature(key, other, { scheme: 'rsassa', hashAlg, sig: pkcs }), false);
      assert.equal(verifyDigestSignature(key, digest, { scheme: 'rsapss', hashAlg, sig: pkcs }), false);
      for (const saltLength of [0, digest.length, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
        const pss = new Uint8Array(sign(hashAlg, msg, { key: kp.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }));
        assert.ok(verifyDigestSignature(key, digest, { scheme: 'rsapss', hashAlg, sig: pss }), `rsapss ${hashAlg} salt ${saltLength}`);
        assert.equal(verifyDigestSignature(key, other, { scheme: 'rsapss', hashAlg, sig: pss }), false);
        const flipped = pss.slice();
        flipped[100]! ^= 4;
        assert.equal(verifyDigestSignature(key, digest, { scheme: 'rsapss', hashAlg, sig: flipped }), false);
      }
      assert.equal(verifyDigestSignature(key, digest, { scheme: 'rsassa', hashAlg, sig: pkcs.slice(1) }), false);
      assert.equal(verifyDigestSignature(key, digest, { scheme: 'rsassa', hashAlg, sig: new Uint8Array(pkcs.length).fill(0xff) }), false);
    }
    for (const kp of [p256, p384]) {
      const key = fromKeyObject(kp.publicKey);
      const p1363 = new Uint8Array(sign(hashAlg, msg, { key: kp.privateKey, dsaEncoding: 'ieee-p1363' }));
      const h = p1363.length / 2;
      const r = p1363.slice(0, h), s = p1363.slice(h);
      assert.ok(verifyDigestSignature(key, digest, { scheme: 'ecdsa', hashAlg, r, s }), `ecdsa ${hashAlg}`);
      assert.equal(verifyDigestSignature(key, other, { scheme: 'ecdsa', hashAlg, r, s }), false);
      assert.equal(verifyDigestSignature(key, digest, { scheme: 'ecdsa', hashAlg, r: s, s: r }), false);
      assert.equal(verifyDigestSignature(key, digest, { scheme: 'ecdsa', hashAlg, r: new Uint8Array(h), s }), false);
      assert.equal(verifyDigestSignature(key, digest, { scheme: 'ecdsa', hashAlg, r: new Uint8Array(h).fill(0xff), s }), false);
    }
  }
  const key = fromKeyObject(p256.publicKey);
  assert.throws(() => verifyDigestSignature(key, new Uint8Array(31), { scheme: 'ecdsa', hashAlg: 'sha256', r: new Uint8Array(32), s: new Uint8Array(32) }), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => verifyDigestSignature(key, new Uint8Array(32), { scheme: 'rsassa', hashAlg: 'sha256', sig: new Uint8Array(256) }), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => verifyDigestSignature(fromKeyObject(rsa.publicKey), new Uint8Array(32), { scheme: 'ecdsa', hashAlg: 'sha256', r: new Uint8Array(32), s: new Uint8Array(32) }), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
});

test('Names: objectName reads nameAlg from TPMT_PUBLIC; parseName and hostile public areas give typed errors', () => {
  // A minimal TPMT_PUBLIC prefix is enough for the Name (the hash covers whatever bytes are given).
  const pub = concat(new Uint8Array([0x00, 0x23, 0x00, 0x0c]), new Uint8Array(randomBytes(60)));
  const n = objectName(pub);
  assert.equal(toHex(n.subarray(0, 2)), '000c');
  assert.equal(toHex(n.subarray(2)), createHash('sha384').update(pub).digest('hex'));
  assert.deepEqual(parseName(n)?.hashAlg, 'sha384');
  assert.equal(parseName(new Uint8Array([0x40, 0, 0, 0x0b])), undefined);
  assert.throws(() => objectName(new Uint8Array(3)), isCode('TPM_CRYPTO_MALFORMED'));
  assert.throws(() => objectName(new Uint8Array([0, 1, 0, 0x99, 0])), isCode('TPM_CRYPTO_UNSUPPORTED_ALG'));
  assert.throws(() => objectName(new Uint8Array(5000)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => parseName(new Uint8Array([0, 0x0b, 1])), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => parseName(new Uint8Array([0])), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => nvName({ nvIndex: 2 ** 32, nameAlg: 'sha256', attributes: 0, authPolicy: new Uint8Array(0), dataSize: 1 }), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.equal(createPublicKey(toPem(fromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey))).asymmetricKeyType, 'ec');
});
