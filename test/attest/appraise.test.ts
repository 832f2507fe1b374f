// Remote attestation end to end on real swtpms: a synthesised measured-boot log and IMA log are
// extended into the TPM as firmware and the kernel would, the device makes evidence
// (createEvidence: quote bound to the claims, COSE_Sign1 by the TPM-resident device key), and the
// verifier appraises it against the enrolled record and reference values. Each attack is refused
// with the claim that failed named: a changed PCR, another nonce, replayed evidence, a tampered
// claim, a software key, a quote from another TPM, edited logs, a TPM clock going back, and every
// kind of reference value. Interop: the quote inside the evidence passes tpm2_checkquote, and
// tpm2_eventlog replays the boot log inside it to the quoted values.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  openTPM, TPM_ALG, TPM2BPublic, marshal, eventlog, encodeSerializedPCRs, publicPem, publicName, deviceKeyTemplate,
  type TPM, type TPMSQuoteInfo,
} from '../../hardware/index.ts';
import { provision, AK_HANDLE } from '../../hardware/provision.ts';
import { appraise as A, cose, eat, ear } from '../../attest/index.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { closeSuite } from '../tpm/helpers.ts';
import * as B from '../fixtures/eventlog/builder.ts';
import { runEventlog } from '../fixtures/eventlog/tool.ts';
import { deviceRecordFromTPM } from '../fixtures/attest/device-record.ts';

const BANKS = [B.ALG.SHA1, B.ALG.SHA256];
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let sw: Swtpm;
let tpm: TPM;
let record: A.DeviceRecord;
let dir: string;
const keys = B.bootKeys();
const boot = B.typicalBoot({ keys, extra: 6, seed: 'appraise' });
const imaEntries = B.typicalIMA(300, { seed: 'appraise' }).map((e) => B.imaEntry(e));
const bootLog = B.buildTCGLog(boot, { banks: BANKS });
const imaLog = B.buildIMABinary(imaEntries);
const installed: eat.InstalledSoftware[] = [
  { target: 'widget-2.0.0.tar', hashes: { sha256: createHash('sha256').update('widget 2.0.0').digest() }, tufVersion: 3 },
  { target: 'tools/rg', hashes: { sha256: createHash('sha256').update('rg').digest() }, tufVersion: 3 },
];

async function extendBoot(t: TPM, events: readonly B.SynthEvent[]): Promise<void> {
  for (const e of events) if (e.type !== B.T.NO_ACTION) await t.pcrExtend(e.pcr, BANKS.map((b) => ({ hashAlg: b, digest: B.extendedDigest(e, b) })));
}

async function extendIMA(t: TPM, entries: readonly B.BuiltIMA[]): Promise<void> {
  for (const e of entries) await t.pcrExtend(e.pcr, BANKS.map((b) => ({ hashAlg: b, digest: B.imaExtend(e, b, 'bank-hash') })));
}

/** The reference values that describe this machine exactly (built from the synthesised parts). */
function referenceFor(): Record<string, unknown> {
  const pcr7 = B.expectedPCRs(boot, BANKS).get(`${B.ALG.SHA256}:7`)!;
  const dbHashes = [...keys.db.map((c) => createHash('sha256').update(c).digest('hex')), createHash('sha512').update('appraise:allowed').digest().subarray(0, 32).toString('hex')];
  const apps = boot.filter((e) => e.type === B.T.EFI_BOOT_SERVICES_APPLICATION).map((e) => B.extendedDigest(e, B.ALG.SHA256).toString('hex'));
  const files = eventlog.parseIMABinary(imaLog).entries.filter((e) => e.fields && e.fields.name !== 'boot_aggregate').map((e) => ({ path: e.fields!.name, digest: `${e.fields!.digestAlg}:${hex(e.fields!.digest)}` }));
  return {
    version: 1,
    policyId: 'test-fleet/1',
    ekRoots: ['IBM (swtpm)'],
    pcrs: { 'sha256:7': [pcr7.toString('hex')] },
    eventLog: {
      secureBoot: 'required',
      db: { allow: dbHashes },
      dbx: { mustContain: [createHash('sha512').update('appraise:revoked3').digest().subarray(0, 32).toString('hex')] },
      bootApplications: { allow: apps },
    },
    ima: { allow: files, deny: [{ path: '/tmp/dropper' }] },
    software: { mustInclude: [{ target: 'widget-2.0.0.tar', sha256: hex(installed[0]!.hashes.sha256!) }], mustNotInclude: [{ target: 'widget-1.9.0.tar' }] },
  };
}

