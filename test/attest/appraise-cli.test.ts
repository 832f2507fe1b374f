// `tollgate attest` and `tollgate appraise` through the single binary (dist/tollgate, built by
// `npm test` before the suites run) against a real swtpm: the gate installs a release (fetch
// records it in installed.json), the device attests with a measured-boot log, the verifier
// appraises (exit 0, a signed JWT or CWT EAR, the state for next time), and a changed PCR, a
// replay, hostile files and bad options give exit 1 or 2 with the reason named.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, verify as nodeVerify } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provision } from '../../hardware/provision.ts';
import { ear } from '../../attest/index.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { withTPM } from '../tpm/helpers.ts';
import { startTufServer, type TufServer } from '../fixtures/tuf/index.ts';
import { gateRepo } from '../fixtures/gate/index.ts';
import * as B from '../fixtures/eventlog/builder.ts';
import { deviceRecordFromTPM } from '../fixtures/attest/device-record.ts';
import { deviceRecordJSON } from '../../attest/enrol/index.ts';

const DIST = join(import.meta.dirname, '..', '..', 'dist', 'tollgate');
const BANKS = [B.ALG.SHA1, B.ALG.SHA256];
let sw: Swtpm;
let dir: string;
let bin: string;
let server: TufServer;
const boot = B.typicalBoot({ seed: 'cli' });
const WIDGET = Buffer.from('widget 2.0.0\n');

interface Run { code: number | null; stdout: string; stderr: string }

