// Software MakeCredential / ActivateCredential and the tpm2-tools credential file: round trips,
// integrity failures, tpm2_makecredential's own output (made for keys we hold) activated by us,
// and hostile credential files. The TPM's view is in interop.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TPM2_TOOLS_MAGIC, TpmCryptoError, activateCredentialWithKey, concat, encodeCredentialFile, fromKeyObject, makeCredential,
  parseCredentialFile, parseIdObject, toHex, toPem, tpm2b, u32, unwrapCredential, wrapCredential, type TpmPublicKey,
} from '../../hardware/crypto/index.ts';

const isCode = (code: string) => (e: unknown) => e instanceof TpmCryptoError && e.code === code;
const name256 = (fill: number) => concat(new Uint8Array([0x00, 0x0b]), new Uint8Array(32).fill(fill));

function ek(kind: 'rsa' | 'p256' | 'p384'): { pub: TpmPublicKey; priv: KeyObject } {
  const kp = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'P-256' : 'P-384' });
  const nameAlg = kind === 'p384' ? 'sha384' : 'sha256';
  return { pub: { ...fromKeyObject(kp.publicKey), nameAlg, symmetric: { alg: 'aes', bits: kind === 'p384' ? 256 : 128 } }, priv: kp.privateKey };
}

test('makeCredential → activateCredentialWithKey recovers the credential (RSA-2048/AES-128, P-256/AES-128, P-384/sha384/AES-256)', () => {
  for (const kind of ['rsa', 'p256', 'p384'] as const) {
    const { pub, priv } = ek(kind);
    const name = name256(kind.length);
    const size = pub.nameAlg === 'sha384' ? 48 : 32;
    for (const len of [1, 16, size]) {
      const cred = new Uint8Array(randomBytes(len));
      const made = makeCredential(pub, name, cred);
      assert.equal(parseIdObject(made.credentialBlob, pub.nameAlg).integrityHMAC.length, size);
      assert.deepEqual(activateCredentialWithKey(priv, pub, name, made.credentialBlob, made.secret), cred, `${kind} ${len}`);
      // Bound to the Name: another object cannot activate it.
      assert.throws(() => activateCredentialWithKey(priv, pub, name256(0xee), made.credentialBlob, made.secret), isCode('TPM_CRYPTO_INTEGRITY'));
    }
  }
});

test('every bit of the credential blob is covered by the integrity HMAC', () => {
  const seed = new Uint8Array(randomBytes(32));
  const name = name256(1);
  const blob = wrapCredential('sha256', { alg: 'aes', bits: 128 }, seed, name, new Uint8Array(randomBytes(32)));
  for (let i = 0; i < blob.length * 8; i++) {
    const b = blob.slice();
    b[i >> 3]! ^= 1 << (i & 7);
    assert.throws(() => unwrapCredential('sha256', { alg: 'aes', bits: 128 }, seed, name, b), (e: unknown) => e instanceof TpmCryptoError, `bit ${i}`);
  }
});

