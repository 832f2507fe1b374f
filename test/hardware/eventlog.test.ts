// Event logs without a TPM: real measured-boot logs (go-attestation, tpm2-tools, keylime) and
// synthesised ones, cross-checked event by event and PCR by PCR against tpm2_eventlog; a real
// Windows quote checked against the replay of its log; the ExitBootServices workaround against
// the PCR 5 values go-attestation records; digest-checked decoding; real and synthesised IMA logs;
// hostile input; and the saved replay state.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventlog, unmarshal, TPMTPublic, TPM_ALG, parsePCRList } from '../../hardware/index.ts';
import * as B from '../fixtures/eventlog/builder.ts';
import { REAL, runEventlog, toolExtendsNoAction } from '../fixtures/eventlog/tool.ts';

const { parseTCGLog, replayTCG, decodeTCGLog, bootSummary, parseIMAAscii, parseIMABinary, replayIMA, matchQuote, PCRState, EventLogError, EV } = eventlog;

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'tg-eventlog-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function code(c: string) {
  return (e: unknown) => {
    assert.ok(e instanceof EventLogError, `expected EventLogError ${c}, got ${String(e)}`);
    assert.equal(e.code, c, e.message);
    return true;
  };
}

const real = (p: string) => readFileSync(join(REAL, p));
const goAttestation = ['coreos_36_shielded_vm_no_secure_boot_eventlog', 'crypto_agile_eventlog', 'ebs_event_missing_eventlog', 'sb_cert_eventlog', 'ubuntu_2104_shielded_vm_no_secure_boot_eventlog'].map((f) => `go-attestation/${f}`);
const tpm2tools = readdirSync(join(REAL, 'tpm2-tools')).filter((f) => f.endsWith('.bin')).map((f) => `tpm2-tools/${f}`);
const keylime = ['keylime/binary_bios_measurements', 'keylime/binary_bios_measurements-secureboot', 'keylime/mb_log.bin'];

/** The PCR values tpm2_eventlog computes for `log`: ours, except that tpm2-tools before 5.6
 * also extends EV_NO_ACTION events and ignores StartupLocality (fixed in 5.6). */
function asTool(log: eventlog.TCGLog): eventlog.PCRState {
  if (!toolExtendsNoAction()) return replayTCG(log);
  return replayTCG({ ...log, events: log.events.map((e) => (e.seq > 0 && e.type === EV.NO_ACTION ? { ...e, type: EV.POST_CODE } : e)) });
}

/** Our replay and events equal tpm2_eventlog's. Returns the PCRs the two differ on only because
 * of the tool's EV_NO_ACTION handling. */
function crossCheck(file: string, bytes: Buffer): string[] {
  const log = parseTCGLog(bytes);
  const tool = runEventlog(file);
  assert.equal(tool.status, 0, `tpm2_eventlog failed on ${file}: ${tool.stderr}`);
  assert.ok(tool.pcrs.size > 0, `${file}: no pcrs section`);
  const ours = replayTCG(log);
  const toolLike = asTool(log);
  const onlyNoAction: string[] = [];
  for (const [k, hex] of tool.pcrs) {
    const [alg, pcr] = k.split(':').map(Number) as [number, number];
    assert.equal(toolLike.value(alg, pcr)?.toString('hex'), hex, `${file}: PCR ${k}`);
    if (ours.value(alg, pcr)!.toString('hex') !== hex) onlyNoAction.push(k);
  }
  // Every PCR the log extends is in the tool's list (and untouched ones keep their reset value).
  for (const e of log.events) {
    if (e.type === EV.NO_ACTION) continue;
    for (const d of e.digests) if (d.alg !== TPM_ALG.SM3_256) assert.ok(tool.pcrs.has(`${d.alg}:${e.pcr}`), `${file}: the tool has no PCR ${d.alg}:${e.pcr}`);
  }
  assert.equal(tool.events.length, log.events.length, `${file}: event count`);
  for (const [i, t] of tool.events.entries()) {
    const e = log.events[i]!;
    assert.equal(t.num, e.seq);
    assert.equal(t.pcr, e.pcr, `${file}: event ${i} PCR`);
    if (!t.type.startsWith('0x')) assert.equal(t.type, eventlog.eventTypeName(e.type), `${file}: event ${i} type`);
    if (t.unicodeName !== undefined) {
      const d = eventlog.decodeTCGEvent(e);
      assert.equal(d.info.kind === 'variable' ? d.info.name : undefined, t.unicodeName, `${file}: event ${i} variable name`);
    }
  }
  return onlyNoAction;
}