function run(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', TOLLGATE_TPM: sw.uri } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(args: string[], code = 0): Promise<Run> {
  const r = await run(args);
  assert.equal(r.code, code, `tollgate ${args.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  return r;
}

before(async () => {
  assert.ok(existsSync(DIST), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  dir = mkdtempSync(join(tmpdir(), 'tollgate-attest-cli-'));
  bin = join(dir, 'tollgate');
  copyFileSync(DIST, bin);
  chmodSync(bin, 0o755);
  sw = await startSwtpm();
  const record = await withTPM(sw, async (tpm) => {
    await provision(tpm, { eks: ['rsa'] });
    for (const e of boot) if (e.type !== B.T.NO_ACTION) await tpm.pcrExtend(e.pcr, BANKS.map((b) => ({ hashAlg: b, digest: B.extendedDigest(e, b) })));
    return deviceRecordFromTPM(tpm, { caDir: sw.caDir });
  });
  writeFileSync(join(dir, 'device.json'), JSON.stringify(deviceRecordJSON(record), null, 2));
  writeFileSync(join(dir, 'boot.bin'), B.buildTCGLog(boot, { banks: BANKS }));
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'verifier.pem'), k.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'verifier.pub.pem'), k.publicKey.export({ type: 'spki', format: 'pem' }));
  const g = await gateRepo();
  await g.addArtifact('widget-2.0.0.tar', WIDGET);
  await g.addArtifact('widget-1.9.0.tar', Buffer.from('old'), { lodash: '4.17.20' });
  g.repo.commit();
  server = await startTufServer(g.repo);
  writeFileSync(join(dir, 'root.json'), g.repo.rootBytes());
});

after(async () => {
  await server?.close();
  await sw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const pcr7 = B.expectedPCRs(boot, BANKS).get(`${B.ALG.SHA256}:7`)!.toString('hex');

describe('tollgate attest / appraise (dist/tollgate)', () => {
  const nonce = randomBytes(32).toString('hex');

  it('fetch records what it installs; attest sends it with the boot log; appraise affirms it and signs the EAR', async () => {
    await ok(['init', '--repo', server.url, '--root', 'root.json', '--state', 'st']);
    await ok(['fetch', 'widget-2.0.0.tar', '--out', 'inst/widget.tar', '--state', 'st']);
    await ok(['fetch', 'widget-1.9.0.tar', '--out', 'inst/old.tar', '--state', 'st'], 1);
    const rec = JSON.parse(readFileSync(join(dir, 'st', 'installed.json'), 'utf8'));
    assert.deepEqual(rec.installed.map((e: { target: string }) => e.target), ['widget-2.0.0.tar'], 'a denied fetch is not recorded');
    assert.equal(rec.installed[0].hashes.sha256, createHash('sha256').update(WIDGET).digest('hex'));

    const a = await ok(['attest', '--nonce', nonce, '--out', 'ev.cbor', '--event-log', 'boot.bin', '--state', 'st', '--json']);
    const made = JSON.parse(a.stdout);
    assert.deepEqual(made.software, ['widget-2.0.0.tar']);
    assert.equal(made.pcrs, 'sha256:0,1,2,3,4,5,6,7,9');
    assert.equal(made.logs[0].format, 'tcg-pc-client');

    const shown = await ok(['attest', '--show', 'ev.cbor']);
    assert.match(shown.stdout, /installed +1 target\(s\)\n +widget-2\.0\.0\.tar {2}sha256:/);
    assert.match(shown.stdout, /log tcg-pc-client/);
    const shownJSON = JSON.parse((await ok(['attest', '--show', 'ev.cbor', '--json'])).stdout);
    assert.equal(shownJSON.nonce, nonce);

    writeFileSync(join(dir, 'ref.json'), JSON.stringify({
      version: 1, pcrs: { 'sha256:7': [pcr7] }, eventLog: { secureBoot: 'required' }, ekRoots: ['IBM (swtpm)'],
      software: { mustInclude: [{ target: 'widget-2.0.0.tar' }], mustNotInclude: [{ target: 'widget-1.9.0.tar' }] },
    }));
    const r = await ok(['appraise', 'ev.cbor', '--device', 'device.json', '--nonce', nonce, '--reference', 'ref.json', '--key', 'verifier.pem', '--out', 'ear.jwt', '--state-out', 'state.json']);
    assert.match(r.stdout, /^Appraisal: AFFIRMING/);
    assert.match(r.stdout, /OK {4}software\[widget-2\.0\.0\.tar\]/);
    assert.match(r.stdout, /OK {4}eventLog\.secureBoot/);
    const jwt = readFileSync(join(dir, 'ear.jwt'), 'utf8').trim();
    const [h, p, s] = jwt.split('.') as [string, string, string];
    assert.ok(nodeVerify('sha256', Buffer.from(`${h}.${p}`), { key: readFileSync(join(dir, 'verifier.pub.pem')), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')));
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    assert.equal(claims.submods.tollgate['ear.status'], 'affirming');
    assert.match(claims['ear.verifier-id'].build, /^tollgate \d/);
    assert.ok(existsSync(join(dir, 'state.json')));

    // The CWT form, verified with the COSE verifier.
    await ok(['appraise', 'ev.cbor', '--device', 'device.json', '--nonce', nonce, '--key', 'verifier.pem', '--out', 'ear.cwt', '--format', 'cbor']);
    const pub = readFileSync(join(dir, 'verifier.pub.pem'));
    const { createPublicKey } = await import('node:crypto');
    assert.equal(ear.verifyEARCWT(readFileSync(join(dir, 'ear.cwt')), createPublicKey(pub)).submods.tollgate!.status, 'affirming');
  });

  it('replayed evidence and a changed PCR are contraindicated (exit 1), naming the claim and the expected value', async () => {
    // The same evidence again, to a new challenge, with the stored state: nonce and clock.
    const other = randomBytes(32).toString('hex');
    const replay = await ok(['appraise', 'ev.cbor', '--device', 'device.json', '--nonce', other, '--previous', 'state.json', '--state-out', 'state.json', '--json'], 1);
    const j = JSON.parse(replay.stdout);
    assert.equal(j.status, 'contraindicated');
    const failed = j.ear.submods.tollgate['ear.tollgate.reasons'].filter((x: { status: string }) => x.status === 'contraindicated').map((x: { claim: string }) => x.claim);
    assert.deepEqual(failed, ['nonce', 'clock']);
    assert.equal(j.stateFile, undefined, 'state is not advanced by stale evidence');

    await withTPM(sw, (tpm) => tpm.pcrExtend(7, BANKS.map((b) => ({ hashAlg: b, digest: B.h(b, Buffer.from('changed')) }))));
    const n2 = randomBytes(32).toString('hex');
    await ok(['attest', '--nonce', n2, '--out', 'ev2.cbor', '--event-log', 'boot.bin', '--state', 'st']);
    const r = await ok(['appraise', 'ev2.cbor', '--device', 'device.json', '--nonce', n2, '--reference', 'ref.json', '--previous', 'state.json'], 1);
    assert.match(r.stdout, /^Appraisal: CONTRAINDICATED/);
    assert.match(r.stdout, new RegExp(`FAIL  pcrs\\.sha256:7: .*\\n {10}expected: ${pcr7} \\(replayed from the logs\\)`));
    assert.match(r.stdout, new RegExp(`FAIL  pcrs\\.sha256:7: PCR sha256:7 has a value the reference values do not allow\\.\\n {10}expected: one of: ${pcr7}`));
  });

  it('bad options and inputs exit 2 with what to fix; hostile evidence exits 1 with a typed error', async () => {
    writeFileSync(join(dir, 'garbage.cbor'), randomBytes(200));
    writeFileSync(join(dir, 'bad-ref.json'), JSON.stringify({ version: 1, pcrs: { 'sha256:7': ['00'.repeat(32)] }, eventlog: {} }));
    const cases: Array<[string[], number, string, RegExp]> = [
      [['appraise', 'ev2.cbor', '--nonce', 'ab'.repeat(16)], 2, 'CLI_MISSING_OPTION', /--device is required/],
      [['appraise', 'ev2.cbor', '--device', 'device.json', '--nonce', 'ab'.repeat(16), '--out', 'x.jwt'], 2, 'CLI_MISSING_OPTION', /--key/],
      [['appraise', 'ev2.cbor', '--device', 'device.json', '--nonce', 'ab'.repeat(16), '--reference', 'bad-ref.json'], 2, 'APPRAISE_REFERENCE_INVALID', /\$\.eventlog: is not a known key/],
      [['appraise', 'ev2.cbor', '--device', 'boot.bin', '--nonce', 'ab'.repeat(16)], 2, 'APPRAISE_RECORD_INVALID', /--device: The enrolled-device record is not valid/],
      [['appraise', 'ev2.cbor', '--device', 'device.json', '--nonce', 'ab'.repeat(16), '--key', 'device.json'], 2, 'APPRAISE_KEY_INVALID', /not a private key/],
      [['appraise', 'ev2.cbor', '--device', 'device.json', '--nonce', 'ab'.repeat(16), '--format', 'xml'], 2, 'CLI_OPTION_VALUE', /jwt or cbor/],
      [['appraise', 'ev2.cbor', '--device', 'device.json', '--nonce', 'ab'.repeat(16), '--previous', 'missing.json'], 2, 'CLI_FILE_UNREADABLE', /ENOENT/],
      [['appraise', 'garbage.cbor', '--device', 'device.json', '--nonce', 'ab'.repeat(16)], 1, '', /^(CBOR|COSE|EAT)_/],
      [['attest', '--show', 'garbage.cbor'], 1, '', /^(CBOR|COSE|EAT)_/],
      [['attest', '--show', 'ev2.cbor', '--nonce', 'ab'], 2, 'CLI_OPTION_CONFLICT', /takes no --nonce/],
      [['attest', '--nonce', 'ab'.repeat(16), '--out', 'x.cbor', '--event-log', 'boot.bin', '--no-event-log'], 2, 'CLI_OPTION_CONFLICT', /contradict/],
      [['attest', '--nonce', 'ab'.repeat(16), '--out', 'x.cbor', '--ima-offset', '-1'], 2, 'CLI_OPTION_VALUE', /needs a value|not an entry index/],
      [['attest', '--nonce', 'ab'.repeat(16), '--out', 'x.cbor', '--event-log', 'missing.bin'], 3, 'EVIDENCE_LOG_UNREADABLE', /missing\.bin/],
      [['attest', '--nonce', 'ab'.repeat(16), '--out', 'x.cbor', '--event-log', 'device.json'], 2, 'EVIDENCE_LOG_INVALID', /measured-boot log/],
    ];
    // Only attest (without --show) opens the TPM, which serves one client at a time.
    const tpmFree = cases.filter(([a]) => a[0] === 'appraise' || a.includes('--show'));
    const results = new Map(await Promise.all(tpmFree.map(async (c) => [c, await run([...c[0], '--json'])] as const)));
    for (const c of cases) {
      const [args, code, errCode, message] = c;
      const r = results.get(c) ?? await run([...args, '--json']);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      const e = JSON.parse(r.stdout).error;
      if (errCode) assert.equal(e.code, errCode, e.message);
      assert.match(errCode ? e.message : e.code, message, `${args.join(' ')}: ${e.code} ${e.message}`);
    }
    assert.ok(!existsSync(join(dir, 'x.cbor')), 'nothing written on a failed attest');
  });
});
