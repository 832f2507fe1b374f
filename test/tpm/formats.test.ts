// Pure parts of hardware/ keys, quote and tpm2-tools formats: templates, PCR lists, the
// serialized PCR file, attestation / signature / public key files — with hostile input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { TollgateError, TPM_ALG, TPMA_OBJECT, marshal, TPMTSignature, TPMSAttest, TPM2BPublic, crypto } from '../../hardware/index.ts';
import { ekRSATemplate, ekECCTemplate, srkTemplate, akTemplate, deviceKeyTemplate, templateMismatch, publicKeyOf, EK_ATTRIBUTES, SRK_ATTRIBUTES, AK_ATTRIBUTES, DEVICE_KEY_ATTRIBUTES } from '../../hardware/keys.ts';
import {
  parsePCRList, formatPCRList, encodeSerializedPCRs, parseSerializedPCRs, serializedPCRsSize, parseAttestFile, parseSignatureFile,
  parsePublicFile, encodePublicFile, TPM2ToolsError,
} from '../../hardware/tpm2tools.ts';
import { parseNonce, QuoteError, verifyQuote, pcrDigest } from '../../hardware/quote.ts';
import { parseEKCertificate, parseCABundle, EKCertError } from '../../hardware/ekcert.ts';

function throwsTyped(fn: () => unknown, code: string | RegExp, cls?: 'denied' | 'usage' | 'environment'): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TollgateError, `expected a TollgateError, got ${String(e)}`);
    if (typeof code === 'string') assert.equal(e.code, code, e.message);
    else assert.match(e.code, code, e.message);
    if (cls) assert.equal(e.errorClass, cls);
    return true;
  });
}

describe('key templates', () => {
  it('have the attribute values of the TCG profiles', () => {
    assert.equal(EK_ATTRIBUTES, 0x000300b2);
    assert.equal(SRK_ATTRIBUTES, 0x00030472);
    assert.equal(AK_ATTRIBUTES, 0x00050472);
    assert.equal(DEVICE_KEY_ATTRIBUTES, 0x00040472);
    for (const t of [srkTemplate(), akTemplate(), deviceKeyTemplate()]) assert.ok(t.objectAttributes & TPMA_OBJECT.noDA);
    assert.equal(ekRSATemplate().objectAttributes & TPMA_OBJECT.noDA, 0);
  });

  it('give the EKs the published PolicyA digest, AES-128-CFB and zero-filled unique', () => {
    for (const t of [ekRSATemplate(), ekECCTemplate()]) {
      assert.equal(Buffer.from(t.authPolicy).toString('hex'), '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa');
      const p = t.parameters as { symmetric: { algorithm: number; keyBits: number; mode: number } };
      assert.deepEqual(p.symmetric, { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB });
    }
    assert.equal((ekRSATemplate().unique as Uint8Array).length, 256);
    assert.ok((ekRSATemplate().unique as Uint8Array).every((b) => b === 0));
    const u = ekECCTemplate().unique as { x: Uint8Array; y: Uint8Array };
    assert.equal(u.x.length, 32);
    assert.equal(u.y.length, 32);
    // The marshalled L-1 template is what tpm2_createek sends: 2+2+4+(2+32)+(6+2+2+4)+(2+256) bytes.
    assert.equal(marshal(TPM2BPublic, ekRSATemplate()).length, 2 + 314);
  });

  it('tell our objects from foreign ones', () => {
    const ak = akTemplate();
    const real = { ...ak, unique: { x: randomBytes(32), y: randomBytes(32) } };
    assert.equal(templateMismatch('ak', real), undefined);
    assert.match(templateMismatch('ak', { ...real, objectAttributes: real.objectAttributes & ~TPMA_OBJECT.noDA })!, /attributes/);
    assert.match(templateMismatch('device', real)!, /attributes/);
    assert.match(templateMismatch('srk', real)!, /attributes/);
    assert.match(templateMismatch('ak', { ...real, unique: { x: randomBytes(48), y: randomBytes(48) } })!, /P-256/);
    const dev = { ...deviceKeyTemplate({ nullScheme: true }), unique: { x: randomBytes(32), y: randomBytes(32) } };
    assert.equal(templateMismatch('device', dev), undefined);
    assert.match(templateMismatch('ek-rsa', { ...ekRSATemplate(), authPolicy: new Uint8Array(32) })!, /authPolicy/);
  });
});

