// Event logs against a real TPM (swtpm): a synthesised measured-boot log and IMA logs are
// extended into the TPM as firmware and the kernel would, the TPM quotes, and the replay must
// match the PCR digest inside the signed quote. Inserted, removed and reordered events fail with
// the event (or, for a removal, the PCR) named; IMA logs are appraised in steps from saved state.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { openTPM, TPM_ALG, eventlog, parsePCRList, type TPM, type Transport } from '../../hardware/index.ts';
import { provision, AK_HANDLE } from '../../hardware/provision.ts';
import { quote, type QuoteResult } from '../../hardware/quote.ts';
import { publicKeyOf } from '../../hardware/keys.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { closeSuite } from '../tpm/helpers.ts';
import * as B from '../fixtures/eventlog/builder.ts';

const { parseTCGLog, parseIMABinary, parseIMAAscii, verifyEventLogs, PCRState, EventLogError } = eventlog;
const BANKS = [B.ALG.SHA1, B.ALG.SHA256];
const TPM2_CC_STARTUP = 0x144;

let sw: Swtpm;
let tpm: TPM;
let ak: ReturnType<typeof publicKeyOf>;
let deviceKey: ReturnType<typeof publicKeyOf>;
let pcr0AtStartup: Buffer;

/** Sends TPM2_Startup at locality 3, as a platform whose CRTM starts the TPM from there. */
function startAtLocality3(inner: Transport): Transport {
  return {
    uri: inner.uri,
    ...(inner.powerOn ? { powerOn: () => inner.powerOn!() } : {}),
    close: () => inner.close(),
    async send(cmd, opts) {
      if (Buffer.from(cmd).readUInt32BE(6) !== TPM2_CC_STARTUP || !inner.setLocality) return inner.send(cmd, opts);
      await inner.setLocality(3);
      try {
        return await inner.send(cmd, opts);
      } finally {
        await inner.setLocality(0);
      }
    },
  };
}

before(async () => {
  sw = await startSwtpm();
  tpm = await openTPM(sw.uri, { wrapTransport: startAtLocality3 });
  pcr0AtStartup = (await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [0] }])).values[0]!.digest;
  const r = await provision(tpm, { eks: [] });
  ak = publicKeyOf(r.ak.public);
  deviceKey = publicKeyOf(r.deviceKey.public);
});

after(() => closeSuite(sw, tpm));

async function extendEvents(events: readonly B.SynthEvent[]): Promise<void> {
  for (const e of events) {
    if (e.type === B.T.NO_ACTION) continue;
    await tpm.pcrExtend(e.pcr, BANKS.map((b) => ({ hashAlg: b, digest: B.extendedDigest(e, b) })));
  }
}

async function extendIMA(entries: readonly B.BuiltIMA[], rule: B.KernelRule): Promise<void> {
  for (const e of entries) await tpm.pcrExtend(e.pcr, BANKS.map((b) => ({ hashAlg: b, digest: B.imaExtend(e, b, rule) })));
}

function mismatch(kind: string, check: (d: eventlog.MismatchDiagnosis) => void = () => {}) {
  return (e: unknown) => {
    assert.ok(e instanceof EventLogError, String(e));
    assert.equal(e.code, 'EVENTLOG_REPLAY_MISMATCH', e.message);
    const d = e.details!.diagnosis as eventlog.MismatchDiagnosis;
    assert.equal(d.kind, kind, e.message);
    check(d);
    return true;
  };
}

const boot = B.typicalBoot({ startupLocality: 3, extra: 12, seed: 'tpm' });
const ima = B.typicalIMA(200, { violationAt: 50, seed: 'tpm' }).map((e) => B.imaEntry(e));
const SEL = 'sha256:0,1,2,3,4,5,6,7,8,9,10+sha1:0,1,2,3,4,5,6,7,8,9,10';
let q: QuoteResult;

function check(over: Partial<eventlog.VerifyEventLogsInput> & { quote?: QuoteResult } = {}) {
  const qq = over.quote ?? q;
  return verifyEventLogs({ ak, attest: qq.attestBytes, signature: qq.signatureBytes, nonce: qq.nonce, ...over });
}

const tcgOf = (events: readonly B.SynthEvent[]) => parseTCGLog(B.buildTCGLog(events, { banks: BANKS }));
const imaOf = (entries: readonly B.BuiltIMA[], first = 0) => parseIMABinary(B.buildIMABinary(entries), { firstIndex: first }).entries;