describe('real measured-boot logs', () => {
  it('replay to the PCR values tpm2_eventlog computes, with the same events, for every log it reads', () => {
    const checked: string[] = [];
    for (const f of [...goAttestation, ...tpm2tools, ...keylime]) {
      const differ = crossCheck(join(REAL, f), real(f));
      if (f === 'keylime/binary_bios_measurements' && toolExtendsNoAction()) {
        // Its PCR 0 starts at locality 3 (StartupLocality event); tpm2-tools 5.4 extends that
        // EV_NO_ACTION event's zero digest instead. Ours follows the spec: the reset value is 0…03.
        assert.deepEqual(differ.sort(), ['11:0', '4:0']);
        const log = parseTCGLog(real(f));
        let v: Buffer = Buffer.alloc(32);
        v[31] = 3;
        for (const e of log.events) if (e.pcr === 0 && e.type !== EV.NO_ACTION) v = B.pcrExtendValue(B.ALG.SHA256, v, eventlog.eventDigest(e, B.ALG.SHA256)!);
        assert.deepEqual(replayTCG(log).value(B.ALG.SHA256, 0), v);
      } else {
        assert.deepEqual(differ, [], `${f}: our replay differs from tpm2_eventlog`);
      }
      checked.push(f);
    }
    assert.equal(checked.length, 19);
  });

  it('parse the logs tpm2_eventlog 5.4 cannot: Windows events at PCR 0xffffffff, a log of only StartupLocality', () => {
    const win = parseTCGLog(real('go-attestation/option_rom_eventlog'));
    assert.equal(win.format, 'sha1');
    const odd = win.events.filter((e) => e.pcr === 0xffffffff);
    assert.ok(odd.length > 0 && odd.every((e) => e.type === EV.NO_ACTION));
    const s = replayTCG(win);
    // Nothing lands beyond PCR 23.
    for (let p = 24; p < 32; p++) assert.deepEqual(s.value(TPM_ALG.SHA1, p), Buffer.alloc(20));
    const loc = replayTCG(parseTCGLog(real('go-attestation/short_no_action_eventlog')));
    assert.equal(loc.value(TPM_ALG.SHA1, 0)!.toString('hex'), '00'.repeat(19) + '03');
  });

  it('verify go-attestation\'s real Windows quote against the PCR digest of the replayed log, and refuse an altered log', () => {
    const j = JSON.parse(real('go-attestation/windows_gcp_shielded_vm.json').toString('utf8')) as {
      AK: { Public: string }; Quote: { Nonce: string; Quote: string; Signature: string }; Log: { Raw: string; PCRs: Array<{ Index: number; Digest: string }> };
    };
    const ak = unmarshal(TPMTPublic, Buffer.from(j.AK.Public, 'base64'));
    const raw = Buffer.from(j.Log.Raw, 'base64');
    const input = { ak, attest: Buffer.from(j.Quote.Quote, 'base64'), signature: Buffer.from(j.Quote.Signature, 'base64'), nonce: Buffer.from(j.Quote.Nonce, 'base64') };
    const r = eventlog.verifyEventLogs({ ...input, tcg: parseTCGLog(raw) });
    assert.equal(r.quote.hashAlg, TPM_ALG.SHA1);
    assert.equal(r.match.values.length, 24);
    assert.deepEqual(r.match.quirks, []);
    // The PCR values the dump recorded are the ones we replayed.
    for (const p of j.Log.PCRs) assert.equal(r.state.value(TPM_ALG.SHA1, p.Index)!.toString('base64'), p.Digest);
    // One digest byte changed: the quote no longer matches.
    const log = parseTCGLog(Buffer.from(raw));
    const app = log.events.find((e) => e.type === EV.EFI_BOOT_SERVICES_APPLICATION)!;
    app.digests[0]!.digest[0]! ^= 1;
    assert.throws(() => eventlog.verifyEventLogs({ ...input, tcg: log }), code('EVENTLOG_REPLAY_MISMATCH'));
  });

  it('apply the missing-ExitBootServices workaround only when the quoted PCR 5 needs it (go-attestation\'s PCR 5)', () => {
    const log = parseTCGLog(real('go-attestation/ebs_event_missing_eventlog'));
    assert.equal(bootSummary(decodeTCGLog(log)).exitBootServices.missing, true);
    const state = replayTCG(log);
    // PCR 5 as go-attestation's TestEBSVerifyWorkaround records it.
    const pcr5 = Buffer.from('3124580 8d6d35849bc394f6343f2b3ff908ed5e3'.replace(/ /g, ''), 'hex');
    const quoted = { selection: parsePCRList('sha1:5'), pcrDigest: createHash('sha256').update(pcr5).digest(), hashAlg: TPM_ALG.SHA256 };
    assert.throws(() => matchQuote(state, quoted), code('EVENTLOG_REPLAY_MISMATCH'));
    const m = matchQuote(state, quoted, { tcg: log });
    assert.equal(m.quirks.length, 1);
    assert.match(m.quirks[0]!, /^missing-exit-boot-services: .*Invocation \+ Returned with Success/);
    assert.deepEqual(m.state.value(TPM_ALG.SHA1, 5), pcr5);
    assert.deepEqual(m.state.quirks, m.quirks);
    // The workaround never applies to a PCR 5 the log already explains.
    const plain = { ...quoted, pcrDigest: createHash('sha256').update(state.value(TPM_ALG.SHA1, 5)!).digest() };
    assert.deepEqual(matchQuote(state, plain, { tcg: log }).quirks, []);
  });

  it('decode Secure Boot, its databases, boot variables, applications, separators and ExitBootServices', () => {
    const ubuntu = bootSummary(decodeTCGLog(parseTCGLog(real('go-attestation/ubuntu_2104_shielded_vm_no_secure_boot_eventlog'))));
    assert.deepEqual(ubuntu.secureBoot, { enabled: false, seq: 3 });
    assert.deepEqual(Object.keys(ubuntu.databases).sort(), ['KEK', 'PK', 'db', 'dbx']);
    const dbx = ubuntu.databases.dbx!.signatureLists;
    assert.equal(dbx.filter((l) => l.typeName === 'sha256').flatMap((l) => l.signatures).length, 183);
    assert.ok(dbx.filter((l) => l.typeName === 'x509').every((l) => l.signatures[0]!.certificate?.subject));
    assert.match(ubuntu.applications[0]!.devicePath.text, /^PciRoot\(0x0\)\/Pci\(0x3,0x0\)\/Scsi\(0x1,0x0\)\/HD\(15,GPT,[0-9a-f-]{36},0x2800,0x35000\)\/\\EFI\\ubuntu\\shimx64\.efi$/);
    assert.equal(ubuntu.applications[0]!.devicePath.file, '\\EFI\\ubuntu\\shimx64.efi');
    assert.equal(ubuntu.exitBootServices.missing, false);
    assert.equal(ubuntu.separators.filter((s) => s.pcr <= 7 && !s.error && s.trusted).length, 8);
    assert.deepEqual(ubuntu.bootOrder?.order, [3, 0, 1, 2]);
    assert.equal(ubuntu.bootOptions.find((o) => o.name === 'Boot0003')?.option.description, 'ubuntu');

    const sb = bootSummary(decodeTCGLog(parseTCGLog(real('go-attestation/sb_cert_eventlog'))));
    assert.equal(sb.secureBoot?.enabled, true);
    assert.ok(sb.authorities.some((a) => a.trusted && /Microsoft Corporation UEFI CA 2011/.test(a.entry.certificate?.subject ?? '')));
    const win = bootSummary(decodeTCGLog(parseTCGLog(real('go-attestation/option_rom_eventlog'))));
    // Windows separates PCRs 12-14 with "WBCL": not an error separator.
    assert.ok(win.separators.some((s) => s.pcr === 12) && win.separators.every((s) => !s.error));
    const edk2 = bootSummary(decodeTCGLog(parseTCGLog(real('tpm2-tools/event-bootorder.bin'))));
    assert.deepEqual(edk2.bootOrder, { seq: edk2.bootOrder!.seq, order: [1, 0, 2], trusted: false });
  });

  it('trust event data only when its type is data-hashed and every digest matches', () => {
    for (const f of [...goAttestation, ...tpm2tools, ...keylime, 'go-attestation/option_rom_eventlog']) {
      const log = parseTCGLog(real(f));
      for (const d of decodeTCGLog(log)) {
        const e = log.events[d.seq]!;
        if (d.trusted) {
          for (const x of e.digests) if (x.alg !== TPM_ALG.SM3_256) assert.deepEqual(B.h(x.alg, e.data), x.digest, `${f} event ${d.seq}`);
        }
        // Images are identified by their Authenticode hash, never by the logged path.
        if (d.type === EV.EFI_BOOT_SERVICES_APPLICATION || d.type === EV.IPL || d.type === EV.EFI_PLATFORM_FIRMWARE_BLOB) assert.equal(d.trusted, false);
      }
    }
    // EDK2 hashes Boot#### contents only: their names are not covered, so they are not trusted.
    const edk2 = decodeTCGLog(parseTCGLog(real('tpm2-tools/event-bootorder.bin')));
    assert.ok(edk2.filter((d) => d.type === EV.EFI_VARIABLE_BOOT).every((d) => d.digestCheck === 'variable-data' && !d.trusted));
    // Forged data under a real digest: SecureBoot flipped from 0 to 1 in a real log.
    const bytes = Buffer.from(real('go-attestation/ubuntu_2104_shielded_vm_no_secure_boot_eventlog'));
    const log = parseTCGLog(bytes);
    const ev = log.events[3]!;
    assert.equal(ev.data[ev.data.length - 1], 0);
    ev.data[ev.data.length - 1] = 1;
    const s = bootSummary(decodeTCGLog(log));
    assert.equal(s.secureBoot, undefined);
    assert.ok(s.mismatched.includes(3) && s.untrusted.includes(3));
    // The event type is in no digest: relabel the shim load as an EFI action and the replay is the
    // same, but the (non-matching) data is still not trusted.
    const relabelled = parseTCGLog(real('go-attestation/ubuntu_2104_shielded_vm_no_secure_boot_eventlog'));
    const shim = relabelled.events.find((e) => e.type === EV.EFI_BOOT_SERVICES_APPLICATION)!;
    shim.type = EV.EFI_ACTION;
    assert.equal(eventlog.decodeTCGEvent(shim).trusted, false);
    assert.deepEqual(replayTCG(relabelled).value(TPM_ALG.SHA256, 4), replayTCG(parseTCGLog(real('go-attestation/ubuntu_2104_shielded_vm_no_secure_boot_eventlog'))).value(TPM_ALG.SHA256, 4));
  });
});

