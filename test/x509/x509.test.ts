// The tolerant X.509 reader: real EK certificates (keylime's test data: STMicro, Nuvoton, Infineon),
// the non-DER encodings real TPMs ship (made here by assembling and signing the tbsCertificate
// byte by byte), and hostile input, which must end in a typed X509Error and nothing else.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  X509Error, OID, parseCertificate, parseCertificates, pemCertificates, toPEM, verifyCertificateSignature, tpmVendor,
  MAX_CERTIFICATE_BYTES, type X509Cert,
} from '../../hardware/x509/index.ts';
import { parseEKCertificate, EKCertError, ekCertMatches } from '../../hardware/ekcert.ts';
import { seq, tlv, int, oid, ctx, set, printable } from '../fixtures/attest/der.ts';
import { ekRSATemplate } from '../../hardware/keys.ts';
import {
  makeRoot, makeIntermediate, makeEK, makeCert, tbsOf, rsaKey, ecKey, time, ext, ekExtensions, multiValuedDN, dn, sigAlgId, signWith, longTLV,
  type SigAlg,
} from '../fixtures/ekcerts.ts';

const DIR = join(import.meta.dirname, 'ekcerts');
const real = (f: string): Buffer => readFileSync(join(DIR, f));
const isMalformed = (e: unknown): boolean => e instanceof X509Error && e.code === 'X509_MALFORMED' && e.errorClass === 'denied';
const isTooLarge = (e: unknown): boolean => e instanceof X509Error && e.code === 'X509_TOO_LARGE';

