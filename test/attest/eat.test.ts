// The tollgate EAT profile: evidence made on a real swtpm (quote, TPM2_Certify, TPM2_Sign of the
// COSE digest by the device key), round trips, the quote binding, and every structural refusal.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { openTPM, marshal, TPM2BPublic, TPMTPublic, TPM_ALG, TPM_ST, toKeyObject, publicKeyOf, verifyQuote, verifyCertification, type TPM, type TPMSSignatureECC } from '../../hardware/index.ts';
import { provision, AK_HANDLE, DEVICE_KEY_HANDLE } from '../../hardware/provision.ts';
import { cose, eat } from '../../attest/index.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { closeSuite } from '../tpm/helpers.ts';
import { makeEvidence, sampleClaimsInput, samplePcrs, softwareTpm, type SoftwareTpm } from '../fixtures/attest/evidence.ts';

const { CLAIM, decodeEvidence, encodeEvidence, buildClaims, withQuote, expectedQuoteExtraData, verifyEvidenceSignature } = eat;
type CborMap = cose.CborMap;

function refuses(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof eat.EatError || e instanceof cose.CoseError || e instanceof cose.CborError, `expected a typed error, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

describe('evidence from a real TPM (swtpm)', () => {
  let sw: Swtpm;
  let tpm: TPM;
  before(async () => {
    sw = await startSwtpm();
    tpm = await openTPM(sw.uri);
  });
  after(() => closeSuite(sw, tpm));

  it('quote, key certification and a device-key COSE signature made by the TPM decode and verify', async () => {
    const prov = await provision(tpm, { eks: ['ecc'] });
    const ek = prov.keys.find((k) => k.role === 'ek-ecc')!;
    const selection = [{ hash: TPM_ALG.SHA256, pcrs: [0, 1, 2, 3, 4, 5, 6, 7] }];
    const read = await tpm.pcrRead(selection);
    const nonce = randomBytes(32);
    const claims = buildClaims({
      nonce,
      ueid: eat.ueidFromEKPublic(marshal(TPMTPublic, ek.public)),
      swname: 'tollgate',
      swversion: '0.1.0',
      pcrs: [{ hashAlg: TPM_ALG.SHA256, values: read.values.map((v) => ({ pcr: v.pcr, digest: v.digest })) }],
      keyCertification: {
        attest: prov.certification.attestBytes,
        signature: prov.certification.signatureBytes,
        akPublic: marshal(TPM2BPublic, prov.ak.public),
        deviceKeyPublic: marshal(TPM2BPublic, prov.deviceKey.public),
      },
    });
    const extraData = expectedQuoteExtraData(claims);
    const q = await tpm.quote(AK_HANDLE, extraData, selection);
    const full = withQuote(claims, { attest: q.attestBytes, signature: q.signatureBytes });
    // The device key signs the SHA-256 of the Sig_structure with TPM2_Sign: it never sees the message.
    const seen: Uint8Array[] = [];
    const tpmSigner: cose.CoseSigner = {
      alg: cose.COSE_ALG.ES256,
      kid: prov.deviceKey.name,
      async sign(digest) {
        seen.push(digest);
        const s = (await tpm.sign(DEVICE_KEY_HANDLE, digest)).signature as TPMSSignatureECC;
        return { r: s.signatureR, s: s.signatureS };
      },
    };
    const bytes = await encodeEvidence(full, tpmSigner);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.length, 32);

    const d = decodeEvidence(bytes);
    assert.deepEqual(d.kid, new Uint8Array(prov.deviceKey.name));
    assert.equal(d.claims.ueid.length, 33);
    assert.deepEqual(Buffer.from(d.parsed.quote.attest.extraData), Buffer.from(extraData));
    // What an appraiser does with it: the device key from the certification (checked with the AK),
    // the COSE signature with that key, the quote with the AK over the claimed PCR values.
    const akKey = publicKeyOf(d.parsed.keyCertification.akPublic);
    verifyCertification({ ak: akKey, attest: d.claims.keyCertification.attest, signature: d.claims.keyCertification.signature, objectName: prov.deviceKey.name, qualifiedName: prov.deviceKey.qualifiedName, qualifyingData: prov.certification.qualifyingData });
    const deviceKey = toKeyObject(publicKeyOf(d.parsed.keyCertification.deviceKeyPublic));
    verifyEvidenceSignature(d, deviceKey);
    refuses(() => verifyEvidenceSignature(d, toKeyObject(akKey)), 'COSE_SIGNATURE_INVALID');
    verifyQuote({ ak: akKey, attest: d.claims.quote.attest, signature: d.claims.quote.signature, nonce: expectedQuoteExtraData(d.rawClaims), pcrs: d.claims.pcrs[0]!.values.map((v) => ({ hash: TPM_ALG.SHA256, pcr: v.pcr, digest: v.digest })) });
    assert.match(eat.renderEvidence(d), /quote +ECDSA\/SHA256 over PCRs sha256:0,1,2,3,4,5,6,7/);
    for (const h of [q.attest]) assert.equal(h.type, TPM_ST.ATTEST_QUOTE);
  });
});

describe('tollgate EAT evidence (software fixtures)', () => {
  let t: SoftwareTpm;
  const nonce = new Uint8Array(32).fill(0x5a);
  before(() => {
    t = softwareTpm();
  });

  /** Re-signs a claims map (optionally re-quoting it) as the device would, to test the decoder alone. */
  async function resign(m: CborMap, opts: { requote?: boolean; protectedHeader?: CborMap } = {}): Promise<Uint8Array> {
    if (opts.requote) {
      const q = t.quote(expectedQuoteExtraData(m), samplePcrs());
      m.set(CLAIM.quote, new Map([[1, q.attest], [2, q.signature]]));
    }
    return cose.signSign1(cose.encodeCBOR(m), cose.softwareCoseSigner(t.device.privateKey), { protectedHeader: opts.protectedHeader ?? new Map([[16, eat.EAT_MEDIA_TYPE]]) });
  }

  it('round trip: the decoded claims are the built ones; the device key verifies the signature', async () => {
    const { claims, bytes } = await makeEvidence(t, nonce);
    const d = decodeEvidence(bytes);
    assert.deepEqual(d.claims, claims);
    assert.deepEqual(d.unknownClaims, []);
    assert.equal(d.alg, -7);
    assert.equal(d.protectedHeader.get(16), 'application/eat+cwt');
    verifyEvidenceSignature(d, t.device.publicKey);
    refuses(() => verifyEvidenceSignature(d, t.ak.publicKey), 'COSE_SIGNATURE_INVALID');
    assert.equal(eat.EAT_CONTENT_TYPE, 'application/eat+cwt; eat_profile="tag:github.com,2026:tollgate/eat#1"');
    // The private claim keys spell "tol" on the wire.
    assert.equal(Buffer.from(cose.encodeCBOR(CLAIM.quote)).toString('hex'), '3a746f6c01');
  });

  it('deterministic: the same claims give the same payload and digest, whatever the input order', () => {
    const input = sampleClaimsInput(t, nonce);
    const a = buildClaims(input);
    const reordered = {
      ...input,
      pcrs: input.pcrs.map((b) => ({ ...b, values: [...b.values].reverse() })),
      software: input.software!.map((s) => ({ ...s, hashes: Object.fromEntries(Object.entries(s.hashes).reverse()) })),
    };
    const b = buildClaims(reordered);
    assert.deepEqual(cose.encodeCBOR(eat.claimsToCbor(a)), cose.encodeCBOR(eat.claimsToCbor(b)));
    assert.deepEqual(eat.claimsDigest(a), eat.claimsDigest(b));
    // The digest is of the map without the quote, so attaching the quote does not change it.
    const q = t.quote(expectedQuoteExtraData(a), a.pcrs);
    assert.deepEqual(eat.claimsDigest(withQuote(a, q)), eat.claimsDigest(a));
    assert.deepEqual(eat.quoteExtraData(nonce, eat.claimsDigest(a)), createHash('sha256').update(nonce).update(eat.claimsDigest(a)).digest());
    // Any claim changes the digest.
    assert.notDeepEqual(eat.claimsDigest(buildClaims({ ...input, iat: input.iat as number + 1 })), eat.claimsDigest(a));
  });

  it('the quote binds the nonce and every other claim', async () => {
    const { bytes } = await makeEvidence(t, nonce);
    const m = decodeEvidence(bytes).rawClaims;
    // Claims changed after quoting: a software entry removed, the ledger head moved, a new claim.
    const edits: Array<(x: CborMap) => void> = [
      (x) => (x.get(CLAIM.software) as unknown[]).pop(),
      (x) => (x.get(CLAIM.ledger) as CborMap).set(1, 43),
      (x) => x.set(CLAIM.nonce, new Uint8Array(32).fill(1)),
      (x) => x.set(-1953459300, 'extra'),
      (x) => x.delete(CLAIM.swname),
    ];
    for (const edit of edits) {
      const c = new Map(m);
      for (const k of [CLAIM.software, CLAIM.ledger]) c.set(k, structuredClone(c.get(k)) as cose.CborValue);
      edit(c);
      const signed = await resign(c); // re-signed by the device key, the quote kept
      refuses(() => decodeEvidence(signed), 'EAT_QUOTE_BINDING_MISMATCH');
    }
    // A quote replayed from evidence for another nonce.
    const other = decodeEvidence((await makeEvidence(t, new Uint8Array(32).fill(0x77))).bytes).rawClaims;
    const c = new Map(m);
    c.set(CLAIM.quote, other.get(CLAIM.quote)!);
    const replayed = await resign(c);
    refuses(() => decodeEvidence(replayed), 'EAT_QUOTE_BINDING_MISMATCH');
    // withQuote refuses a quote that was not made for the claims.
    const claims = buildClaims(sampleClaimsInput(t, nonce));
    assert.throws(() => withQuote(claims, t.quote(new Uint8Array(32), claims.pcrs)), { code: 'EAT_INPUT_INVALID' });
  });

  it('unknown claims are kept, listed and covered by the binding', async () => {
    const { bytes } = await makeEvidence(t, nonce);
    const m = decodeEvidence(bytes).rawClaims;
    m.set(-1953459300, 'future claim');
    m.set('vendor', 1);
    const d = decodeEvidence(await resign(m, { requote: true }));
    assert.deepEqual(d.unknownClaims.sort(), [-1953459300, 'vendor'].sort());
    assert.match(eat.renderEvidence(d), /other claims +-1953459300, vendor/);
  });

  it('structural refusals, each with its code', async () => {
    const { bytes } = await makeEvidence(t, nonce);
    const base = decodeEvidence(bytes).rawClaims;
    const variant = (f: (m: CborMap) => void): CborMap => {
      const m = new Map(base);
      f(m);
      return m;
    };
    const cert = base.get(CLAIM.keyCertification) as CborMap;
    const quote = base.get(CLAIM.quote) as CborMap;
    const cases: Array<[string, CborMap, string]> = [
      ['no nonce', variant((m) => m.delete(CLAIM.nonce)), 'EAT_CLAIM_MISSING'],
      ['no quote', variant((m) => m.delete(CLAIM.quote)), 'EAT_CLAIM_MISSING'],
      ['no key certification', variant((m) => m.delete(CLAIM.keyCertification)), 'EAT_CLAIM_MISSING'],
      ['no pcrs', variant((m) => m.delete(CLAIM.pcrs)), 'EAT_CLAIM_MISSING'],
      ['another profile', variant((m) => m.set(CLAIM.eatProfile, 'tag:github.com,2023:veraison/ear')), 'EAT_PROFILE_MISMATCH'],
      ['a 7-byte nonce', variant((m) => m.set(CLAIM.nonce, new Uint8Array(7))), 'EAT_CLAIM_INVALID'],
      ['a 65-byte nonce', variant((m) => m.set(CLAIM.nonce, new Uint8Array(65))), 'EAT_CLAIM_INVALID'],
      ['a text nonce', variant((m) => m.set(CLAIM.nonce, 'abcdefgh')), 'EAT_CLAIM_INVALID'],
      ['a negative iat', variant((m) => m.set(CLAIM.iat, -1)), 'EAT_CLAIM_INVALID'],
      ['a 34-byte ueid', variant((m) => m.set(CLAIM.ueid, new Uint8Array(34))), 'EAT_CLAIM_INVALID'],
      ['a certify attest as the quote', variant((m) => m.set(CLAIM.quote, new Map([[1, cert.get(1)!], [2, cert.get(2)!]]))), 'EAT_CLAIM_INVALID'],
      ['a quote as the key certification', variant((m) => m.set(CLAIM.keyCertification, new Map([...cert, [1, quote.get(1)!]]))), 'EAT_CLAIM_INVALID'],
      ['an attest without TPM magic', variant((m) => m.set(CLAIM.quote, new Map([[1, new Uint8Array(Buffer.from('00000000', 'hex'))], [2, quote.get(2)!]]))), 'EAT_CLAIM_INVALID'],
      ['a broken TPMT_SIGNATURE', variant((m) => m.set(CLAIM.quote, new Map([[1, quote.get(1)!], [2, new Uint8Array([0, 0x18])]]))), 'EAT_CLAIM_INVALID'],
      ['a broken TPM2B_PUBLIC', variant((m) => m.set(CLAIM.keyCertification, new Map([...cert, [3, new Uint8Array([0, 4, 1, 2])]]))), 'EAT_CLAIM_INVALID'],
      ['an extra field in the quote', variant((m) => m.set(CLAIM.quote, new Map([...quote, [3, 0]]))), 'EAT_CLAIM_INVALID'],
      ['a PCR index 24', variant((m) => m.set(CLAIM.pcrs, [new Map<cose.CborKey, cose.CborValue>([[1, 0x0b], [2, new Map([[24, new Uint8Array(32)]])]])])), 'EAT_CLAIM_INVALID'],
      ['a short PCR digest', variant((m) => m.set(CLAIM.pcrs, [new Map<cose.CborKey, cose.CborValue>([[1, 0x0b], [2, new Map([[0, new Uint8Array(20)]])]])])), 'EAT_CLAIM_INVALID'],
      ['an unknown PCR bank', variant((m) => m.set(CLAIM.pcrs, [new Map<cose.CborKey, cose.CborValue>([[1, 0x99], [2, new Map([[0, new Uint8Array(32)]])]])])), 'EAT_CLAIM_INVALID'],
      ['no PCR bank', variant((m) => m.set(CLAIM.pcrs, [])), 'EAT_CLAIM_INVALID'],
      ['an unknown log format', variant((m) => m.set(CLAIM.eventLogs, [new Map<cose.CborKey, cose.CborValue>([[1, 'syslog'], [2, 0], [3, 0], [4, new Uint8Array(1)]])])), 'EAT_CLAIM_INVALID'],
      ['an md5 software hash', variant((m) => m.set(CLAIM.software, [new Map<cose.CborKey, cose.CborValue>([[1, 'x'], [2, new Map([['md5', new Uint8Array(16)]])], [3, 1]])])), 'EAT_CLAIM_INVALID'],
      ['TUF version 0', variant((m) => m.set(CLAIM.software, [new Map<cose.CborKey, cose.CborValue>([[1, 'x'], [2, new Map([['sha256', new Uint8Array(32)]])], [3, 0]])])), 'EAT_CLAIM_INVALID'],
      ['software as a map', variant((m) => m.set(CLAIM.software, new Map())), 'EAT_CLAIM_INVALID'],
    ];
    for (const [what, m, code] of cases) {
      const signed = await resign(m);
      assert.throws(() => decodeEvidence(signed), (e: unknown) => {
        assert.ok(e instanceof eat.EatError, `${what}: ${String(e)}`);
        assert.equal(e.code, code, `${what}: ${e.message}`);
        return true;
      });
    }
  });

  it('the envelope: tag 18, typ application/eat+cwt, a claims map, the size cap', async () => {
    const { bytes } = await makeEvidence(t, nonce);
    const m = decodeEvidence(bytes).rawClaims;
    refuses(() => decodeEvidence(bytes.subarray(1)), 'COSE_WRONG_TAG'); // the same message without tag 18
    refuses(() => decodeEvidence(cose.encodeCBOR([new Uint8Array(0), new Map(), new Uint8Array(0), new Uint8Array(64)])), 'COSE_WRONG_TAG');
    const noTyp = await resign(m, { protectedHeader: new Map() });
    refuses(() => decodeEvidence(noTyp), 'EAT_MEDIA_TYPE_MISMATCH');
    const cwtTyp = await resign(m, { protectedHeader: new Map([[16, 'application/cwt']]) });
    refuses(() => decodeEvidence(cwtTyp), 'EAT_MEDIA_TYPE_MISMATCH');
    const notMap = await cose.signSign1(cose.encodeCBOR([1]), cose.softwareCoseSigner(t.device.privateKey), { protectedHeader: new Map([[16, eat.EAT_MEDIA_TYPE]]) });
    refuses(() => decodeEvidence(notMap), 'EAT_MALFORMED');
    refuses(() => decodeEvidence(bytes, { maxBytes: bytes.length - 1 }), 'EAT_TOO_LARGE');
    refuses(() => decodeEvidence('x' as unknown as Uint8Array), 'EAT_MALFORMED');
    // Floats are refused by the CBOR layer (an EAT iat must never be a float).
    const withFloat = Buffer.from(cose.encodeCBOR(m)).toString('hex').replace('061a' + (1_767_225_600).toString(16), '06fb41da5a2e0000000000');
    assert.notEqual(withFloat, Buffer.from(cose.encodeCBOR(m)).toString('hex'));
    const floaty = await cose.signSign1(Buffer.from(withFloat, 'hex'), cose.softwareCoseSigner(t.device.privateKey), { protectedHeader: new Map([[16, eat.EAT_MEDIA_TYPE]]) });
    refuses(() => decodeEvidence(floaty), 'CBOR_UNSUPPORTED_TYPE');
  });

  it('building refuses parts that do not fit the profile (usage errors)', () => {
    const input = sampleClaimsInput(t, nonce);
    const bad: Array<[string, Partial<eat.ClaimsInput>]> = [
      ['short nonce', { nonce: new Uint8Array(4) }],
      ['float iat', { iat: 1.5 }],
      ['PCR 30', { pcrs: [{ hashAlg: TPM_ALG.SHA256, values: [{ pcr: 30, digest: new Uint8Array(32) }] }] }],
      ['sha1 hash', { software: [{ target: 'x', hashes: { sha1: new Uint8Array(20) }, tufVersion: 1 }] }],
      ['empty target', { software: [{ target: '', hashes: { sha256: new Uint8Array(32) }, tufVersion: 1 }] }],
      ['bad certification', { keyCertification: { ...input.keyCertification, attest: new Uint8Array(3) } }],
    ];
    for (const [what, over] of bad) assert.throws(() => buildClaims({ ...input, ...over }), (e: unknown) => e instanceof eat.EatError && e.code === 'EAT_INPUT_INVALID' && e.errorClass === 'usage', what);
    const claims = buildClaims(input);
    return assert.rejects(encodeEvidence(claims, cose.softwareCoseSigner(t.device.privateKey)), { code: 'EAT_QUOTE_MISSING' });
  });

  it('UEID: 0x01 ‖ SHA-256(EK TPMT_PUBLIC)[0..32]', () => {
    const u = eat.ueidFromEKPublic(t.ekPublicArea);
    assert.equal(u.length, 33);
    assert.equal(u[0], 1);
    assert.deepEqual(u.subarray(1), new Uint8Array(createHash('sha256').update(t.ekPublicArea).digest()));
    assert.deepEqual(eat.ueidFromEKPublic(t.ekPublicArea), u);
    assert.throws(() => eat.ueidFromEKPublic(new Uint8Array([1, 2, 3])), { code: 'EAT_INPUT_INVALID' });
    assert.throws(() => eat.ueidFromEKPublic(marshal(TPM2BPublic, t.akPublic)), { code: 'EAT_INPUT_INVALID' }, 'a TPM2B (with its size) is not a TPMT_PUBLIC');
  });

  it('renders text and JSON', async () => {
    const d = decodeEvidence((await makeEvidence(t, nonce)).bytes);
    const text = eat.renderEvidence(d);
    for (const re of [/^EAT evidence \(application\/eat\+cwt, profile tag:github\.com,2026:tollgate\/eat#1\)/, /signature +ES256 by the device key, kid /, /nonce +5a5a/, /issued at +2026-01-01T00:00:00\.000Z/, /log ima +140 bytes from byte 4096, event 17 on/, /app\/release-1\.2\.0\.tar\.gz  sha256:/, /ledger +seq 42/, /device key +ECC key certified by the ECC AK/]) {
      assert.match(text, re);
    }
    const j = JSON.parse(eat.renderEvidence(d, 'json'));
    assert.equal(j.nonce, '5a'.repeat(32));
    assert.equal(j.quote.boundToClaims, true);
    assert.equal(j.signature.verified, false);
    assert.equal(j.software[1].target, 'tools/ripgrep');
    assert.deepEqual(j.eventLogs[1], { format: 'ima', offset: 4096, firstEvent: 17, bytes: 140 });
    assert.deepEqual(j, eat.evidenceJSON(d));
  });
});