const reference = () => A.parseReferenceValues(referenceFor());

function reason(r: A.AppraiseResult, claim: string): ear.ClaimReason {
  const x = r.appraisal.reasons!.find((c) => c.claim === claim);
  assert.ok(x, `no reason for ${claim}: ${r.appraisal.reasons!.map((c) => `${c.claim}=${c.status}`).join(' ')}`);
  return x;
}

function failed(r: A.AppraiseResult): string[] {
  return r.appraisal.reasons!.filter((c) => c.status === 'contraindicated').map((c) => c.claim);
}

function assertAffirming(r: A.AppraiseResult): void {
  assert.equal(r.status, 'affirming', A.renderAppraisal(r));
}

async function evidence(extra: Partial<A.CreateEvidenceOptions> = {}, t: TPM = tpm): Promise<{ nonce: Buffer; bytes: Uint8Array; created: A.CreatedEvidence }> {
  const nonce = randomBytes(32);
  const created = await A.createEvidence(t, { nonce, eventLog: bootLog, imaLog, installed, swversion: '0.1.0', ...extra });
  return { nonce, bytes: created.bytes, created };
}

before(async () => {
  sw = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-appraise-'));
  tpm = await openTPM(sw.uri);
  await provision(tpm, { eks: ['rsa'] });
  record = await deviceRecordFromTPM(tpm, { caDir: sw.caDir });
  await extendBoot(tpm, boot);
  await extendIMA(tpm, imaEntries);
});

after(async () => {
  await closeSuite(sw, tpm);
  rmSync(dir, { recursive: true, force: true });
});