describe('real EK certificates', () => {
  it('STMicro RSA EK: NV padding after the DER, TCG SAN, EK purpose, tpmSpecification, caIssuers', () => {
    const b = real('stm-rsa-ek.der');
    const c = parseCertificate(b);
    assert.equal(c.der.length, 1169);
    assert.ok(c.der.equals(b.subarray(0, 1169)));
    assert.deepEqual(c.quirks, ['trailing-padding']);
    assert.equal(c.subject.text, '');
    assert.equal(c.issuer.text, 'C=CH, O=STMicroelectronics NV, CN=STM TPM EK Intermediate CA 05');
    assert.equal(c.serialHex, '4cbd0fe61ee762edb28d50b268fc3586ff3d5e82');
    assert.equal(c.version, 3);
    assert.equal(c.signatureAlgorithm.name, 'sha256WithRSAEncryption');
    assert.deepEqual(c.tpm, { manufacturer: 'id:53544D20', model: 'ST33HTPHAHB4', version: 'id:00490004' });
    assert.deepEqual(tpmVendor(c.tpm!.manufacturer!), { id: '53544D20', code: 'STM', name: 'STMicroelectronics' });
    assert.deepEqual(c.extKeyUsage, [OID.tcgEKCertificate]);
    assert.deepEqual(c.keyUsage, ['keyEncipherment']);
    assert.deepEqual(c.basicConstraints, { cA: false });
    assert.deepEqual(c.tpmSpecification, { family: '2.0', level: 0, revision: 116 });
    assert.deepEqual(c.caIssuers, ['http://secure.globalsign.com/stmtpmekint05.crt']);
    assert.equal(c.publicKey.type, 'rsa');
    assert.equal(c.publicKey.rsa!.bits, 2048);
    assert.ok(c.publicKey.keyObject);
    assert.equal(c.notAfter.toISOString(), '2028-07-11T00:00:00.000Z');
    assert.deepEqual(c.unknownCritical, []);
    // Exactly what Node reads from the same DER.
    const n = new X509Certificate(c.der);
    assert.equal(n.serialNumber, c.serialHex.toUpperCase());
    assert.ok(n.publicKey.equals(c.publicKey.keyObject!));
    // Refused without the NV-padding allowance, as any trailing bytes are by default for a bundle.
    assert.throws(() => parseCertificate(b, { trailing: 'none' }), isMalformed);
  });

  it('STMicro ECC and Infineon RSA/ECC EKs: keys, SAN, vendor', () => {
    const stm = parseCertificate(real('stm-ecc-ek.der'));
    assert.equal(stm.publicKey.type, 'ec');
    assert.equal(stm.publicKey.ec!.curve, 'P-256');
    assert.equal(stm.signatureAlgorithm.name, 'ecdsa-with-SHA256');
    assert.deepEqual(stm.keyUsage, ['keyAgreement']);
    for (const [f, type] of [['infineon-rsa-ek.der', 'rsa'], ['infineon-ecc-ek.der', 'ec']] as const) {
      const c = parseCertificate(real(f));
      assert.equal(c.publicKey.type, type);
      assert.deepEqual(c.tpm, { manufacturer: 'id:49465800', model: 'SLB 9670 TPM2.0', version: 'id:073f' });
      assert.equal(tpmVendor(c.tpm!.manufacturer!)!.name, 'Infineon');
      assert.deepEqual(c.quirks, []);
    }
  });

  it('Nuvoton RSA EK: serial with its leading zero octet kept, unsorted RDN in the issuer', () => {
    const c = parseCertificate(real('nuvoton-rsa-ek.der'));
    assert.equal(c.serialHex, '008e71607435e271f985d6');
    assert.ok(c.quirks.includes('set-not-sorted'));
    assert.equal(c.issuer.text, 'CN=Nuvoton TPM Root CA 2111 + O=Nuvoton Technology Corporation + C=TW');
    assert.deepEqual(tpmVendor(c.tpm!.manufacturer!), { id: '4E544300', code: 'NTC', name: 'Nuvoton Technology' });
    assert.equal(c.tpm!.model, 'NPCT75x');
  });

  it('Nuvoton Root CA 2110 (python-cryptography refuses it): parses, its self-signature verifies over the raw tbsCertificate', () => {
    const c = parseCertificate(real('nuvoton-root-ca-2110.der'));
    assert.deepEqual(c.quirks, ['set-not-sorted']);
    assert.deepEqual(c.basicConstraints, { cA: true, pathLen: 0 });
    assert.deepEqual(verifyCertificateSignature(c, c.publicKey), { ok: true });
    // A flipped bit anywhere in tbsCertificate breaks it.
    const bad: X509Cert = { ...c, tbs: Buffer.from(c.tbs) };
    bad.tbs[40]! ^= 1;
    assert.equal(verifyCertificateSignature(bad, c.publicKey).ok, false);
  });

  it('parseEKCertificate gives the same view plus Node\'s, the TPM key and the vendor', () => {
    const e = parseEKCertificate({ index: 0x01c00002, keyType: 'rsa-2048', range: 'low' }, real('stm-rsa-ek.der'));
    assert.equal(e.der.length, 1169);
    assert.ok(e.cert instanceof X509Certificate);
    assert.equal(e.subject, '');
    assert.equal(e.serialNumber, '4CBD0FE61EE762EDB28D50B268FC3586FF3D5E82');
    assert.equal(e.validTo, e.cert.validTo);
    assert.equal(e.validFrom, e.cert.validFrom);
    assert.equal(e.fingerprint256, e.cert.fingerprint256);
    assert.equal(e.publicKey?.type, 'rsa');
    assert.equal(e.vendor?.name, 'STMicroelectronics');
  });
});