describe('PCR lists', () => {
  it('parse the tpm2-tools syntax', () => {
    const s = parsePCRList('sha256:0,1,2,3,4,5,6,7,16+sha1:0');
    assert.equal(s.length, 2);
    assert.equal(s[0]!.hash, TPM_ALG.SHA256);
    assert.deepEqual([...s[0]!.pcrSelect], [0xff, 0x00, 0x01]);
    assert.deepEqual([...s[1]!.pcrSelect], [0x01, 0x00, 0x00]);
    assert.equal(formatPCRList(s), 'sha256:0,1,2,3,4,5,6,7,16+sha1:0');
    assert.deepEqual([...parsePCRList('sha384:all')[0]!.pcrSelect], [0xff, 0xff, 0xff]);
    assert.equal(formatPCRList(parsePCRList(' sha256 : 0x10 , 3 ')), 'sha256:3,16');
  });

  it('refuse malformed lists with a usage error that says what to write', () => {
    for (const bad of ['', 'sha256', 'sha256:', 'md5:0', 'sha256:24', 'sha256:-1', 'sha256:1,,2', 'sha256:a', 'sha256:0+sha256:1', 'sha256:0+', ':0', 'sha256:999999999999', 'x'.repeat(5000)]) {
      throwsTyped(() => parsePCRList(bad), 'PCR_LIST_INVALID', 'usage');
    }
    assert.throws(() => parsePCRList('sha256:24'), /0\.\.23.*sha256:0,1,2/);
  });
});

describe('nonces', () => {
  it('accept 1..64 bytes of even-length hex', () => {
    assert.equal(parseNonce('0011ff').toString('hex'), '0011ff');
    assert.equal(parseNonce('0xAB').toString('hex'), 'ab');
    assert.equal(parseNonce('ab'.repeat(64)).length, 64);
  });
  it('refuse odd, non-hex, empty and oversized nonces (usage)', () => {
    for (const bad of ['', 'abc', 'zz', 'ab'.repeat(65), '0x', 'ab cd']) throwsTyped(() => parseNonce(bad), 'QUOTE_NONCE_INVALID', 'usage');
    assert.throws(() => parseNonce('ab'.repeat(65)), /65 bytes; at most 64/);
  });
});

function samplePCRs() {
  const sel = parsePCRList('sha256:0,1,2,3,4,5,6,7,16,23+sha1:0,3');
  const values = [
    ...[0, 1, 2, 3, 4, 5, 6, 7, 16, 23].map((pcr) => ({ hash: TPM_ALG.SHA256, pcr, digest: randomBytes(32) })),
    ...[0, 3].map((pcr) => ({ hash: TPM_ALG.SHA1, pcr, digest: randomBytes(20) })),
  ];
  return { sel, values };
}

describe('serialized PCR file (tpm2_quote -o)', () => {
  it('round-trips and has the C-struct layout', () => {
    const { sel, values } = samplePCRs();
    const f = encodeSerializedPCRs(sel, values);
    assert.equal(f.length, serializedPCRsSize(2));
    assert.equal(f.length, 132 + 4 + 2 * 532);
    assert.equal(f.readUInt32LE(0), 2); // banks
    assert.equal(f.readUInt16LE(4), TPM_ALG.SHA256);
    assert.equal(f[6], 3); // sizeofSelect
    assert.equal(f.readUInt32LE(132), 2); // TPML_DIGESTs
    assert.equal(f.readUInt32LE(136), 8); // first holds 8
    assert.equal(f.readUInt16LE(140), 32);
    assert.deepEqual(f.subarray(142, 174), values[0]!.digest);
    assert.equal(f.readUInt32LE(136 + 532), 4);
    const back = parseSerializedPCRs(f);
    assert.equal(formatPCRList(back.selection), formatPCRList(sel));
    assert.deepEqual(back.values.map((v) => [v.hash, v.pcr, v.digest.toString('hex')]), values.map((v) => [v.hash, v.pcr, v.digest.toString('hex')]));
  });

  it('refuses values that do not fit the selection', () => {
    const { sel, values } = samplePCRs();
    throwsTyped(() => encodeSerializedPCRs(sel, values.slice(1)), 'PCR_LIST_INVALID');
    throwsTyped(() => encodeSerializedPCRs(sel, [...values.slice(1), { ...values[1]! }]), 'PCR_LIST_INVALID');
    throwsTyped(() => encodeSerializedPCRs(sel, [{ ...values[0]!, digest: randomBytes(20) }, ...values.slice(1)]), 'PCR_LIST_INVALID');
  });

  it('refuses truncated, padded and inconsistent files with a typed error', () => {
    const { sel, values } = samplePCRs();
    const good = encodeSerializedPCRs(sel, values);
    const cases: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['header only', good.subarray(0, 100)],
      ['truncated', good.subarray(0, good.length - 1)],
      ['trailing byte', Buffer.concat([good, Buffer.alloc(1)])],
      ['bank count 17', (() => { const b = Buffer.from(good); b.writeUInt32LE(17, 0); return b; })()],
      ['bank count 0xffffffff', (() => { const b = Buffer.from(good); b.writeUInt32LE(0xffffffff, 0); return b; })()],
      ['unknown hash', (() => { const b = Buffer.from(good); b.writeUInt16LE(0x0099, 4); return b; })()],
      ['duplicate bank', (() => { const b = Buffer.from(good); b.writeUInt16LE(TPM_ALG.SHA256, 12); return b; })()],
      ['sizeofSelect 5', (() => { const b = Buffer.from(good); b[6] = 5; return b; })()],
      ['list count huge', (() => { const b = Buffer.from(good); b.writeUInt32LE(0x7fffffff, 132); return b; })()],
      ['digest count 9', (() => { const b = Buffer.from(good); b.writeUInt32LE(9, 136); return b; })()],
      ['digest count 0', (() => { const b = Buffer.from(good); b.writeUInt32LE(0, 136); return b; })()],
      ['digest size 33', (() => { const b = Buffer.from(good); b.writeUInt16LE(33, 140); return b; })()],
      ['digest size 0xffff', (() => { const b = Buffer.from(good); b.writeUInt16LE(0xffff, 140); return b; })()],
      ['fewer digests than selected', (() => { const b = Buffer.from(good); b.writeUInt32LE(3, 136 + 532); return b; })()],
      ['more PCRs selected than digests', (() => { const b = Buffer.from(good); b[7] = 0xff; b[8] = 0xff; return b; })()],
    ];
    for (const [name, bytes] of cases) {
      assert.throws(() => parseSerializedPCRs(bytes), (e: unknown) => e instanceof TPM2ToolsError && e.code === 'TPM2TOOLS_FILE_MALFORMED' && e.errorClass === 'denied', name);
    }
  });

  it('never crashes on random or mutated files', () => {
    const { sel, values } = samplePCRs();
    const good = encodeSerializedPCRs(sel, values);
    for (let i = 0; i < 3000; i++) {
      let b: Buffer;
      if (i % 3 === 0) b = randomBytes(i % 2000);
      else {
        b = Buffer.from(good);
        for (let k = 0; k < 1 + (i % 5); k++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
        if (i % 7 === 0) b = b.subarray(0, Math.floor(Math.random() * b.length));
      }
      try {
        parseSerializedPCRs(b);
      } catch (e) {
        assert.ok(e instanceof TPM2ToolsError, `iteration ${i}: ${String(e)}`);
      }
    }
  });
});

