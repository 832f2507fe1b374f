// EK chain validation: real EK certificates against the shipped vendor CAs (RSA and ECC, with
// intermediates from the store or supplied by the device), and made-up chains that fail at one
// link each, which must name that link with its own typed error.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EKChainError, EKRootStore, parseCertificate, verifyEKChain, type EKChainErrorCode, type X509Cert } from '../../hardware/x509/index.ts';
import { builtinEKRootStore } from '../../attest/ekroots/index.ts';
import { seq, set, oid, utf8 } from '../fixtures/attest/der.ts';
import { makeRoot, makeIntermediate, makeEK, makeCert, rsaKey, ecKey, time, ext, ekExtensions, dn, type CA } from '../fixtures/ekcerts.ts';

const real = (f: string): Buffer => readFileSync(join(import.meta.dirname, 'ekcerts', f));
const AT = new Date('2024-06-01T00:00:00Z');
const anchor = (der: Buffer, source = 'test') => ({ cert: parseCertificate(der), source });
const storeOf = (...cas: CA[]) => new EKRootStore(cas.map((c) => anchor(c.der, c.name.toString('hex').slice(-12))));

function fails(code: EKChainErrorCode, message?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof EKChainError, `expected EKChainError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  };
}

describe('real EK certificates against the shipped vendor CAs', () => {
  const store = builtinEKRootStore();
  const subjects = (r: { path: X509Cert[] }) => r.path.map((c) => c.subject.text);

  it('STMicro RSA EK (with NV padding): EK → Intermediate CA 05 → STM root → GlobalSign TPM root', () => {
    const r = verifyEKChain(real('stm-rsa-ek.der'), [], store, { at: AT });
    assert.deepEqual(subjects(r), ['', 'C=CH, O=STMicroelectronics NV, CN=STM TPM EK Intermediate CA 05', 'C=CH, O=STMicroelectronics NV, CN=STM TPM EK Root CA',
      'OU=GlobalSign Trusted Computing Certificate Authority, O=GlobalSign, CN=GlobalSign Trusted Platform Module Root CA']);
    assert.equal(r.anchor.cert.subject.text, 'C=CH, O=STMicroelectronics NV, CN=STM TPM EK Intermediate CA 05');
    assert.deepEqual(r.vendor, { id: '53544D20', code: 'STM', name: 'STMicroelectronics' });
    assert.equal(r.tpm?.model, 'ST33HTPHAHB4');
    assert.deepEqual(r.links.map((l) => l.from), ['leaf', 'store', 'store', 'store']);
    assert.deepEqual(r.expired, []);
  });

  it('STMicro ECC EK: ECDSA P-256 EK under the P-384 ECC intermediate', () => {
    const r = verifyEKChain(real('stm-ecc-ek.der'), [], store, { at: AT });
    assert.equal(r.path[1]!.subject.text, 'C=CH, O=STMicroelectronics NV, CN=STM TPM ECC Intermediate CA 01');
    assert.equal(r.path.at(-1)!.subject.text, 'OU=GlobalSign Trusted Computing Certificate Authority, O=GlobalSign, CN=GlobalSign Trusted Platform Module ECC Root CA');
  });

  it('Nuvoton RSA EK signed directly by an ECDSA root with an unsorted RDN', () => {
    const r = verifyEKChain(real('nuvoton-rsa-ek.der'), [], store, { at: AT });
    assert.deepEqual(subjects(r), ['', 'CN=Nuvoton TPM Root CA 2111 + O=Nuvoton Technology Corporation + C=TW']);
    assert.equal(r.vendor?.name, 'Nuvoton Technology');
  });

  it('Infineon RSA and ECC EKs via Manufacturing CA 035 (from tpm-ca-certificates) to the OPTIGA roots (from keylime)', () => {
    for (const [f, root] of [['infineon-rsa-ek.der', 'RSA'], ['infineon-ecc-ek.der', 'ECC']] as const) {
      const r = verifyEKChain(real(f), [], store, { at: AT });
      assert.equal(r.path.length, 3);
      assert.match(r.links[1]!.source!, /^builtin:tpm-ca-certificates\//);
      assert.equal(r.path[2]!.subject.text, `C=DE, O=Infineon Technologies AG, OU=OPTIGA(TM) Devices, CN=Infineon OPTIGA(TM) ${root} Root CA`);
      assert.equal(r.vendor?.name, 'Infineon');
    }
  });

  it('with only the roots in the store, the device-supplied intermediate completes the chain', () => {
    const rootsOnly = new EKRootStore(store.anchors.filter((a) => !/Intermediate CA|Manufacturing CA/.test(a.cert.subject.text)));
    assert.throws(() => verifyEKChain(real('stm-rsa-ek.der'), [], rootsOnly, { at: AT }), fails('EK_CHAIN_NO_ISSUER', /STM TPM EK Intermediate CA 05/));
    const intermediate = store.anchors.find((a) => a.cert.subject.text.endsWith('STM TPM EK Intermediate CA 05'))!.cert.der;
    const r = verifyEKChain(real('stm-rsa-ek.der'), [intermediate], rootsOnly, { at: AT });
    assert.deepEqual(r.links.map((l) => l.from), ['leaf', 'intermediate', 'store', 'store']);
    assert.equal(r.anchor.cert.subject.text, 'C=CH, O=STMicroelectronics NV, CN=STM TPM EK Root CA');
  });

  it('a vendor root is not an EK certificate of itself, and an EK under another vendor does not validate', () => {
    assert.throws(() => verifyEKChain(real('nuvoton-root-ca-2110.der'), [], store, { at: AT }), fails('EK_CHAIN_NO_ISSUER', /self-signed root/));
    const stmOnly = new EKRootStore(store.anchors.filter((a) => a.cert.subject.text.includes('STM')));
    assert.throws(() => verifyEKChain(real('infineon-rsa-ek.der'), [], stmOnly, { at: AT }), fails('EK_CHAIN_NO_ISSUER', /Infineon OPTIGA\(TM\) RSA Manufacturing CA 035/));
  });
});

describe('made-up chains: each failure names its link', () => {
  const root = makeRoot('Vendor Root');
  const int = makeIntermediate(root, 'Vendor EK Intermediate');
  const ekKey = rsaKey().publicKey;
  const leaf = makeEK(int, ekKey, { alg: 'rsa-pss-sha256' });

  it('EK → supplied intermediate → root: path, vendor from the SAN, RSA-PSS and ECDSA-P384 links', () => {
    const r = verifyEKChain(leaf, [int.der], storeOf(root));
    assert.deepEqual(r.path.map((c) => c.subject.text), ['', 'C=CH, O=Tollgate Test TPM Vendor, CN=Vendor EK Intermediate', 'C=CH, O=Tollgate Test TPM Vendor, CN=Vendor Root']);
    assert.deepEqual(r.vendor, { id: '4E544300', code: 'NTC', name: 'Nuvoton Technology' });
    assert.deepEqual(r.tpm, { manufacturer: 'id:4E544300', model: 'NPCT75x', version: 'id:00070002' });
    assert.deepEqual(r.warnings, []);
  });

  it('EK_CHAIN_NO_ISSUER: the intermediate is neither supplied nor in the store', () => {
    assert.throws(() => verifyEKChain(leaf, [], storeOf(root)), fails('EK_CHAIN_NO_ISSUER', /names "C=CH, O=Tollgate Test TPM Vendor, CN=Vendor EK Intermediate" as its issuer/));
    assert.throws(() => verifyEKChain(leaf, [int.der], new EKRootStore()), fails('EK_CHAIN_NO_ISSUER', /The intermediate "C=CH, O=Tollgate Test TPM Vendor, CN=Vendor EK Intermediate" names "C=CH, O=Tollgate Test TPM Vendor, CN=Vendor Root"/));
  });

  it('EK_CHAIN_BAD_SIGNATURE: a CA with the issuer\'s name and another key', () => {
    const impostor = makeIntermediate(root, 'Vendor EK Intermediate');
    assert.throws(() => verifyEKChain(leaf, [impostor.der], storeOf(root)), fails('EK_CHAIN_BAD_SIGNATURE', /names "C=CH, O=Tollgate Test TPM Vendor, CN=Vendor EK Intermediate" \(intermediate\) as its issuer, but the RSA signature does not verify/));
    // Both supplied: the real one is found whichever comes first.
    assert.equal(verifyEKChain(leaf, [impostor.der, int.der], storeOf(root)).path.length, 3);
    // Without key identifiers nothing orders the candidates: the impostor is tried first, fails, and the next one is taken.
    const noAki = makeEK(int, ekKey, { extensions: [ext.notCA(), ext.tpmSAN('id:4E544300', 'NPCT75x', 'id:00070002')] });
    const impostorNoSki = makeIntermediate(root, 'Vendor EK Intermediate', rsaKey(), { extensions: [ext.ca(0), ext.caKeyUsage()] });
    const r = verifyEKChain(noAki, [impostorNoSki.der, int.der], storeOf(root));
    assert.ok(r.path[1]!.der.equals(int.der));
    // The same-named impostor root in the store, listed first: the path still finds the real root.
    const fakeRoot = makeRoot('Vendor Root');
    assert.equal(verifyEKChain(leaf, [int.der], new EKRootStore([anchor(fakeRoot.der), anchor(root.der)])).path.length, 3);
    assert.throws(() => verifyEKChain(leaf, [int.der], storeOf(fakeRoot)), fails('EK_CHAIN_BAD_SIGNATURE', /root store certificate/));
  });

  it('EK_CHAIN_NOT_CA: basicConstraints cA=false, missing on an intermediate, or keyUsage without keyCertSign', () => {
    const kp = rsaKey();
    for (const [extensions, why] of [
      [[ext.notCA(), ext.caKeyUsage()], /basicConstraints say it is not a CA/],
      [[ext.caKeyUsage()], /no basicConstraints/],
      [[ext.ca(), ext.keyUsage(0x80, 7)], /keyUsage does not allow certificate signing/],
    ] as const) {
      const bad = makeIntermediate(root, 'Vendor EK Intermediate', kp, { extensions: [...extensions] });
      const ek = makeEK(bad, ekKey);
      assert.throws(() => verifyEKChain(ek, [bad.der], storeOf(root)), fails('EK_CHAIN_NOT_CA', why));
    }
    // A store anchor without basicConstraints (v1-style vendor root) is accepted; one that says cA=false is not.
    const v1 = makeRoot('Old Root', ecKey('P-384'), { extensions: [] });
    assert.equal(verifyEKChain(makeEK(v1, ekKey), [], storeOf(v1)).path.length, 2);
    const notCA = makeRoot('Not A CA', ecKey('P-384'), { extensions: [ext.notCA()] });
    assert.throws(() => verifyEKChain(makeEK(notCA, ekKey), [], storeOf(notCA)), fails('EK_CHAIN_NOT_CA'));
  });

  it('EK_CHAIN_PATH_LENGTH: a root allowing one intermediate CA below it', () => {
    const strictRoot = makeRoot('PathLen Root', ecKey('P-384'), { extensions: [ext.ca(1), ext.caKeyUsage()] });
    const i1 = makeIntermediate(strictRoot, 'PathLen Int 1', rsaKey(), { extensions: [ext.ca(), ext.caKeyUsage()] });
    const i2 = makeIntermediate(i1, 'PathLen Int 2', rsaKey(), { extensions: [ext.ca(), ext.caKeyUsage()] });
    assert.equal(verifyEKChain(makeEK(i1, ekKey), [i1.der], storeOf(strictRoot)).path.length, 3);
    assert.throws(() => verifyEKChain(makeEK(i2, ekKey), [i2.der, i1.der], storeOf(strictRoot)), fails('EK_CHAIN_PATH_LENGTH', /PathLen Root" allows 1 intermediate CA certificate\(s\) below it, but the path has 2/));
  });

  it('validity: notBefore enforced, notAfter reported under the EK policy, enforced under strict, ignored under none', () => {
    const old = makeIntermediate(root, 'Expired Intermediate', rsaKey(), { notBefore: time.utc(new Date('2010-01-01Z')), notAfter: time.utc(new Date('2020-01-01Z')) });
    const ek = makeEK(old, ekKey, { notBefore: time.utc(new Date('2015-01-01Z')), notAfter: time.utc(new Date('2025-01-01Z')) });
    const at = new Date('2026-01-01Z');
    const r = verifyEKChain(ek, [old.der], storeOf(root), { at });
    assert.deepEqual(r.expired.map((x) => x.notAfter), ['2025-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z']);
    assert.throws(() => verifyEKChain(ek, [old.der], storeOf(root), { at, validity: 'strict' }), fails('EK_CHAIN_EXPIRED', /expired/));
    assert.throws(() => verifyEKChain(ek, [old.der], storeOf(root), { at: new Date('2014-01-01Z') }), fails('EK_CHAIN_NOT_YET_VALID', /EK certificate .* is not valid at 2014-01-01/));
    assert.throws(() => verifyEKChain(ek, [old.der], storeOf(root), { at: new Date('2009-06-01Z'), validity: 'ek' }), fails('EK_CHAIN_NOT_YET_VALID'));
    assert.equal(verifyEKChain(ek, [old.der], storeOf(root), { at: new Date('2009-06-01Z'), validity: 'none' }).path.length, 3);
    const future = makeIntermediate(root, 'Future Intermediate', rsaKey(), { notBefore: time.generalized(new Date('2090-01-01Z')) });
    assert.throws(() => verifyEKChain(makeEK(future, ekKey), [future.der], storeOf(root)), fails('EK_CHAIN_NOT_YET_VALID', /intermediate .*Future Intermediate/));
  });

  it('EK_CHAIN_TOO_LONG: more intermediates than the path may hold; bounded search among many same-named candidates', () => {
    let cas: CA[] = [makeIntermediate(root, 'Deep base', ecKey(), { extensions: [ext.ca(), ext.caKeyUsage()] })];
    for (let i = 0; i < 8; i++) cas = [makeIntermediate(cas[0]!, `Deep ${i}`, ecKey(), { extensions: [ext.ca(), ext.caKeyUsage()] }), ...cas];
    const deepLeaf = makeEK(cas[0]!, ekKey);
    assert.throws(() => verifyEKChain(deepLeaf, cas.map((c) => c.der), storeOf(root)), fails('EK_CHAIN_TOO_LONG'));
    assert.equal(verifyEKChain(deepLeaf, cas.map((c) => c.der), storeOf(root), { maxPathLength: 12 }).path.length, 11);
    assert.throws(() => verifyEKChain(deepLeaf, Array.from({ length: 17 }, () => int.der), storeOf(root)), fails('EK_CHAIN_TOO_LONG', /17 intermediate/));
    // 16 valid same-named CAs cross-signing each other: the search gives up after a fixed number of signature checks.
    const kps = Array.from({ length: 4 }, () => ecKey());
    const name = dn(['CN', 'Ring CA']);
    const ring = kps.flatMap((kp, i) => kps.map((signer) => makeCert({ issuer: name, subject: name, publicKey: kp.publicKey, signingKey: signer.privateKey, serial: Buffer.from([i + 1]), extensions: [ext.ca(), ext.caKeyUsage()] })));
    const ringLeaf = makeCert({ issuer: name, subject: seq(), publicKey: ekKey, signingKey: kps[0]!.privateKey, extensions: ekExtensions(int) });
    assert.throws(() => verifyEKChain(ringLeaf, ring, storeOf(root)), fails('EK_CHAIN_TOO_LONG', /gave up after 64 signature checks/));
  });

  it('EK_CHAIN_MALFORMED and EK_CHAIN_UNSUPPORTED_ALGORITHM', () => {
    assert.throws(() => verifyEKChain(Buffer.from('not a certificate'), [], storeOf(root)), fails('EK_CHAIN_MALFORMED', /EK certificate does not parse/));
    assert.throws(() => verifyEKChain(leaf, [Buffer.from([0x30, 0x80])], storeOf(root)), fails('EK_CHAIN_MALFORMED', /intermediate certificate 1/));
    const der = Buffer.from(leaf);
    // Rewrite the outer signatureAlgorithm OID (RSASSA-PSS …1.1.10) to an unknown one (…1.1.99).
    const at = der.lastIndexOf(Buffer.from('2a864886f70d01010a', 'hex'));
    der[at + 8] = 99;
    assert.throws(() => verifyEKChain(der, [int.der], storeOf(root)), fails('EK_CHAIN_UNSUPPORTED_ALGORITHM'));
  });

  it('issuer names match after normalisation (UTF8String vs PrintableString, case, spacing)', () => {
    const kp = ecKey('P-384');
    const caName = dn(['C', 'TW'], ['O', 'Nuvoton Technology Corporation'], ['CN', 'Nuvoton TPM Root CA 2111']);
    const ca = makeRoot('x', kp, { name: caName });
    const sloppyIssuer = seq(set(seq(oid('2.5.4.6'), utf8('tw'))), set(seq(oid('2.5.4.10'), utf8('Nuvoton  Technology Corporation'))), set(seq(oid('2.5.4.3'), utf8('NUVOTON TPM ROOT CA 2111 '))));
    const ek = makeEK(ca, ekKey, { issuer: sloppyIssuer });
    assert.equal(verifyEKChain(ek, [], storeOf(ca)).path.length, 2);
  });

  it('unknown critical extensions are accepted and reported as warnings', () => {
    const ek = makeEK(int, ekKey, { extensions: [...ekExtensions(int), ext.unknownCritical()] });
    const r = verifyEKChain(ek, [int.der], storeOf(root));
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /critical extension 1\.3\.6\.1\.4\.1\.55555\.7\.1/);
  });
});