test('makeCredential refuses arguments TPM2_MakeCredential would refuse', () => {
  const { pub } = ek('p256');
  assert.throws(() => makeCredential(pub, name256(1), new Uint8Array(0)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => makeCredential(pub, name256(1), new Uint8Array(33)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => makeCredential(pub, u32(0x81010001), new Uint8Array(8)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => makeCredential(pub, name256(1).slice(0, 20), new Uint8Array(8)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  assert.throws(() => makeCredential(pub, concat(new Uint8Array([0x00, 0x99]), new Uint8Array(32)), new Uint8Array(8)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
  const { symmetric: _s, ...noSym } = pub;
  assert.throws(() => makeCredential(noSym as TpmPublicKey, name256(1), new Uint8Array(8)), isCode('TPM_CRYPTO_INVALID_ARGUMENT'));
});

test('tpm2_makecredential -T none output (RSA and ECC keys we hold) parses and activates with our code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-mkcred-'));
  try {
    for (const kind of ['rsa', 'p256'] as const) {
      const { pub, priv } = ek(kind);
      const name = concat(new Uint8Array([0x00, 0x0b]), new Uint8Array(randomBytes(32)));
      const secret = new Uint8Array(randomBytes(24));
      writeFileSync(join(dir, 'pub.pem'), toPem(pub));
      writeFileSync(join(dir, 'secret.bin'), secret);
      const r = spawnSync('tpm2_makecredential', ['-T', 'none', '-G', kind === 'rsa' ? 'rsa' : 'ecc', '-u', 'pub.pem', '-s', 'secret.bin',
        '-n', toHex(name), '-o', 'cred.out'], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const file = new Uint8Array(readFileSync(join(dir, 'cred.out')));
      const parsed = parseCredentialFile(file);
      assert.deepEqual(activateCredentialWithKey(priv, pub, name, parsed.credentialBlob, parsed.secret), secret, kind);
      // Our encoder reproduces the file byte for byte from its parts.
      assert.deepEqual(encodeCredentialFile(parsed), file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hostile credential files: wrong magic/version, every truncation, oversized sizes, trailing bytes, random mutations', () => {
  const { pub } = ek('p256');
  const good = encodeCredentialFile(makeCredential(pub, name256(3), new Uint8Array(32).fill(5)));
  assert.deepEqual(parseCredentialFile(good).credentialBlob.length > 0, true);
  const bad = (b: Uint8Array) => assert.throws(() => parseCredentialFile(b), isCode('TPM_CRYPTO_MALFORMED'));
  const withU32 = (at: number, v: number) => { const b = good.slice(); b.set(u32(v), at); return b; };
  bad(withU32(0, 0xbadcc0df));
  bad(withU32(0, 0));
  bad(withU32(4, 2));
  bad(withU32(4, 0));
  for (let n = 0; n < good.length; n++) bad(good.slice(0, n));
  bad(concat(good, new Uint8Array([0])));
  bad(new Uint8Array(1 << 20)); // a megabyte of zeros
  // Size fields claiming more than the spec allows, and than the file holds.
  const big = good.slice(); big[8] = 0xff; big[9] = 0xff; bad(big);
  bad(concat(u32(TPM2_TOOLS_MAGIC), u32(1), tpm2b(new Uint8Array(133)), tpm2b(new Uint8Array(10))));
  bad(concat(u32(TPM2_TOOLS_MAGIC), u32(1), tpm2b(new Uint8Array(40)), tpm2b(new Uint8Array(513))));
  // Structurally wrong ID objects and empty secrets.
  bad(concat(u32(TPM2_TOOLS_MAGIC), u32(1), tpm2b(concat(tpm2b(new Uint8Array(31)), new Uint8Array(10))), tpm2b(new Uint8Array(10))));
  bad(concat(u32(TPM2_TOOLS_MAGIC), u32(1), tpm2b(concat(tpm2b(new Uint8Array(32)), new Uint8Array(2))), tpm2b(new Uint8Array(10))));
  bad(concat(u32(TPM2_TOOLS_MAGIC), u32(1), tpm2b(concat(tpm2b(new Uint8Array(32)), new Uint8Array(20))), tpm2b(new Uint8Array(0))));
  // Thousands of random mutations: only typed errors or a parse, and a parse re-encodes to the same bytes.
  for (let i = 0; i < 5000; i++) {
    const m = good.slice();
    const flips = 1 + (i % 4);
    for (let j = 0; j < flips; j++) m[(Math.random() * m.length) | 0] = (Math.random() * 256) | 0;
    const cut = i % 7 === 0 ? m.slice(0, (Math.random() * m.length) | 0) : m;
    try {
      const p = parseCredentialFile(cut);
      assert.deepEqual(encodeCredentialFile(p), cut);
    } catch (e) {
      assert.ok(e instanceof TpmCryptoError && e.code === 'TPM_CRYPTO_MALFORMED', String(e));
    }
  }
});

test('with the EK, the encrypted secret\'s form is checked: RSA ciphertext of the modulus size; ECC point on the curve, a coordinate may be short', () => {
  const bad = (b: Uint8Array, key: TpmPublicKey) => assert.throws(() => parseCredentialFile(b, key), isCode('TPM_CRYPTO_MALFORMED'));
  const rsa = ek('rsa');
  const r = makeCredential(rsa.pub, name256(4), new Uint8Array(32).fill(2));
  assert.deepEqual(parseCredentialFile(encodeCredentialFile(r), rsa.pub).secret, r.secret);
  bad(encodeCredentialFile({ ...r, secret: r.secret.slice(1) }), rsa.pub);
  bad(encodeCredentialFile({ ...r, secret: concat(r.secret, new Uint8Array(1)) }), rsa.pub);
  const p256 = ek('p256');
  // An ephemeral point whose x starts with a zero byte, sent as 31 bytes (as tpm2-tools does).
  for (let i = 0; ; i++) {
    const made = makeCredential(p256.pub, name256(5), new Uint8Array(32).fill(3));
    if (made.secret[2] !== 0) continue;
    const x = made.secret.subarray(3, 34);
    const y = made.secret.subarray(36);
    const short = concat(tpm2b(x), tpm2b(y));
    assert.deepEqual(parseCredentialFile(encodeCredentialFile({ ...made, secret: short }), p256.pub).secret, short, `try ${i}`);
    bad(encodeCredentialFile({ ...made, secret: concat(tpm2b(concat(new Uint8Array(2), x)), tpm2b(y)) }), p256.pub);
    bad(encodeCredentialFile({ ...made, secret: concat(tpm2b(new Uint8Array(0)), tpm2b(y)) }), p256.pub);
    bad(encodeCredentialFile({ ...made, secret: concat(tpm2b(made.secret.subarray(2, 34)), tpm2b(y.map((b, k) => (k === 31 ? b ^ 1 : b)))) }), p256.pub);
    bad(encodeCredentialFile({ ...made, secret: concat(made.secret, new Uint8Array(1)) }), p256.pub);
    break;
  }
});

test('hostile credential blobs handed to the activation side give typed errors', () => {
  const { pub, priv } = ek('rsa');
  const made = makeCredential(pub, name256(9), new Uint8Array(16).fill(1));
  for (let n = 0; n < made.credentialBlob.length; n++) {
    assert.throws(() => activateCredentialWithKey(priv, pub, name256(9), made.credentialBlob.slice(0, n), made.secret), (e: unknown) => e instanceof TpmCryptoError);
  }
  assert.throws(() => activateCredentialWithKey(priv, pub, name256(9), new Uint8Array(200), made.secret), isCode('TPM_CRYPTO_MALFORMED'));
  assert.throws(() => activateCredentialWithKey(priv, pub, name256(9), made.credentialBlob, made.secret.slice(1)), isCode('TPM_CRYPTO_INTEGRITY'));
});