describe('synthesised measured-boot logs', () => {
  it('are accepted by tpm2_eventlog, in both formats, with the same PCRs and events as our replay and the builder\'s', () => {
    const banks = [B.ALG.SHA1, B.ALG.SHA256, B.ALG.SHA384];
    for (const format of ['crypto-agile', 'sha1'] as const) {
      for (const opts of [{}, { secureBoot: false, ebs: false, edk2BootVariables: false, extra: 40 }]) {
        const events = B.typicalBoot({ ...opts, seed: `${format}${JSON.stringify(opts)}` });
        const bytes = B.buildTCGLog(events, { format, banks });
        const file = join(dir, `synth-${format}.bin`);
        writeFileSync(file, bytes);
        assert.deepEqual(crossCheck(file, bytes), []);
        const tool = runEventlog(file);
        assert.equal(tool.stderr, '', 'tpm2_eventlog warns about a digest we synthesised');
        const expected = B.expectedPCRs(events, format === 'sha1' ? [B.ALG.SHA1] : banks);
        assert.equal(tool.pcrs.size, expected.size);
        for (const [k, v] of expected) assert.equal(tool.pcrs.get(k), v.toString('hex'), `${format} PCR ${k}`);
        const log = parseTCGLog(bytes);
        assert.equal(log.format, format);
        const s = bootSummary(decodeTCGLog(log));
        assert.equal(s.secureBoot?.enabled, opts.secureBoot ?? true);
        assert.equal(s.exitBootServices.missing, opts.ebs === false);
        assert.equal(s.applications.length, 2);
        assert.equal(s.bootOptions.find((o) => o.name === 'Boot0001')?.trusted, opts.edk2BootVariables === false);
        assert.equal(s.databases.dbx!.signatureLists[0]!.signatures.length, 20);
        assert.deepEqual(s.mismatched, []);
      }
    }
  });

  it('start PCR 0 at the StartupLocality; tpm2-tools before 5.6 differs on PCR 0 only', () => {
    const events = B.typicalBoot({ startupLocality: 3 });
    const bytes = B.buildTCGLog(events);
    const file = join(dir, 'locality.bin');
    writeFileSync(file, bytes);
    const differ = crossCheck(file, bytes);
    assert.deepEqual(differ.sort(), toolExtendsNoAction() ? ['11:0', '4:0'] : []);
    const s = replayTCG(parseTCGLog(bytes));
    for (const [k, v] of B.expectedPCRs(events, [B.ALG.SHA1, B.ALG.SHA256], 3)) {
      const [a, p] = k.split(':').map(Number) as [number, number];
      assert.deepEqual(s.value(a, p), v, `PCR ${k}`);
    }
    // A StartupLocality after PCR 0 was extended is not a log a platform writes.
    const late = [...events.slice(1, 3), events[0]!, ...events.slice(3)];
    assert.throws(() => replayTCG(parseTCGLog(B.buildTCGLog(late))), code('EVENTLOG_MALFORMED'));
  });
});