describe('non-DER encodings real TPMs ship', () => {
  const root = makeRoot('Quirk Root');
  const int = makeIntermediate(root, 'Quirk Intermediate');
  const ek = rsaKey().publicKey;
  const check = (der: Buffer): X509Cert => {
    const c = parseCertificate(der);
    assert.deepEqual(verifyCertificateSignature(c, parseCertificate(int.der).publicKey), { ok: true }, 'the signature covers the tbsCertificate as encoded');
    return c;
  };

  it('serial with leading zero octets: kept as encoded; Node refuses the certificate, parseEKCertificate does not', () => {
    const der = makeEK(int, ek, { serial: Buffer.from([0x00, 0x00, 0x12, 0x34]) });
    const c = check(der);
    assert.equal(c.serialHex, '00001234');
    assert.ok(c.quirks.includes('non-minimal-integer'));
    assert.throws(() => new X509Certificate(der));
    const e = parseEKCertificate({ index: 0x01c00002, keyType: 'rsa-2048', range: 'low' }, der);
    assert.equal(e.cert, undefined);
    assert.equal(e.serialNumber, '1234');
    assert.equal(e.vendor?.name, 'Nuvoton Technology');
    assert.equal(e.publicKey?.type, 'rsa');
  });

  it('negative and zero serials', () => {
    assert.equal(check(makeEK(int, ek, { serial: Buffer.from([0xff, 0x12]) })).serialHex, 'ff12');
    assert.ok(check(makeEK(int, ek, { serial: Buffer.from([0x92]) })).quirks.includes('negative-serial'));
    assert.ok(check(makeEK(int, ek, { serial: Buffer.from([0x00]) })).quirks.includes('zero-serial'));
  });

  it('non-minimal (long-form) lengths on the certificate, tbsCertificate, issuer and validity', () => {
    const c = check(makeEK(int, ek, { longLengths: true }));
    assert.ok(c.quirks.includes('non-minimal-length'));
    assert.equal(c.tbs[1], 0x84, 'tbs kept with its 4-octet length');
    assert.equal(c.issuer.text, 'C=CH, O=Tollgate Test TPM Vendor, CN=Quirk Intermediate');
  });

  it('BIT STRING unused bits on the signature and on keyUsage', () => {
    const c = check(makeEK(int, ek, { signatureUnusedBits: 3 }));
    assert.ok(c.quirks.includes('signature-unused-bits'));
    const k = check(makeEK(int, ek, { extensions: [ext.keyUsage(0x20, 7)] }));
    assert.ok(k.quirks.includes('bit-string-padding-not-zero'));
    assert.deepEqual(k.keyUsage, ['keyEncipherment']);
  });

  it('times: GeneralizedTime 99991231235959Z, UTCTime without seconds or zone (Node refuses), offsets, fractions', () => {
    const forever = check(makeEK(int, ek));
    assert.equal(forever.notAfter.toISOString(), '9999-12-31T23:59:59.000Z');
    assert.equal(forever.notAfterText, '99991231235959Z');
    const noSec = makeEK(int, ek, { notBefore: time.utcNoSeconds(new Date('2019-07-23T17:15:00Z')) });
    assert.throws(() => new X509Certificate(noSec));
    const ns = check(noSec);
    assert.equal(ns.notBefore.toISOString(), '2019-07-23T17:15:00.000Z');
    assert.ok(ns.quirks.includes('time-without-seconds'));
    assert.equal(check(makeEK(int, ek, { notBefore: time.raw(0x17, '200101000000+0130') })).notBefore.toISOString(), '2019-12-31T22:30:00.000Z');
    assert.equal(check(makeEK(int, ek, { notBefore: time.raw(0x17, '200101000000') })).notBefore.toISOString(), '2020-01-01T00:00:00.000Z');
    assert.equal(check(makeEK(int, ek, { notBefore: time.raw(0x18, '20200101000000.25Z') })).notBefore.toISOString(), '2020-01-01T00:00:00.250Z');
    assert.equal(check(makeEK(int, ek, { notBefore: time.raw(0x17, '491231235959Z') })).notBefore.getUTCFullYear(), 2049);
    assert.equal(check(makeEK(int, ek, { notBefore: time.raw(0x17, '500101000000Z') })).notBefore.getUTCFullYear(), 1950);
  });

  it('unknown critical extensions are kept and listed, not refused', () => {
    const c = check(makeEK(int, ek, { extensions: [...ekExtensions(int), ext.unknownCritical()] }));
    assert.deepEqual(c.unknownCritical, ['1.3.6.1.4.1.55555.7.1']);
    assert.ok(c.extensions.some((x) => x.oid === '1.3.6.1.4.1.55555.7.1' && x.critical));
  });

  it('SAN directoryName: TCG attributes as PrintableString or UTF8String, EXPLICIT or written IMPLICIT, RDN unsorted', () => {
    for (const opts of [{}, { utf8: true }, { implicit: true }, { unsorted: true }]) {
      const c = check(makeEK(int, ek, { extensions: [ext.tpmSAN('id:49465800', 'SLB 9670 TPM2.0', 'id:073f', opts)] }));
      assert.deepEqual(c.tpm, { manufacturer: 'id:49465800', model: 'SLB 9670 TPM2.0', version: 'id:073f' }, JSON.stringify(opts));
      if (opts.implicit) assert.ok(c.quirks.includes('directory-name-implicit'));
    }
  });

  it('v1 certificates and multi-valued unsorted RDNs in names', () => {
    const v1 = check(makeEK(int, ek, { v1: true, extensions: [] }));
    assert.equal(v1.version, 1);
    const name = multiValuedDN(['CN', 'Nuvoton TPM Root CA 2111'], ['O', 'Nuvoton Technology Corporation'], ['C', 'TW']);
    const c = check(makeEK(int, ek, { issuer: name }));
    assert.equal(c.issuer.text, 'CN=Nuvoton TPM Root CA 2111 + O=Nuvoton Technology Corporation + C=TW');
    assert.ok(c.quirks.includes('set-not-sorted'));
  });

  it('an RSAES-OAEP key OID on the EK (some vendors): the key is still usable and matches', () => {
    const kp = rsaKey();
    const spki = kp.publicKey.export({ format: 'der', type: 'spki' }) as Buffer;
    // Swap rsaEncryption (…1.1.1) for id-RSAES-OAEP (…1.1.7) inside the SPKI.
    const i = spki.indexOf(Buffer.from('2a864886f70d010101', 'hex'));
    const oaep = Buffer.from(spki);
    oaep[i + 8] = 7;
    const c = check(makeEK(int, kp.publicKey, { publicKey: oaep }));
    assert.ok(c.quirks.includes('rsa-oaep-key-oid'));
    assert.ok(c.publicKey.keyObject?.equals(kp.publicKey));
  });
});