describe('event logs against a swtpm quote', () => {
  it('replay a boot log (StartupLocality 3) and an IMA log to the PCR digest inside the quote', async () => {
    // swtpm started at locality 3 begins PCR 0 at 0…03, as the log's StartupLocality event says.
    assert.equal(pcr0AtStartup.toString('hex'), '00'.repeat(31) + '03');
    await extendEvents(boot);
    await extendIMA(ima, 'bank-hash');
    q = await quote(tpm, { akHandle: AK_HANDLE, nonce: randomBytes(32), selection: parsePCRList(SEL) });
    const r = check({ tcg: tcgOf(boot), ima: imaOf(ima) });
    assert.equal(r.match.imaMode, 'bank-hash');
    assert.deepEqual(r.match.quirks, []);
    assert.deepEqual(r.ima!.violations, [50]);
    assert.deepEqual(r.ima!.untrusted, []);
    assert.equal(r.state.imaEntries, 200);
    // The ascii form of the same log, too.
    assert.equal(check({ tcg: tcgOf(boot), ima: parseIMAAscii(B.buildIMAAscii(ima)).entries }).match.imaMode, 'bank-hash');
    // The values the replay produced are the ones the TPM reported with the quote.
    for (const v of q.pcrs) assert.deepEqual(r.state.value(v.hash, v.pcr), v.digest, `PCR ${v.hash}:${v.pcr}`);
  });

  it('tell the older kernels\' rule (SHA-1 template hash zero-padded) from the newer one', async () => {
    const old = B.typicalIMA(30, { pcr: 11, seed: 'old' }).map((e) => B.imaEntry(e));
    await extendIMA(old, 'sha1-padded');
    const qq = await quote(tpm, { akHandle: AK_HANDLE, nonce: randomBytes(16), selection: parsePCRList('sha256:11+sha1:11') });
    const r = check({ quote: qq, ima: imaOf(old) });
    assert.equal(r.match.imaMode, 'sha1-padded');
    assert.equal(r.state.imaMode, 'sha1-padded');
    // Quoting only SHA-1 does not tell the rules apart: it stays open.
    const q1 = await quote(tpm, { akHandle: AK_HANDLE, nonce: randomBytes(16), selection: parsePCRList('sha1:11') });
    assert.equal(check({ quote: q1, ima: imaOf(old) }).state.imaMode, undefined);
  });

  it('name an inserted, a removed and a reordered boot event', () => {
    const shim = boot.findIndex((e) => e.type === B.T.EFI_BOOT_SERVICES_APPLICATION);
    const seqOf = (i: number) => i + 1; // the Spec ID header is event 0
    const extra: B.SynthEvent = { pcr: 4, type: B.T.EFI_BOOT_SERVICES_APPLICATION, data: B.imageLoadEvent(B.devicePath(B.filePath('\\EFI\\evil.efi'))), measured: randomBytes(64) };
    const inserted = [...boot.slice(0, shim + 1), extra, ...boot.slice(shim + 1)];
    for (const claimed of [undefined, q.pcrs]) {
      assert.throws(() => check({ tcg: tcgOf(inserted), ima: imaOf(ima), ...(claimed ? { claimed } : {}) }), mismatch('inserted', (d) => {
        assert.deepEqual(d.kind === 'inserted' && d.event, { source: 'tcg', index: seqOf(shim + 1), pcr: 4, what: 'EV_EFI_BOOT_SERVICES_APPLICATION' });
      }));
    }
    const removed = boot.filter((_, i) => i !== shim);
    assert.throws(() => check({ tcg: tcgOf(removed), ima: imaOf(ima), claimed: q.pcrs }), (e: unknown) => {
      assert.ok(e instanceof EventLogError && e.code === 'EVENTLOG_REPLAY_MISMATCH');
      assert.deepEqual(e.details!.differing, ['sha256:4', 'sha1:4']);
      const d = e.details!.diagnosis as eventlog.MismatchDiagnosis;
      assert.equal(d.kind, 'missing-or-altered');
      assert.deepEqual(d.kind === 'missing-or-altered' && d.pcrs, [4]);
      assert.match(e.message, /PCRs sha256:4, sha1:4 differ.*PCR 4 is missing or altered/);
      return true;
    });
    // Without the device's PCR values the digest alone cannot say which PCR lost an event.
    assert.throws(() => check({ tcg: tcgOf(removed), ima: imaOf(ima) }), mismatch('unlocated'));
    const grub = shim + 1;
    const reordered = [...boot.slice(0, shim), boot[grub]!, boot[shim]!, ...boot.slice(grub + 1)];
    assert.throws(() => check({ tcg: tcgOf(reordered), ima: imaOf(ima), claimed: q.pcrs }), mismatch('reordered', (d) => {
      assert.deepEqual(d.kind === 'reordered' && d.events.map((x) => x.index), [seqOf(shim), seqOf(shim + 1)]);
    }));
    // Claimed values that the quote does not vouch for are ignored.
    const forged = q.pcrs.map((p) => ({ ...p, digest: Buffer.alloc(p.digest.length, 7) }));
    assert.throws(() => check({ tcg: tcgOf(removed), ima: imaOf(ima), claimed: forged }), mismatch('unlocated'));
    // The untampered log still verifies.
    check({ tcg: tcgOf(boot), ima: imaOf(ima) });
  });

  it('name an inserted, a removed and a reordered IMA entry, and one whose data was changed', async () => {
    const tcg = tcgOf(boot);
    const extra = B.imaEntry({ template: 'ima-ng', name: '/tmp/dropper' });
    assert.throws(() => check({ tcg, ima: imaOf([...ima.slice(0, 100), extra, ...ima.slice(100)]) }), mismatch('inserted', (d) => {
      assert.deepEqual(d.kind === 'inserted' && d.event, { source: 'ima', index: 100, pcr: 10, what: '/tmp/dropper' });
    }));
    assert.throws(() => check({ tcg, ima: imaOf(ima.filter((_, i) => i !== 120)), claimed: q.pcrs }), mismatch('missing-or-altered', (d) => {
      assert.deepEqual(d.kind === 'missing-or-altered' && d.pcrs, [10]);
    }));
    assert.throws(() => check({ tcg, ima: imaOf([...ima.slice(0, 30), ima[31]!, ima[30]!, ...ima.slice(32)]) }), mismatch('reordered', (d) => {
      assert.deepEqual(d.kind === 'reordered' && d.events.map((x) => x.index), [30, 31]);
    }));
    // Data changed under an unchanged template hash. The SHA-256 bank is extended with the hash
    // of the data, so the replay fails and names the entry whose data does not match its hash…
    const forged = Buffer.from(B.buildIMABinary(ima));
    const at = forged.indexOf(Buffer.from('file-7 with space'));
    forged[at] = 'F'.charCodeAt(0);
    assert.throws(() => check({ tcg, ima: parseIMABinary(forged).entries, claimed: q.pcrs }), mismatch('missing-or-altered', (d) => {
      assert.deepEqual(d.kind === 'missing-or-altered' && d.suspects.map((x) => x.index), [7]);
    }));
    // …while a quote of SHA-1 only (extended with the logged hash) matches, and the entry is
    // reported untrusted.
    const q1 = await quote(tpm, { akHandle: AK_HANDLE, nonce: randomBytes(16), selection: parsePCRList('sha1:10') });
    const r = check({ quote: q1, ima: parseIMABinary(forged).entries });
    assert.deepEqual(r.ima!.untrusted, [7]);
  });

  it('appraise IMA entries in steps from the saved state, whole log re-sent or not, as one full replay would', async () => {
    const steps = B.typicalIMA(100, { pcr: 12, seed: 'steps' }).map((e) => B.imaEntry(e));
    const sel = parsePCRList('sha256:12+sha1:12');
    await extendIMA(steps.slice(0, 60), 'bank-hash');
    const q1 = await quote(tpm, { akHandle: AK_HANDLE, nonce: randomBytes(20), selection: sel });
    const first = check({ quote: q1, ima: imaOf(steps.slice(0, 60)) });
    const saved = first.state.serialize();
    await extendIMA(steps.slice(60), 'bank-hash');
    const q2 = await quote(tpm, { akHandle: AK_HANDLE, nonce: randomBytes(20), selection: sel });
    const onlyNew = check({ quote: q2, state: PCRState.deserialize(saved), ima: imaOf(steps.slice(60), 60) });
    const resent = check({ quote: q2, state: PCRState.deserialize(saved), ima: imaOf(steps) });
    const full = check({ quote: q2, ima: imaOf(steps) });
    assert.equal(onlyNew.ima!.skipped, 0);
    assert.equal(resent.ima!.skipped, 60);
    for (const r of [onlyNew, resent]) {
      assert.equal(r.state.imaEntries, 100);
      for (const alg of BANKS) assert.deepEqual(r.state.value(alg, 12), full.state.value(alg, 12));
    }
    // The saved state from the first quote does not verify against the second quote by itself.
    assert.throws(() => check({ quote: q2, state: PCRState.deserialize(saved) }), mismatch('unlocated'));
    // A new entry inserted among the new ones is named with its index in the whole log.
    const extra = B.imaEntry({ pcr: 12, template: 'ima-ng', name: '/tmp/late' });
    assert.throws(() => check({ quote: q2, state: PCRState.deserialize(saved), ima: imaOf([...steps.slice(60, 70), extra, ...steps.slice(70)], 60) }), mismatch('inserted', (d) => {
      assert.deepEqual(d.kind === 'inserted' && d.event, { source: 'ima', index: 70, pcr: 12, what: '/tmp/late' });
    }));
  });

  it('refuse the quote itself first: another nonce, another key', () => {
    assert.throws(() => check({ tcg: tcgOf(boot), ima: imaOf(ima), nonce: randomBytes(32) }), (e: unknown) => (e as { code?: string }).code === 'QUOTE_NONCE_MISMATCH');
    assert.throws(() => check({ tcg: tcgOf(boot), ima: imaOf(ima), ak: deviceKey }), (e: unknown) => (e as { code?: string }).code === 'QUOTE_SIGNATURE_INVALID');
  });
});