describe('IMA logs', () => {
  it('check the template hash of real entries (ima, ima-ng, ima-sig with RSA and EC signatures, ima-buf)', () => {
    const log = parseIMAAscii(real('keylime/ima-entries.txt'));
    assert.equal(log.templateHashAlg, TPM_ALG.SHA1);
    assert.equal(log.entries.length, 9);
    for (const e of log.entries) {
      assert.equal(e.templateHashValid, true, `${e.templateName} ${e.fields?.name}`);
      assert.equal(e.trusted, true);
    }
    assert.deepEqual(new Set(log.entries.map((e) => e.templateName)), new Set(['ima', 'ima-ng', 'ima-sig', 'ima-buf']));
    const dd = log.entries.find((e) => e.fields?.name === '/usr/bin/dd')!;
    assert.equal(dd.fields!.digestAlg, 'sha256');
    assert.equal(dd.fields!.signature!.subarray(0, 2).toString('hex'), '0302');
    const kmod = log.entries.find((e) => e.templateName === 'ima')!;
    assert.equal(kmod.fields!.name, '/usr/bin/kmod');
    assert.equal(log.entries.find((e) => e.templateName === 'ima-buf' && e.fields!.name === '.ima')!.fields!.buf![0], 0x30);
    // The same line with an altered signature: parsed, reported, not trusted.
    const bad = parseIMAAscii(real('keylime/ima-entries-altered.txt')).entries[0]!;
    assert.equal(bad.templateHashValid, false);
    assert.equal(bad.trusted, false);
    const r = replayIMA(PCRState.create([TPM_ALG.SHA1]), [bad]);
    assert.deepEqual(r.untrusted, [0]);
  });

  it('read keylime\'s logs: per-bank template hashes, violations', () => {
    for (const f of ['sha1', 'sha256', 'sha384', 'sha512']) {
      const log = parseIMAAscii(real(`keylime/ima-log-${f}`));
      assert.equal(log.templateHashAlg, TPM_ALG.SHA1, f);
      assert.equal(log.entries[1]!.templateHashValid, true, f);
      assert.equal(log.entries[1]!.fields!.digestAlg, f);
      assert.equal(log.entries[0]!.violation, f !== 'sha256', f);
    }
    // A per-bank log: 64 hex digits of template hash, which by length would be SHA-256.
    assert.equal(parseIMAAscii(real('keylime/ima-log-sm3_256')).entries[1]!.templateHashValid, false);
    const sm3 = parseIMAAscii(real('keylime/ima-log-sm3_256'), { templateHashAlg: TPM_ALG.SM3_256 });
    assert.equal(sm3.entries[1]!.templateHashValid, true);
    assert.equal(sm3.entries[1]!.fields!.digestAlg, 'sm3_256');
  });

  it('parse the binary (both byte orders, per-bank) and ascii forms of one log to the same entries, and replay like the kernel', () => {
    const built = B.typicalIMA(60, { violationAt: 17 }).map((e) => B.imaEntry(e));
    const builtBE = B.typicalIMA(60, { violationAt: 17 }).map((e) => B.imaEntry(e, true));
    const forms = [
      parseIMABinary(B.buildIMABinary(built)),
      parseIMABinary(B.buildIMABinary(builtBE, { bigEndian: true })),
      parseIMAAscii(B.buildIMAAscii(built)),
    ];
    assert.equal(forms[1]!.bigEndian, true);
    for (const [f, log] of forms.entries()) {
      const source = f === 1 ? builtBE : built;
      assert.equal(log.entries.length, 60);
      assert.deepEqual(log.entries.filter((e) => !e.trusted).map((e) => e.index), [17]);
      assert.equal(log.entries[17]!.violation, true);
      assert.ok(log.entries.some((e) => e.fields?.name.includes(' with space') && e.templateName === 'ima-sig'));
      for (const rule of ['bank-hash', 'sha1-padded'] as const) {
        const r = replayIMA(PCRState.create([TPM_ALG.SHA1, TPM_ALG.SHA256]), log.entries);
        for (const alg of [B.ALG.SHA1, B.ALG.SHA256]) {
          let v: Buffer = Buffer.alloc(B.SIZE[alg]!);
          for (const e of source) v = B.pcrExtendValue(alg, v, B.imaExtend(e, alg, rule));
          assert.deepEqual(r.state.value(alg, 10, rule), v, `${log.format} ${rule} bank ${alg}`);
        }
      }
    }
    // Big-endian machines hash big-endian field lengths, so only their template hashes differ.
    const names = forms.map((l, f) => l.entries.map((e) => `${e.templateName}|${e.fields?.name}|${e.fields?.digest.toString('hex')}|${f === 1 ? '' : e.templateHash.toString('hex')}`));
    assert.deepEqual(names[1], names[0].map((n) => n.replace(/\|[0-9a-f]+$/, '|')));
    assert.deepEqual(names[2], names[0]);
    // The ascii log of a big-endian machine: its template hashes cover big-endian lengths.
    const asciiBE = parseIMAAscii(B.buildIMAAscii(builtBE));
    assert.equal(asciiBE.bigEndian, true);
    assert.ok(asciiBE.entries.every((e) => e.trusted || e.violation));
    // binary_runtime_measurements_sha256: bank-sized template hashes.
    const perBank = parseIMABinary(B.buildIMABinary(built, { templateHashAlg: B.ALG.SHA256 }), { templateHashAlg: TPM_ALG.SHA256 });
    assert.ok(perBank.entries.every((e, i) => e.templateHash.length === 32 && (i === 17 || e.templateHashValid)));
    const r = replayIMA(PCRState.create([TPM_ALG.SHA1, TPM_ALG.SHA256]), perBank.entries);
    assert.deepEqual(r.state.value(TPM_ALG.SHA256, 10, 'bank-hash'), replayIMA(PCRState.create([TPM_ALG.SHA1, TPM_ALG.SHA256]), forms[0]!.entries).state.value(TPM_ALG.SHA256, 10, 'bank-hash'));
  });

  it('keep unknown templates raw: split in binary, unrebuildable (and untrusted) in ascii', () => {
    const e = B.imaEntry({ template: 'ima-custom', name: '/etc/x' });
    const bin = parseIMABinary(B.buildIMABinary([e])).entries[0]!;
    assert.equal(bin.templateHashValid, true);
    assert.equal(bin.fields, undefined);
    assert.equal(bin.trusted, false);
    assert.equal(bin.rawFields!.length, 3);
    const asc = parseIMAAscii(B.buildIMAAscii([e])).entries[0]!;
    assert.equal(asc.hashInput, undefined);
    assert.equal(asc.templateHashValid, undefined);
    // SHA-1 replays from the logged hash; the SHA-256 value cannot be known from ascii.
    const st = replayIMA(PCRState.create([TPM_ALG.SHA1, TPM_ALG.SHA256]), [asc]).state;
    assert.deepEqual(st.value(TPM_ALG.SHA1, 10), B.pcrExtendValue(B.ALG.SHA1, Buffer.alloc(20), B.templateHash(e)));
    assert.equal(st.value(TPM_ALG.SHA256, 10, 'bank-hash'), undefined);
    assert.ok(st.value(TPM_ALG.SHA256, 10, 'sha1-padded'));
  });

  it('refuse malformed entries with typed errors', () => {
    const good = B.buildIMAAscii([B.imaEntry({ template: 'ima-ng', name: '/bin/sh' })]);
    const cases: Array<[string, string]> = [
      [good.replace(/^10 /, '99 '), 'EVENTLOG_MALFORMED'],
      [good.replace(/^10 [0-9a-f]/, '10 z'), 'EVENTLOG_MALFORMED'],
      [good.replace(/sha256:[0-9a-f]/, 'sha256:q'), 'EVENTLOG_MALFORMED'],
      ['10 abc\n', 'EVENTLOG_MALFORMED'],
      [good.replace('ima-ng', 'ima-sig').replace(/ \/bin\/sh\n/, '\n'), 'EVENTLOG_MALFORMED'],
    ];
    for (const [text, c] of cases) assert.throws(() => parseIMAAscii(text), code(c), text);
    assert.throws(() => parseIMAAscii(good.repeat(5), { limits: { maxEvents: 4 } }), code('EVENTLOG_TOO_LARGE'));
    const bin = B.buildIMABinary([B.imaEntry({ template: 'ima-ng', name: '/bin/sh' })]);
    for (let cut = 1; cut < bin.length; cut++) assert.throws(() => parseIMABinary(bin.subarray(0, cut)), code('EVENTLOG_TRUNCATED'));
    const huge = Buffer.from(bin);
    huge.writeUInt32LE(0xfffffff0, 4 + 20 + 4 + 6);
    assert.throws(() => parseIMABinary(huge), code('EVENTLOG_TOO_LARGE'));
    const noname = Buffer.from(bin);
    noname.writeUInt32LE(0, 24);
    assert.throws(() => parseIMABinary(noname), code('EVENTLOG_MALFORMED'));
  });
});