describe('evidence appraised against the enrolled device and reference values (swtpm)', () => {
  let good: { nonce: Buffer; bytes: Uint8Array; created: A.CreatedEvidence };
  let goodResult: A.AppraiseResult;

  it('a device in the acceptable set is affirmed, every claim named', async () => {
    good = await evidence();
    // The default selection is the firmware PCRs plus every PCR the logs extend.
    assert.deepEqual(good.created.selection.map((s) => s.hash), [TPM_ALG.SHA256]);
    assert.equal(good.created.logs.length, 2);
    goodResult = A.appraise(good.bytes, { device: record, nonce: good.nonce, reference: reference() });
    assertAffirming(goodResult);
    for (const c of ['ueid', 'keyCertification', 'signature', 'nonce', 'quote.signature', 'quote.extraData', 'pcrs', 'clock', 'eventLogs',
      'reference.ekRoots', 'pcrs.sha256:7', 'eventLog.secureBoot', 'eventLog.db', 'eventLog.dbx', 'eventLog.bootApplications', 'ima.allow',
      'software[widget-2.0.0.tar]', 'software[widget-1.9.0.tar]']) {
      assert.equal(reason(goodResult, c).status, 'affirming', c);
    }
    assert.match(reason(goodResult, 'eventLogs').message, /measured-boot log \(\d+ events\) and the IMA log \(300 new entries/);
    assert.deepEqual(goodResult.appraisal.trustVector, { 'instance-identity': 2, hardware: 2, configuration: 2, executables: 2, 'file-system': 2 });
    assert.equal(goodResult.appraisal.policyId, 'test-fleet/1');
    assert.deepEqual(Buffer.from(goodResult.ear.nonce!), good.nonce);
    assert.equal(typeof goodResult.next!.clock, 'bigint');
    assert.equal(goodResult.next!.logs!.covered.includes('sha256:10'), true);
    // The state round-trips through its file form.
    assert.deepEqual(A.parseAppraisalState(A.serializeAppraisalState(goodResult.next!)), goodResult.next);
    assert.match(A.renderAppraisal(goodResult), /^Appraisal: AFFIRMING \(policy test-fleet\/1\)/);
  });

  it('the quote inside the evidence passes tpm2_checkquote, and tpm2_eventlog replays its boot log to the quoted values', () => {
    const d = eat.decodeEvidence(good.bytes);
    const q = d.parsed.quote.attest;
    const qi = q.attested as TPMSQuoteInfo;
    const values = d.claims.pcrs.flatMap((b) => b.values.map((v) => ({ hash: b.hashAlg, pcr: v.pcr, digest: Buffer.from(v.digest) })));
    writeFileSync(join(dir, 'quote.msg'), d.claims.quote.attest);
    writeFileSync(join(dir, 'quote.sig'), d.claims.quote.signature);
    writeFileSync(join(dir, 'quote.pcrs'), encodeSerializedPCRs(qi.pcrSelect, values));
    writeFileSync(join(dir, 'ak.pub.pem'), publicPem(A.deviceKeys(record).akPublic));
    // The quote's qualifying data is the binding: SHA-256(nonce ‖ claims digest).
    const run = (qualification: string) => spawnSync('tpm2_checkquote', ['-u', join(dir, 'ak.pub.pem'), '-m', join(dir, 'quote.msg'), '-s', join(dir, 'quote.sig'), '-f', join(dir, 'quote.pcrs'), '-g', 'sha256', '-q', qualification], { encoding: 'utf8' });
    const ok = run(hex(eat.quoteExtraData(good.nonce, d.claimsDigest)));
    assert.equal(ok.status, 0, ok.stderr);
    assert.notEqual(run(hex(good.nonce)).status, 0, 'tpm2_checkquote must refuse the bare nonce: the quote is bound to the claims');
    // The boot log as sent, through tpm2_eventlog.
    const logFile = join(dir, 'boot.bin');
    writeFileSync(logFile, d.claims.eventLogs.find((l) => l.format === 'tcg-pc-client')!.data);
    const tool = runEventlog(logFile);
    assert.equal(tool.status, 0, tool.stderr);
    for (const v of values.filter((x) => x.pcr !== 10)) {
      const t = tool.pcrs.get(`${v.hash}:${v.pcr}`);
      // PCRs the log never extends are absent from the tool's list and still at their reset value.
      assert.equal(t ?? '00'.repeat(32), hex(v.digest), `PCR ${v.pcr}`);
    }
  });

  it('the EAR signed as a JWT verifies with plain node:crypto, and as a CWT with the COSE verifier', async () => {
    const vk = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwt = await ear.signEARJWT(goodResult.ear, cose.softwareCoseSigner(vk.privateKey));
    const [h, p, s] = jwt.split('.') as [string, string, string];
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'ES256', typ: 'JWT' });
    assert.ok(nodeVerify('sha256', Buffer.from(`${h}.${p}`), { key: vk.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')));
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    assert.equal(claims.eat_profile, 'tag:github.com,2023:veraison/ear');
    assert.equal(claims.submods.tollgate['ear.status'], 'affirming');
    assert.equal(claims.eat_nonce, good.nonce.toString('base64url'));
    assert.ok(claims.submods.tollgate['ear.tollgate.reasons'].some((x: { claim: string }) => x.claim === 'eventLog.secureBoot'));
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.ok(!nodeVerify('sha256', Buffer.from(`${h}.${p}`), { key: other.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')));
    const cwt = await ear.signEARCWT(goodResult.ear, cose.softwareCoseSigner(vk.privateKey));
    assert.equal(ear.verifyEARCWT(cwt, vk.publicKey).submods.tollgate!.status, 'affirming');
  });

  it('another nonce, and old evidence replayed to a new challenge, are contraindicated (nonce, clock)', () => {
    const r = A.appraise(good.bytes, { device: record, nonce: randomBytes(32), reference: reference() });
    assert.equal(r.status, 'contraindicated');
    assert.deepEqual(failed(r), ['nonce']);
    assert.equal(reason(r, 'nonce').actual, hex(good.nonce));
    assert.equal(r.next, undefined, 'stale evidence must not move the stored state');
    // Nothing else was appraised: the claims of stale evidence are not affirmed.
    assert.equal(r.appraisal.reasons!.some((c) => c.claim.startsWith('eventLog')), false);
    // The replay, seen by a verifier that stored the state of the first appraisal.
    const replay = A.appraise(good.bytes, { device: record, nonce: randomBytes(32), previous: goodResult.next! });
    assert.deepEqual(failed(replay), ['nonce', 'clock']);
    // Even with the old nonce re-issued, the clock shows it is not new.
    const sameNonce = A.appraise(good.bytes, { device: record, nonce: good.nonce, previous: goodResult.next! });
    assert.deepEqual(failed(sameNonce), ['clock']);
    assert.match(reason(sameNonce, 'clock').message, /not later than/);
  });

  it('a TPM clock or reset count that went back is contraindicated; a later one is accepted', async () => {
    const e = await evidence();
    const base = A.appraise(e.bytes, { device: record, nonce: e.nonce }).next!;
    const ahead = { ...goodResult.next!, clock: base.clock + 60_000n };
    assert.deepEqual(failed(A.appraise(e.bytes, { device: record, nonce: e.nonce, previous: ahead })), ['clock']);
    const reset = { ...goodResult.next!, resetCount: base.resetCount + 1 };
    const r = A.appraise(e.bytes, { device: record, nonce: e.nonce, previous: reset });
    assert.deepEqual(failed(r), ['clock']);
    assert.match(reason(r, 'clock').message, /reset count went back/);
    assertAffirming(A.appraise(e.bytes, { device: record, nonce: e.nonce, previous: goodResult.next!, reference: reference() }));
  });

  it('a claim changed after signing fails the COSE signature and the quote binding', () => {
    const s1 = cose.decodeSign1(good.bytes);
    const m = cose.decodeCBOR(s1.payload, { maxItems: 1_000_000 }) as cose.CborMap;
    (m.get(eat.CLAIM.software) as cose.CborValue[]).pop();
    const forged = cose.encodeTaggedCBOR(18, [s1.protectedBytes, s1.unprotectedHeader, cose.encodeCBOR(m), s1.signature]);
    const r = A.appraise(forged, { device: record, nonce: good.nonce, reference: reference() });
    assert.deepEqual(failed(r), ['signature', 'quote.extraData']);
    assert.match(reason(r, 'signature').message, /does not verify with the enrolled device key/);
  });

  it('evidence signed by a software key (same key type and format) instead of the enrolled device key is contraindicated', async () => {
    const soft = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const identity = await A.evidenceIdentity(tpm);
    // 1. The TPM's claims and quote, re-signed by an attacker's key.
    const c = good.created.claims;
    const resigned = await eat.encodeEvidence(c, cose.softwareCoseSigner(soft.privateKey, { kid: identity.deviceKeyName }));
    assert.deepEqual(failed(A.appraise(resigned, { device: record, nonce: good.nonce })), ['signature']);
    // 2. The attacker's key dressed as a TPM device key (the device key's template, its own
    // point) in the key certification: the AK never certified it.
    const jwk = soft.publicKey.export({ format: 'jwk' });
    const fakePub = { ...deviceKeyTemplate(), unique: { x: Buffer.from(jwk.x!, 'base64url'), y: Buffer.from(jwk.y!, 'base64url') } };
    const nonce = randomBytes(32);
    const claims = eat.buildClaims({ ...c, nonce, ueid: c.ueid, eventLogs: [], software: [], keyCertification: { ...c.keyCertification, deviceKeyPublic: marshal(TPM2BPublic, fakePub) } });
    const q = await tpm.quote(AK_HANDLE, eat.expectedQuoteExtraData(claims), good.created.selection);
    const bytes = await eat.encodeEvidence(eat.withQuote(claims, { attest: q.attestBytes, signature: q.signatureBytes }), cose.softwareCoseSigner(soft.privateKey, { kid: publicName(fakePub) }));
    const r = A.appraise(bytes, { device: record, nonce });
    assert.deepEqual(failed(r), ['keyCertification', 'signature']);
    assert.equal(reason(r, 'keyCertification').expected, `device key Name ${record.deviceKeyName.toString('hex')}`);
  });

  it('PCR values in the claims that are not the quoted ones are contraindicated (pcrs), even when everything is signed', async () => {
    // A compromised OS can have the TPM quote and sign anything, but not make the quote cover
    // values the PCRs do not hold.
    const identity = await A.evidenceIdentity(tpm);
    const nonce = randomBytes(32);
    const real = good.created.claims.pcrs;
    const fake = real.map((b) => ({ ...b, values: b.values.map((v) => (v.pcr === 4 ? { ...v, digest: Buffer.alloc(32, 0x44) } : v)) }));
    const claims = eat.buildClaims({ nonce, ueid: identity.ueid, pcrs: fake, keyCertification: identity.keyCertification });
    const q = await tpm.quote(AK_HANDLE, eat.expectedQuoteExtraData(claims), good.created.selection);
    const bytes = await eat.encodeEvidence(eat.withQuote(claims, { attest: q.attestBytes, signature: q.signatureBytes }), A.tpmCoseSigner(tpm, { kid: identity.deviceKeyName }));
    const r = A.appraise(bytes, { device: record, nonce, reference: reference() });
    assert.deepEqual(failed(r), ['pcrs']);
    assert.match(reason(r, 'pcrs').expected!, /^pcrDigest [0-9a-f]{64}$/);
    assert.equal(r.appraisal.reasons!.some((c) => c.claim === 'pcrs.sha256:7'), false, 'no reference value is applied to values the quote does not vouch for');
  });

  it('a quote from another TPM is contraindicated (quote.signature), even inside evidence the enrolled device key signed', async () => {
    const sw2 = await startSwtpm();
    const tpm2 = await openTPM(sw2.uri);
    try {
      await provision(tpm2, { eks: ['ecc'] });
      await extendBoot(tpm2, boot);
      await extendIMA(tpm2, imaEntries);
      const identity = await A.evidenceIdentity(tpm);
      const nonce = randomBytes(32);
      const sel = good.created.selection;
      const { values } = await tpm2.pcrRead(sel);
      const banks = [{ hashAlg: TPM_ALG.SHA256, values: values.map((v) => ({ pcr: v.pcr, digest: v.digest })) }];
      const claims = eat.buildClaims({ nonce, ueid: identity.ueid, pcrs: banks, keyCertification: identity.keyCertification });
      const q = await tpm2.quote(AK_HANDLE, eat.expectedQuoteExtraData(claims), sel);
      const bytes = await eat.encodeEvidence(eat.withQuote(claims, { attest: q.attestBytes, signature: q.signatureBytes }), A.tpmCoseSigner(tpm, { kid: identity.deviceKeyName }));
      const r = A.appraise(bytes, { device: record, nonce });
      assert.deepEqual(failed(r), ['quote.signature']);
      // The enrolled keys named, but certified by the other TPM's AK (its TPM2_Certify of its own
      // device key): the certification does not verify with the enrolled AK.
      const foreignCert = (await A.evidenceIdentity(tpm2)).keyCertification;
      const n3 = randomBytes(32);
      const c3 = eat.buildClaims({ nonce: n3, ueid: identity.ueid, pcrs: good.created.claims.pcrs, keyCertification: { ...identity.keyCertification, attest: foreignCert.attest, signature: foreignCert.signature } });
      const q3 = await tpm.quote(AK_HANDLE, eat.expectedQuoteExtraData(c3), sel);
      const b3 = await eat.encodeEvidence(eat.withQuote(c3, { attest: q3.attestBytes, signature: q3.signatureBytes }), A.tpmCoseSigner(tpm, { kid: identity.deviceKeyName }));
      const r3 = A.appraise(b3, { device: record, nonce: n3 });
      assert.deepEqual(failed(r3), ['keyCertification']);
      assert.match(reason(r3, 'keyCertification').message, /does not verify with the enrolled AK/);
      // All of it from the other TPM. (swtpms copied from one manufactured state share the
      // endorsement seed, so the EK and UEID are the same; the AK and device key are not.)
      const all = await A.createEvidence(tpm2, { nonce, eventLog: false, imaLog: false });
      assert.deepEqual(failed(A.appraise(all.bytes, { device: record, nonce })), ['keyCertification', 'signature', 'quote.signature']);
    } finally {
      await closeSuite(sw2, tpm2);
    }
  });

  it('a boot log with an event inserted, removed or reordered fails replay, naming the event', async () => {
    const shim = boot.findIndex((e) => e.type === B.T.EFI_BOOT_SERVICES_APPLICATION);
    const extra: B.SynthEvent = { pcr: 4, type: B.T.EFI_BOOT_SERVICES_APPLICATION, data: B.imageLoadEvent(B.devicePath(B.filePath('\\EFI\\evil.efi'))), measured: randomBytes(64) };
    const cases: Array<[string, B.SynthEvent[], RegExp]> = [
      ['inserted', [...boot.slice(0, shim + 1), extra, ...boot.slice(shim + 1)], new RegExp(`event ${shim + 2} \\(EV_EFI_BOOT_SERVICES_APPLICATION\\) in PCR 4 was never extended`)],
      ['removed', boot.filter((_, i) => i !== shim), /PCR 4 is missing or altered/],
      ['reordered', [...boot.slice(0, shim), boot[shim + 1]!, boot[shim]!, ...boot.slice(shim + 2)], new RegExp(`event ${shim + 1} .* and event ${shim + 2} .* in PCR 4 are in the wrong order`)],
    ];
    for (const [what, events, message] of cases) {
      const e = await evidence({ eventLog: B.buildTCGLog(events, { banks: BANKS }) });
      const r = A.appraise(e.bytes, { device: record, nonce: e.nonce, reference: reference() });
      assert.equal(r.status, 'contraindicated', what);
      const x = reason(r, 'eventLogs.tcg-pc-client');
      assert.equal(x.status, 'contraindicated');
      assert.match(x.message, message, what);
      // Nothing of a log that does not replay is used: the boot reference values fail too.
      assert.equal(reason(r, 'eventLog').status, 'contraindicated');
      if (what === 'removed') assert.equal(reason(r, 'pcrs.sha256:4').actual, `${hex(B.expectedPCRs(boot, BANKS).get(`${B.ALG.SHA256}:4`)!)} (quoted)`);
    }
    // An IMA entry removed: named as the IMA log's fault.
    const e = await evidence({ imaLog: B.buildIMABinary(imaEntries.filter((_, i) => i !== 120)) });
    const r = A.appraise(e.bytes, { device: record, nonce: e.nonce });
    assert.equal(reason(r, 'eventLogs.ima').status, 'contraindicated');
    assert.match(reason(r, 'pcrs.sha256:10').message, /not what the event logs replay to/);
  });

  it('reference values that this machine does not meet are contraindicated, each naming what was expected', async () => {
    const base = referenceFor();
    const ev = base.eventLog as Record<string, unknown>;
    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
      ['db not allowed', { ...base, eventLog: { ...ev, db: { allow: (ev.db as { allow: string[] }).allow.slice(1) } } }, 'eventLog.db', /not allowed: [0-9a-f]{64}/],
      ['dbx lacks a revocation', { ...base, eventLog: { ...ev, dbx: { mustContain: ['ab'.repeat(32)] } } }, 'eventLog.dbx', /missing: (ab){32}/],
      ['boot application not allowed', { ...base, eventLog: { ...ev, bootApplications: { allow: ['cd'.repeat(32)] } } }, 'eventLog.bootApplications', /event \d+ [0-9a-f]{64}/],
      ['IMA file not allowed', { ...base, ima: { allow: (base.ima as { allow: unknown[] }).allow.slice(5) } }, 'ima.allow', /file-\d+/],
      ['IMA file denied', { ...base, ima: { deny: [{ path: '/usr/lib/tollgate/appraise/file-1.so' }] } }, 'ima.deny', /file-1\.so/],
      ['software missing', { ...base, software: { mustInclude: [{ target: 'agent-3.0.tar' }] } }, 'software[agent-3.0.tar]', /^not installed$/],
      ['software with another digest', { ...base, software: { mustInclude: [{ target: 'tools/rg', sha256: '00'.repeat(32) }] } }, 'software[tools/rg]', /^sha256 /],
      ['forbidden software', { ...base, software: { mustNotInclude: [{ target: 'tools/rg' }] } }, 'software[tools/rg]', /tools\/rg sha256/],
      ['golden PCR', { ...base, pcrs: { 'sha256:7': ['11'.repeat(32)] } }, 'pcrs.sha256:7', /^[0-9a-f]{64}$/],
      ['PCR not quoted', { ...base, pcrs: { 'sha256:16': ['00'.repeat(32)] } }, 'pcrs.sha256:16', /not quoted/],
      ['EK root', { ...base, ekRoots: ['Infineon', `sha256:${'ef'.repeat(32)}`] }, 'reference.ekRoots', /vendor IBM \(swtpm\)/],
    ];
    for (const [what, ref, claim, actual] of cases) {
      const r = A.appraise(good.bytes, { device: record, nonce: good.nonce, reference: A.parseReferenceValues(ref) });
      assert.equal(r.status, 'contraindicated', what);
      assert.deepEqual(failed(r), [claim], what);
      const x = reason(r, claim);
      assert.match(x.actual ?? '', actual, `${what}: ${x.actual}`);
      assert.ok(x.expected, `${what}: the expected value is named`);
    }
    // Files not on the allow list can be made a warning instead.
    const warn = A.appraise(good.bytes, { device: record, nonce: good.nonce, reference: A.parseReferenceValues({ ...base, ima: { allow: (base.ima as { allow: unknown[] }).allow.slice(5), unknown: 'warning' } }) });
    assert.equal(warn.status, 'warning');
    assert.equal(warn.appraisal.trustVector!.executables, 33);
  });

  it('Secure Boot required but off is contraindicated (another TPM that booted with it off)', async () => {
    const sw2 = await startSwtpm();
    const tpm2 = await openTPM(sw2.uri);
    try {
      await provision(tpm2, { eks: ['rsa'] });
      const rec2 = await deviceRecordFromTPM(tpm2, { caDir: sw2.caDir });
      const off = B.typicalBoot({ keys, secureBoot: false, seed: 'appraise' });
      await extendBoot(tpm2, off);
      const nonce = randomBytes(32);
      const e = await A.createEvidence(tpm2, { nonce, eventLog: B.buildTCGLog(off, { banks: BANKS }), imaLog: false });
      const r = A.appraise(e.bytes, { device: rec2, nonce, reference: A.parseReferenceValues({ version: 1, eventLog: { secureBoot: 'required' } }) });
      assert.deepEqual(failed(r), ['eventLog.secureBoot']);
      assert.equal(reason(r, 'eventLog.secureBoot').expected, 'enabled');
      assert.equal(reason(r, 'eventLog.secureBoot').actual, 'disabled');
      // And without a boot log at all, the requirement cannot be met.
      const none = await A.createEvidence(tpm2, { nonce, eventLog: false, imaLog: false });
      const r2 = A.appraise(none.bytes, { device: rec2, nonce, reference: A.parseReferenceValues({ version: 1, eventLog: { secureBoot: 'required' } }) });
      assert.deepEqual(failed(r2), ['eventLog']);
      assert.equal(reason(r2, 'eventLogs').status, 'none');
    } finally {
      await closeSuite(sw2, tpm2);
    }
  });

  it('IMA appraised incrementally: only new entries are sent, the stored state carries the rest', async () => {
    const first = await evidence();
    const r1 = A.appraise(first.bytes, { device: record, nonce: first.nonce, reference: reference() });
    assertAffirming(r1);
    const more = B.typicalIMA(40, { seed: 'later' }).slice(1).map((e) => B.imaEntry(e));
    await extendIMA(tpm, more);
    const log2 = B.buildIMABinary([...imaEntries, ...more]);
    const nonce = randomBytes(32);
    const e2 = await A.createEvidence(tpm, { nonce, eventLog: bootLog, imaLog: log2, imaOffset: 300, installed });
    assert.deepEqual(e2.logs.find((l) => l.format === 'ima'), { format: 'ima', source: '(given)', bytes: log2.length - imaLog.length, firstEvent: 300, events: 39 });
    const files = eventlog.parseIMABinary(log2).entries.slice(300).map((x) => ({ digest: `${x.fields!.digestAlg}:${hex(x.fields!.digest)}` }));
    const ref = { ...referenceFor(), ima: { allow: [...(referenceFor().ima as { allow: unknown[] }).allow, ...files] } };
    const r2 = A.appraise(e2.bytes, { device: record, nonce, previous: r1.next!, reference: A.parseReferenceValues(ref) });
    assertAffirming(r2);
    assert.match(reason(r2, 'eventLogs').message, /replayed before in this boot\) and the IMA log \(39 new entries, 339 in all\)/);
    assert.match(reason(r2, 'ima.allow').message, /\(39\)/);
    // Without the stored state the tail alone cannot be appraised.
    const r3 = A.appraise(e2.bytes, { device: record, nonce, reference: A.parseReferenceValues(ref) });
    assert.match(reason(r3, 'eventLogs.ima').message, /start at index 300, but 0 entries were appraised before/);
    // An IMA measurement violation is a warning (unsafe runtime), not an affirmation.
    const viol = B.imaEntry({ template: 'ima-ng', name: '/var/log/busy', violation: true });
    await extendIMA(tpm, [viol]);
    const n4 = randomBytes(32);
    const e4 = await A.createEvidence(tpm, { nonce: n4, eventLog: bootLog, imaLog: B.buildIMABinary([...imaEntries, ...more, viol]), imaOffset: 339 });
    const r4 = A.appraise(e4.bytes, { device: record, nonce: n4, previous: r2.next! });
    assert.equal(r4.status, 'warning', A.renderAppraisal(r4));
    assert.match(reason(r4, 'eventLogs.ima').message, /1 measurement violation/);
  });

  it('a PCR extended after the logs were taken is contraindicated, naming the PCR and the expected value', async () => {
    const before = await evidence({ imaLog: false, pcrs: 'sha256:0,1,2,3,4,5,6,7' });
    assertAffirming(A.appraise(before.bytes, { device: record, nonce: before.nonce, reference: A.parseReferenceValues({ ...referenceFor(), ima: undefined }) }));
    await tpm.pcrExtend(7, BANKS.map((b) => ({ hashAlg: b, digest: B.h(b, Buffer.from('an unlogged change')) })));
    const e = await evidence({ imaLog: false, pcrs: 'sha256:0,1,2,3,4,5,6,7' });
    const r = A.appraise(e.bytes, { device: record, nonce: e.nonce, reference: A.parseReferenceValues({ ...referenceFor(), ima: undefined }) });
    assert.equal(r.status, 'contraindicated');
    const replayed = B.expectedPCRs(boot, BANKS).get(`${B.ALG.SHA256}:7`)!.toString('hex');
    const x = reason(r, 'pcrs.sha256:7');
    assert.equal(x.expected, `${replayed} (replayed from the logs)`);
    assert.match(reason(r, 'eventLogs.tcg-pc-client').message, /PCRs? sha256:7 differ/);
    // The reference value names it too (the second reason for the same PCR).
    const golden = r.appraisal.reasons!.filter((c) => c.claim === 'pcrs.sha256:7');
    assert.equal(golden.length, 2);
    assert.equal(golden[1]!.expected, `one of: ${replayed}`);
    assert.match(A.renderAppraisal(r), /FAIL {2}pcrs\.sha256:7: .*\n {10}expected: [0-9a-f]{64} \(replayed from the logs\)\n {10}actual: {3}[0-9a-f]{64} \(quoted\)/);
  });
});