/** A swtpm control-port command (u32 command, payload) answered by a u32 result. */
function control(port: number, cmd: number, payload: Buffer = Buffer.alloc(0)): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    const head = Buffer.alloc(4);
    head.writeUInt32BE(cmd);
    let got = Buffer.alloc(0);
    s.on('data', (d) => { got = Buffer.concat([got, d]); if (got.length >= 4) { s.end(); resolve(got.readUInt32BE(0)); } });
    s.on('error', reject);
    s.write(Buffer.concat([head, payload]));
  });
}

describe('an H-CRTM measured before TPM2_Startup', () => {
  it('starts PCR 0 at locality 4, as replay assumes, and the quote matches', async () => {
    const hsw = await startSwtpm();
    let htpm: TPM | undefined;
    try {
      // _TPM_Init, then _TPM_Hash_Start / _TPM_Hash_Data / _TPM_Hash_End (control commands 2, 6, 7, 8).
      const code = Buffer.from('H-CRTM code measured by the platform');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(code.length);
      for (const [cmd, payload] of [[2, Buffer.alloc(4)], [6, undefined], [7, Buffer.concat([len, code])], [8, undefined]] as const) {
        assert.equal(await control(hsw.ctrlPort, cmd, payload), 0, `control command ${cmd}`);
      }
      const events: B.SynthEvent[] = [
        { pcr: 0, type: B.T.EFI_HCRTM_EVENT, data: Buffer.from('HCRTM', 'latin1'), measured: code },
        ...B.typicalBoot({ seed: 'hcrtm' }).filter((e) => e.pcr === 0 || e.pcr === 7),
      ];
      htpm = await openTPM(hsw.uri);
      const [first, ...rest] = events;
      void first;
      for (const e of rest) await htpm.pcrExtend(e.pcr, BANKS.map((b) => ({ hashAlg: b, digest: B.extendedDigest(e, b) })));
      const r = await provision(htpm, { eks: [] });
      const hq = await quote(htpm, { akHandle: AK_HANDLE, nonce: randomBytes(32), selection: parsePCRList('sha256:0,7+sha1:0,7') });
      const log = parseTCGLog(B.buildTCGLog(events, { banks: BANKS }));
      const v = verifyEventLogs({ ak: publicKeyOf(r.ak.public), attest: hq.attestBytes, signature: hq.signatureBytes, nonce: hq.nonce, tcg: log });
      assert.deepEqual(v.match.quirks, []);
      for (const [k, val] of B.expectedPCRs(events, BANKS, 4)) {
        const [a, p] = k.split(':').map(Number) as [number, number];
        assert.deepEqual(v.state.value(a, p), val, `PCR ${k}`);
      }
    } finally {
      await htpm?.close();
      await hsw.stop();
    }
  });
});