describe('hostile measured-boot logs', () => {
  const small = B.buildTCGLog(B.typicalBoot({ secureBoot: false }).slice(0, 6));

  it('fail typed at every truncation, and on impossible lengths, tables and PCRs', () => {
    const boundaries = new Set(parseTCGLog(small).events.map((e) => e.offset));
    for (let cut = 1; cut < small.length; cut++) {
      // A cut that leaves only zero bytes of the next event reads as zero padding.
      if (boundaries.has(cut) || [...boundaries].some((b) => b > 0 && b < cut && small.subarray(b, cut).every((x) => x === 0))) parseTCGLog(small.subarray(0, cut));
      else assert.throws(() => parseTCGLog(small.subarray(0, cut)), code('EVENTLOG_TRUNCATED'), `cut ${cut}`);
    }
    const log = parseTCGLog(small);
    const e1 = log.events[1]!.offset;
    const edit = (at: number, v: number) => { const b = Buffer.from(small); b.writeUInt32LE(v, at); return b; };
    const dataSizeAt = e1 + 12 + 2 * 2 + 20 + 32;
    assert.throws(() => parseTCGLog(edit(dataSizeAt, 0xffffffff)), code('EVENTLOG_TOO_LARGE'));
    assert.throws(() => parseTCGLog(edit(dataSizeAt, 0xffff)), code('EVENTLOG_TRUNCATED'));
    assert.throws(() => parseTCGLog(edit(e1, 40)), code('EVENTLOG_MALFORMED'));
    assert.throws(() => parseTCGLog(edit(e1 + 8, 3)), code('EVENTLOG_MALFORMED'));
    const undeclared = Buffer.from(small);
    undeclared.writeUInt16LE(0x000d, e1 + 12);
    assert.throws(() => parseTCGLog(undeclared), (e: unknown) => code('EVENTLOG_MALFORMED')(e) && /algorithm 0xd, which the Spec ID event does not declare/.test((e as Error).message));
    const specAt = 32 + 16;
    const zeroAlgs = edit(specAt + 8, 0);
    assert.throws(() => parseTCGLog(zeroAlgs), code('EVENTLOG_MALFORMED'));
    const badSize = Buffer.from(small);
    badSize.writeUInt16LE(21, specAt + 12 + 2);
    assert.throws(() => parseTCGLog(badSize), code('EVENTLOG_MALFORMED'));
    assert.throws(() => parseTCGLog(Buffer.alloc(0)), code('EVENTLOG_TRUNCATED'));
    // Zero fill after the last event is padding, not events.
    assert.equal(parseTCGLog(Buffer.concat([small, Buffer.alloc(100)])).trailingZeros, 100);
  });

  it('respect the caps on size, event count and event size', () => {
    assert.throws(() => parseTCGLog(small, { maxBytes: small.length - 1 }), code('EVENTLOG_TOO_LARGE'));
    assert.throws(() => parseTCGLog(small, { maxEvents: 3 }), code('EVENTLOG_TOO_LARGE'));
    assert.throws(() => parseTCGLog(small, { maxEventSize: 100 }), code('EVENTLOG_TOO_LARGE'));
    assert.throws(() => parseTCGLog(small, { maxEvents: 0 }), code('EVENTLOG_STATE_INVALID'));
    assert.equal(parseTCGLog(small, { maxEvents: 7 }).events.length, 7);
  });
});