function fakeAttest(): Buffer {
  return marshal(TPMSAttest, {
    magic: 0xff544347, type: 0x8018, qualifiedSigner: randomBytes(34), extraData: randomBytes(16),
    clockInfo: { clock: 1n, resetCount: 0, restartCount: 0, safe: 1 }, firmwareVersion: 2n,
    attested: { pcrSelect: parsePCRList('sha256:0'), pcrDigest: randomBytes(32) },
  });
}

describe('attestation, signature and public key files', () => {
  it('parse what they should', () => {
    const a = parseAttestFile(fakeAttest());
    assert.equal(a.type, 0x8018);
    const sig = { sigAlg: TPM_ALG.ECDSA, signature: { hash: TPM_ALG.SHA256, signatureR: randomBytes(32), signatureS: randomBytes(32) } };
    assert.equal(parseSignatureFile(marshal(TPMTSignature, sig)).sigAlg, TPM_ALG.ECDSA);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const k = parsePublicFile(Buffer.from(pem)).key;
    assert.equal(k.type, 'ecc');
    const tpmt = { ...akTemplate(), unique: { x: (k as { x: Uint8Array }).x, y: (k as { y: Uint8Array }).y } };
    const viaTss = parsePublicFile(encodePublicFile(tpmt));
    assert.deepEqual(viaTss.key, publicKeyOf(tpmt));
  });

  it('refuse hostile bytes with typed errors, never a crash', () => {
    const att = fakeAttest();
    throwsTyped(() => parseAttestFile(Buffer.alloc(0)), 'TPM2TOOLS_FILE_MALFORMED', 'denied');
    throwsTyped(() => parseAttestFile(att.subarray(0, att.length - 1)), 'TPM2TOOLS_FILE_MALFORMED');
    throwsTyped(() => parseAttestFile(Buffer.concat([att, Buffer.alloc(1)])), 'TPM2TOOLS_FILE_MALFORMED');
    throwsTyped(() => parseAttestFile(Buffer.alloc(100 * 1024)), 'TPM2TOOLS_FILE_MALFORMED');
    const badMagic = Buffer.from(att); badMagic[0] = 0;
    assert.throws(() => parseAttestFile(badMagic), /TPM_GENERATED_VALUE/);
    throwsTyped(() => parseSignatureFile(Buffer.from([0x00, 0x18])), 'TPM2TOOLS_FILE_MALFORMED');
    throwsTyped(() => parseSignatureFile(Buffer.from([0x99, 0x99, 0, 0])), 'TPM2TOOLS_FILE_MALFORMED');
    throwsTyped(() => parsePublicFile(Buffer.from('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')), 'TPM2TOOLS_FILE_MALFORMED');
    throwsTyped(() => parsePublicFile(Buffer.from([0, 4, 0, 8, 0, 11])), 'TPM2TOOLS_FILE_MALFORMED');
    for (let i = 0; i < 2000; i++) {
      const b = randomBytes(i % 300);
      for (const f of [parseAttestFile, parseSignatureFile, parsePublicFile]) {
        try { f(b); } catch (e) { assert.ok(e instanceof TollgateError, String(e)); }
      }
    }
  });
});