describe('signature algorithms', () => {
  // Two keys of each kind, made once: the issuer's and another one.
  const rsa = [rsaKey(), rsaKey()];
  const p256 = [ecKey('P-256'), ecKey('P-256')];
  const p384 = [ecKey('P-384'), ecKey('P-384')];
  const cases: Array<[SigAlg, typeof rsa]> = [
    ['rsa-sha1', rsa], ['rsa-sha256', rsa], ['rsa-sha384', rsa], ['rsa-sha512', rsa], ['rsa-pss-sha256', rsa],
    ['ecdsa-sha256', p256], ['ecdsa-sha384', p384], ['ecdsa-sha512', p384],
  ];
  for (const [alg, [issuer, otherKey]] of cases) {
    it(`${alg}: verifies, and not with another key or over altered bytes`, () => {
      const name = dn(['CN', `CA ${alg}`]);
      const der = makeCert({ issuer: name, subject: seq(), publicKey: ecKey().publicKey, signingKey: issuer.privateKey, alg, extensions: [] });
      const c = parseCertificate(der);
      const issuerKey = parseCertificate(makeCert({ issuer: name, subject: name, publicKey: issuer.publicKey, signingKey: issuer.privateKey, alg, extensions: [ext.ca()] })).publicKey;
      assert.deepEqual(verifyCertificateSignature(c, issuerKey), { ok: true });
      assert.equal(c.signatureAlgorithm.kind, alg.startsWith('ecdsa') ? 'ecdsa' : alg === 'rsa-pss-sha256' ? 'rsa-pss' : 'rsa-pkcs1');
      const other = parseCertificate(makeCert({ issuer: name, subject: name, publicKey: otherKey.publicKey, signingKey: issuer.privateKey, alg, extensions: [] })).publicKey;
      assert.equal(verifyCertificateSignature(c, other).ok, false);
      const flipped: X509Cert = { ...c, tbs: Buffer.from(c.tbs) };
      flipped.tbs[flipped.tbs.length - 5]! ^= 0x40;
      assert.equal(verifyCertificateSignature(flipped, issuerKey).ok, false);
    });
  }

  it('an RSA signature whose leading zero octet the signer dropped still verifies', () => {
    const issuer = rsaKey(1024);
    const name = dn(['CN', 'Short signature CA']);
    let der: Buffer | undefined;
    for (let serial = 1; serial < 8192 && !der; serial++) {
      const tbs = seq(ctx(0, int(2)), int(serial), sigAlgId('rsa-sha256'), name, seq(time.utc(new Date('2020-01-01Z')), time.forever()), seq(), ecKey().publicKey.export({ format: 'der', type: 'spki' }) as Buffer);
      const sig = signWith('rsa-sha256', tbs, issuer.privateKey);
      if (sig[0] === 0) der = seq(tbs, sigAlgId('rsa-sha256'), tlv(0x03, Buffer.concat([Buffer.from([0]), sig.subarray(1)])));
    }
    assert.ok(der, 'found a signature starting with 0x00');
    const c = parseCertificate(der);
    assert.equal(c.signature.length, 127);
    const key = parseCertificate(makeCert({ issuer: name, subject: name, publicKey: issuer.publicKey, signingKey: issuer.privateKey, extensions: [] })).publicKey;
    assert.deepEqual(verifyCertificateSignature(c, key), { ok: true });
  });

  it('an ECDSA signature with non-minimal INTEGERs still verifies; an unknown algorithm is "unsupported"', () => {
    const issuer = ecKey('P-256');
    const name = dn(['CN', 'Sloppy ECDSA CA']);
    const tbs = seq(ctx(0, int(2)), int(7), sigAlgId('ecdsa-sha256'), name, seq(time.utc(new Date('2020-01-01Z')), time.forever()), seq(), ecKey().publicKey.export({ format: 'der', type: 'spki' }) as Buffer);
    const p1363 = sign('sha256', tbs, { key: issuer.privateKey, dsaEncoding: 'ieee-p1363' });
    const sloppy = seq(tlv(0x02, Buffer.concat([Buffer.from([0, 0]), p1363.subarray(0, 32)])), tlv(0x02, Buffer.concat([Buffer.from([0, 0]), p1363.subarray(32)])));
    const c = parseCertificate(seq(tbs, sigAlgId('ecdsa-sha256'), tlv(0x03, Buffer.concat([Buffer.from([0]), sloppy]))));
    const key = parseCertificate(makeCert({ issuer: name, subject: name, publicKey: issuer.publicKey, signingKey: issuer.privateKey, extensions: [] })).publicKey;
    assert.deepEqual(verifyCertificateSignature(c, key), { ok: true });
    const unknown = parseCertificate(seq(tbs, seq(oid('1.2.3.4.5')), tlv(0x03, Buffer.concat([Buffer.from([0]), sloppy]))));
    assert.equal(unknown.signatureAlgorithm.kind, 'unsupported');
    assert.equal(verifyCertificateSignature(unknown, key).ok === false && (verifyCertificateSignature(unknown, key) as { reason: string }).reason, 'unsupported');
    // An ECDSA signature checked with an RSA key: a mismatch, not an exception.
    const rsa = parseCertificate(makeCert({ issuer: name, subject: name, publicKey: rsaKey().publicKey, signingKey: issuer.privateKey, extensions: [] })).publicKey;
    assert.equal((verifyCertificateSignature(c, rsa) as { reason: string }).reason, 'key-mismatch');
  });
});