describe('PCRState', () => {
  it('round-trips through serialize and refuses anything else', () => {
    const ima = B.typicalIMA(10).map((e) => B.imaEntry(e));
    const st = replayIMA(replayTCG(parseTCGLog(B.buildTCGLog(B.typicalBoot()))), parseIMABinary(B.buildIMABinary(ima)).entries).state;
    const text = st.serialize();
    const back = PCRState.deserialize(text);
    assert.equal(back.serialize(), text);
    assert.equal(back.imaEntries, 10);
    for (const alg of [TPM_ALG.SHA1, TPM_ALG.SHA256]) for (let p = 0; p < 24; p++) assert.deepEqual(back.value(alg, p, 'sha1-padded'), st.value(alg, p, 'sha1-padded'));
    const j = JSON.parse(text) as Record<string, unknown>;
    const bad: unknown[] = [
      'nope', '{}', JSON.stringify({ ...j, version: 2 }), JSON.stringify({ ...j, banks: [] }), JSON.stringify({ ...j, banks: [4, 4] }),
      JSON.stringify({ ...j, values: { '4:0': 'ab' } }), JSON.stringify({ ...j, values: { '12:0': '00'.repeat(48) } }), JSON.stringify({ ...j, values: { '4:40': '00'.repeat(20) } }),
      JSON.stringify({ ...j, imaEntries: -1 }), JSON.stringify({ ...j, imaMode: 'other' }), JSON.stringify({ ...j, imaBase: { '4:10': 'zz' } }), JSON.stringify({ ...j, imaBase: [] }), 'x'.repeat(300_000), 42,
    ];
    for (const b of bad) assert.throws(() => PCRState.deserialize(b as string), code('EVENTLOG_STATE_INVALID'));
  });

  it('appraises IMA entries in steps, from the saved state, equal to one full replay; a re-sent log is checked, not replayed twice', () => {
    const built = B.typicalIMA(40).map((e) => B.imaEntry(e));
    const all = parseIMABinary(B.buildIMABinary(built)).entries;
    const base = PCRState.create([TPM_ALG.SHA1, TPM_ALG.SHA256]);
    const full = replayIMA(base, all).state;
    const first = replayIMA(base, all.slice(0, 25)).state;
    const saved = PCRState.deserialize(first.serialize());
    // The agent sends only the new entries (parsed with their index)…
    const tail = parseIMABinary(B.buildIMABinary(built.slice(25)), { firstIndex: 25 }).entries;
    const step = replayIMA(saved, tail);
    assert.equal(step.skipped, 0);
    // …or the whole log again (rust-keylime #1077): the first 25 are checked and skipped.
    const resent = replayIMA(saved, all);
    assert.equal(resent.skipped, 25);
    assert.equal(resent.appraised.length, 15);
    for (const s of [step.state, resent.state]) {
      assert.equal(s.imaEntries, 40);
      for (const rule of ['bank-hash', 'sha1-padded'] as const) for (const alg of [TPM_ALG.SHA1, TPM_ALG.SHA256]) assert.deepEqual(s.value(alg, 10, rule), full.value(alg, 10, rule));
    }
    // Once a quote has shown the older kernels' rule, a re-sent prefix is checked under it.
    const sha256Of = (b: Buffer) => createHash('sha256').update(b).digest();
    const decided = matchQuote(first, { selection: parsePCRList('sha256:10'), pcrDigest: sha256Of(first.value(TPM_ALG.SHA256, 10, 'sha1-padded')!), hashAlg: TPM_ALG.SHA256 }).state;
    assert.equal(decided.imaMode, 'sha1-padded');
    const again = replayIMA(PCRState.deserialize(decided.serialize()), all);
    assert.equal(again.skipped, 25);
    assert.deepEqual(again.state.value(TPM_ALG.SHA256, 10), full.value(TPM_ALG.SHA256, 10, 'sha1-padded'));
    assert.throws(() => replayIMA(decided, [all[1]!, all[0]!, ...all.slice(2)].map((e, i) => ({ ...e, index: i }))), code('EVENTLOG_PREFIX_MISMATCH'));
    // A gap, an overlap, a shorter log and an altered prefix are refused.
    assert.throws(() => replayIMA(saved, all.slice(26)), code('EVENTLOG_PREFIX_MISMATCH'));
    assert.throws(() => replayIMA(saved, all.slice(10)), code('EVENTLOG_PREFIX_MISMATCH'));
    assert.throws(() => replayIMA(saved, all.slice(0, 20)), code('EVENTLOG_PREFIX_MISMATCH'));
    const swapped = [all[1]!, all[0]!, ...all.slice(2)].map((e, i) => ({ ...e, index: i }));
    assert.throws(() => replayIMA(saved, swapped), code('EVENTLOG_PREFIX_MISMATCH'));
    const removed = [...all.slice(0, 5), ...all.slice(6)].map((e, i) => ({ ...e, index: i }));
    assert.throws(() => replayIMA(saved, removed), code('EVENTLOG_PREFIX_MISMATCH'));
  });
});