describe('quote verification, pure', () => {
  it('computes pcrDigest over the selection order and rejects inconsistent values', () => {
    const { sel, values } = samplePCRs();
    const d = pcrDigest(TPM_ALG.SHA256, sel, [...values].reverse());
    assert.equal(d.toString('hex'), crypto.toHex(crypto.hash('sha256', ...values.map((v) => v.digest))));
    throwsTyped(() => pcrDigest(TPM_ALG.SHA256, sel, [...values, values[0]!]), 'QUOTE_PCR_VALUES_INVALID', 'denied');
    throwsTyped(() => pcrDigest(TPM_ALG.SHA256, sel, values.slice(1)), 'QUOTE_PCR_SELECTION_MISMATCH', 'denied');
    throwsTyped(() => pcrDigest(TPM_ALG.SHA256, sel, [{ ...values[0]!, digest: randomBytes(31) }, ...values.slice(1)]), 'QUOTE_PCR_VALUES_INVALID');
  });

  it('refuses attestations that are not TPM-made quotes before looking at the signature', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ak = crypto.fromKeyObject(publicKey);
    const sig = marshal(TPMTSignature, { sigAlg: TPM_ALG.ECDSA, signature: { hash: TPM_ALG.SHA256, signatureR: randomBytes(32), signatureS: randomBytes(32) } });
    const att = fakeAttest();
    const base = { ak, signature: sig, nonce: Buffer.alloc(1), pcrs: [] };
    assert.throws(() => verifyQuote({ ...base, attest: att.subarray(3) }), (e: unknown) => e instanceof QuoteError && e.code === 'QUOTE_MALFORMED');
    const m = Buffer.from(att); m[3] ^= 1;
    assert.throws(() => verifyQuote({ ...base, attest: m }), (e: unknown) => e instanceof QuoteError && e.code === 'QUOTE_BAD_MAGIC');
    const t = Buffer.from(att); t[5] = 0x17; // TPM_ST_ATTEST_CERTIFY with quote-shaped body: malformed or wrong type
    assert.throws(() => verifyQuote({ ...base, attest: t }), (e: unknown) => e instanceof QuoteError && (e.code === 'QUOTE_WRONG_TYPE' || e.code === 'QUOTE_MALFORMED'));
    assert.throws(() => verifyQuote({ ...base, attest: att }), (e: unknown) => e instanceof QuoteError && e.code === 'QUOTE_SIGNATURE_INVALID');
    const rsa = crypto.fromKeyObject(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
    assert.throws(() => verifyQuote({ ...base, ak: rsa, attest: att }), (e: unknown) => e instanceof QuoteError && e.code === 'QUOTE_KEY_MISMATCH');
    const hmacSig = marshal(TPMTSignature, { sigAlg: TPM_ALG.HMAC, signature: { hashAlg: TPM_ALG.SHA256, digest: randomBytes(32) } });
    assert.throws(() => verifyQuote({ ...base, signature: hmacSig, attest: att }), (e: unknown) => e instanceof QuoteError && e.code === 'QUOTE_SIGNATURE_UNSUPPORTED');
  });
});

describe('EK certificate parsing', () => {
  const slot = { index: 0x01c00002, keyType: 'rsa-2048' as const, range: 'low' as const };
  it('refuses non-certificates with a typed error', () => {
    for (const b of [Buffer.alloc(0), Buffer.from([0x30]), Buffer.from([0x30, 0x82, 0xff, 0xff]), Buffer.from([0x31, 0x03, 1, 2, 3]), randomBytes(300), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])]) {
      assert.throws(() => parseEKCertificate(slot, b), (e: unknown) => e instanceof EKCertError && e.code === 'EK_CERT_MALFORMED');
    }
    assert.throws(() => parseCABundle('no certs here'), (e: unknown) => e instanceof EKCertError && e.code === 'EK_CERT_CA_BUNDLE_INVALID' && e.errorClass === 'usage');
    assert.throws(() => parseCABundle('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), (e: unknown) => e instanceof EKCertError && e.code === 'EK_CERT_CA_BUNDLE_INVALID');
  });
});