describe('hostile input', () => {
  const good = makeEK(makeIntermediate(makeRoot('Hostile Root'), 'Hostile Int', ecKey()), ecKey().publicKey);

  it('refuses non-certificates and broken DER with X509_MALFORMED', () => {
    const bad: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['one byte', Buffer.from([0x30])],
      ['not a SEQUENCE', Buffer.from([0x31, 0x03, 1, 2, 3])],
      ['indefinite length', Buffer.concat([Buffer.from([0x30, 0x80]), good.subarray(4), Buffer.from([0, 0])])],
      ['length past the end', Buffer.from([0x30, 0x82, 0xff, 0xff, 0x02, 0x01, 0x00])],
      ['4 GiB length', Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00])],
      ['5-octet length', Buffer.from([0x30, 0x85, 0, 0, 0, 0, 3, 2, 1, 0])],
      ['empty SEQUENCE', Buffer.from([0x30, 0x00])],
      ['truncated', good.subarray(0, good.length - 10)],
      ['garbage after', Buffer.concat([good, Buffer.from('garbage')])],
      ['INTEGER serial empty', seq(seq(ctx(0, int(2)), tlv(0x02, Buffer.alloc(0))))],
      ['constructed BIT STRING (BER segments)', seq(tbsOf({ issuer: dn(['CN', 'x']), subject: seq(), publicKey: ecKey().publicKey, signingKey: ecKey().privateKey }), sigAlgId('ecdsa-sha256'), tlv(0x23, tlv(0x03, Buffer.from([0, 1, 2]))))],
      ['unused bits > 7', seq(tbsOf({ issuer: dn(['CN', 'x']), subject: seq(), publicKey: ecKey().publicKey, signingKey: ecKey().privateKey }), sigAlgId('ecdsa-sha256'), tlv(0x03, Buffer.from([8, 1, 2])))],
    ];
    for (const [what, b] of bad) assert.throws(() => parseCertificate(b), (e: unknown) => isMalformed(e) || isTooLarge(e), what);
  });

  it('refuses invalid times: month 13, 30 February, letters, hour 24', () => {
    const root = makeRoot('Time Root');
    for (const t of [time.raw(0x17, '201301000000Z'), time.raw(0x17, '200230000000Z'), time.raw(0x17, '20010100000aZ'), time.raw(0x17, '200101240000Z'), time.raw(0x18, '2020010100Z'), time.raw(0x17, '200101000000+2500')]) {
      assert.throws(() => parseCertificate(makeEK(root, ecKey().publicKey, { notBefore: t })), isMalformed, t.toString('latin1'));
    }
  });

  it('caps depth, element count and size without reading out of bounds or allocating by declared length', () => {
    // 10,000 nested SEQUENCEs.
    let deep: Buffer = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 200; i++) deep = seq(deep);
    assert.throws(() => parseCertificate(seq(seq(ctx(0, int(2)), int(1), seq(oid('1.2.840.10045.4.3.2')), deep))), (e: unknown) => isTooLarge(e) || isMalformed(e));
    // A Name of 10,000 RDNs.
    const wide = seq(...Array.from({ length: 10_000 }, () => set(seq(oid('2.5.4.3'), printable('x')))));
    assert.throws(() => parseCertificate(seq(seq(ctx(0, int(2)), int(1), seq(oid('1.2.840.10045.4.3.2')), wide))), (e: unknown) => isTooLarge(e) || isMalformed(e));
    // Larger than any certificate.
    const big = longTLV(0x30, Buffer.alloc(MAX_CERTIFICATE_BYTES + 1));
    assert.throws(() => parseCertificate(big), isTooLarge);
    // 2 GiB claimed by a 10-byte input: refused before any allocation.
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => parseCertificate(Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])), isMalformed);
    assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
  });

  it('an unreadable extension is reported, not fatal, and a CA with unreadable basicConstraints is no CA', () => {
    const root = makeRoot('Ext Root');
    const c = parseCertificate(makeEK(root, ecKey().publicKey, { extensions: [{ oid: '2.5.29.19', critical: true, value: Buffer.from([0x30, 0x03, 0x01, 0x01]) }, { oid: '2.5.29.15', value: Buffer.from([0x04, 0x00]) }] }));
    assert.equal(c.basicConstraints, undefined);
    assert.deepEqual(c.extensionErrors.map((e) => e.oid), ['2.5.29.19', '2.5.29.15']);
    const dup = parseCertificate(makeEK(root, ecKey().publicKey, { extensions: [ext.ca(), ext.notCA()] }));
    assert.deepEqual(dup.basicConstraints, { cA: true });
    assert.match(dup.extensionErrors[0]!.message, /duplicate/);
  });

  it('PEM: several blocks with comments between them; bad base64 is malformed', () => {
    const a = makeRoot('PEM A').der;
    const b = makeRoot('PEM B').der;
    const text = `# comment\n${toPEM(a)}\nsome text\r\n${toPEM(b).replace(/\n/g, '\r\n')}`;
    assert.deepEqual(pemCertificates(text).map((d) => d.toString('hex')), [a.toString('hex'), b.toString('hex')]);
    assert.deepEqual(pemCertificates('nothing here'), []);
    assert.throws(() => pemCertificates('-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----'), isMalformed);
  });

  it('concatenated DER (an EK chain NV index): padding after the last is fine, anything else is not', () => {
    const a = makeRoot('Concat A').der;
    const b = makeRoot('Concat B').der;
    assert.equal(parseCertificates(Buffer.concat([a, b, Buffer.alloc(100, 0xff)])).length, 2);
    assert.equal(parseCertificates(Buffer.concat([a, Buffer.alloc(7)])).length, 1);
    assert.throws(() => parseCertificates(Buffer.concat([a, Buffer.from([0x30, 0x03, 0x02, 0x01])])), isMalformed);
    assert.throws(() => parseCertificates(Buffer.alloc(64, 0xff)), isMalformed);
    assert.throws(() => parseCertificates(Buffer.concat(Array.from({ length: 33 }, () => a))), isTooLarge);
  });

  it('parseEKCertificate maps every parse failure to EK_CERT_MALFORMED and ignores bytes after the certificate', () => {
    const slot = { index: 0x01c00002, keyType: 'rsa-2048' as const, range: 'low' as const };
    for (const b of [Buffer.from([0x30, 0x80, 0, 0]), good.subarray(0, 100), Buffer.alloc(17 * 1024, 0x30)]) {
      assert.throws(() => parseEKCertificate(slot, b), (e: unknown) => e instanceof EKCertError && e.code === 'EK_CERT_MALFORMED');
    }
    // Leftover bytes after the certificate in its NV index are outside the signature: kept out of der, noted.
    const leftover = parseEKCertificate(slot, Buffer.concat([good, Buffer.from('old certificate tail')]));
    assert.ok(leftover.der.equals(good));
    assert.ok(leftover.x509.quirks.includes('trailing-data'));
  });

  it('ekCertMatches works on a certificate Node cannot read', () => {
    const kp = rsaKey();
    const der = makeEK(makeRoot('Match Root'), kp.publicKey, { serial: Buffer.from([0, 1]) });
    const e = parseEKCertificate({ index: 0x01c00002, keyType: 'rsa-2048', range: 'low' }, der);
    assert.equal(e.cert, undefined);
    const ek = { ...ekRSATemplate(), unique: Buffer.from(kp.publicKey.export({ format: 'jwk' }).n!, 'base64url') };
    assert.equal(ekCertMatches(e, ek), true);
    assert.equal(ekCertMatches(e, ekRSATemplate()), false);
    assert.ok(createPublicKey({ key: e.x509.publicKey.spki, format: 'der', type: 'spki' }).equals(kp.publicKey));
  });
});
