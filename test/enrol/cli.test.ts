// Enrolment as an operator runs it offline, through dist/tollgate (the single binary): the device
// (`tollgate enroll request`, `tollgate enroll activate`) on a real swtpm, the verifier
// (`tollgate appraise enroll`, `... --finish`) with a state directory. Exit codes, --json, the
// files (exactly the collector protocol's bodies), the state's modes, a race of finishes, and
// hostile input files (malformed, oversized, a FIFO, a directory, a device).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_REQUEST_BYTES, parseDeviceRecord, parseEnrolChallenge, parseEnrolRequest } from '../../attest/enrol/index.ts';
import { publicKeyOf, toKeyObject } from '../../hardware/index.ts';
import { makeEK, makeIntermediate, makeRoot } from '../fixtures/ekcerts.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { withTPM, assertNothingTransient } from '../tpm/helpers.ts';
import { localCAFiles } from './helpers.ts';

const DIST = join(import.meta.dirname, '..', '..', 'dist', 'tollgate');
let sw: Swtpm;
let dir: string;

interface Run { code: number | null; stdout: string; stderr: string; json: any }

function tollgate(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(DIST, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', TOLLGATE_TPM: sw.uri }, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.once('error', reject);
    c.once('close', (code) => {
      try {
        resolve({ code, stdout, stderr, json: args.includes('--json') ? JSON.parse(stdout) : undefined });
      } catch (e) {
        reject(new Error(`tollgate ${args.join(' ')} printed no JSON: ${stdout} ${stderr}`, { cause: e }));
      }
    });
  });
}

const ekCA = () => localCAFiles(sw).flatMap((f) => ['--ek-ca', f]);
const p = (name: string) => join(dir, name);

function expectError(r: Run, exit: number, code: string): void {
  assert.equal(r.code, exit, `${r.stdout}${r.stderr}`);
  assert.equal(r.json.error.code, code, r.json.error.message);
}

before(async () => {
  assert.ok(existsSync(DIST), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  sw = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-enrolcli-'));
});

after(async () => {
  try {
    if (sw) await withTPM(sw, assertNothingTransient);
  } finally {
    await sw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

/** The device's request, checked by the verifier: returns the enrolment id. */
async function challenge(state: string, name: string): Promise<string> {
  const r = await tollgate(['appraise', 'enroll', p('request.json'), '--state', state, '--out', p(name), ...ekCA(), '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.json.enrolmentId;
}

describe('tollgate enroll / appraise enroll (dist/tollgate)', () => {
  it('a device that is not provisioned cannot make a request (exit 3, says to provision)', async () => {
    const r = await tollgate(['enroll', 'request', '--out', p('never.json'), '--json']);
    expectError(r, 3, 'PROVISION_NOT_PROVISIONED');
    assert.match(r.json.error.message, /tollgate tpm provision/);
    assert.ok(!existsSync(p('never.json')));
  });

  it('enrols in two round trips through files that are exactly the protocol bodies; the record is written 0600 once', async () => {
    assert.equal((await tollgate(['tpm', 'provision', '--json'])).code, 0);
    const req = await tollgate(['enroll', 'request', '--out', p('request.json'), '--hostname', 'edge-7']);
    assert.equal(req.code, 0, req.stderr);
    assert.match(req.stdout, /EK {10}RSA at 0x81010001, certificate from NV 0x01c00002/);
    const body = JSON.parse(readFileSync(p('request.json'), 'utf8'));
    assert.deepEqual(Object.keys(body), ['ekCerts', 'ekPublic', 'akPublic', 'akName', 'deviceKeyPublic', 'deviceKeyCertify', 'facts']);
    assert.deepEqual(body.facts, { hostname: 'edge-7', version: JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')).version });
    parseEnrolRequest(readFileSync(p('request.json')));

    const state = p('state');
    const ch = await tollgate(['appraise', 'enroll', p('request.json'), '--state', state, '--out', p('challenge.json'), ...ekCA(), '--json']);
    assert.equal(ch.code, 0, ch.stdout + ch.stderr);
    assert.equal(ch.json.ek, 'rsa');
    assert.equal(ch.json.ekChain.vendor, 'IBM (swtpm)');
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(p('challenge.json'), 'utf8'))), ['enrolmentId', 'credentialBlob', 'encryptedSecret', 'expiresAt']);
    const c = parseEnrolChallenge(readFileSync(p('challenge.json')));
    assert.equal(c.enrolmentId, ch.json.enrolmentId);
    assert.equal(statSync(state).mode & 0o777, 0o700);
    for (const d of ['pending', 'used', 'devices']) assert.equal(statSync(join(state, d)).mode & 0o777, 0o700);
    assert.equal(statSync(join(state, 'pending', `${c.enrolmentId}.json`)).mode & 0o777, 0o600);

    const act = await tollgate(['enroll', 'activate', p('challenge.json'), '--out', p('proof.json'), '--json']);
    assert.equal(act.code, 0, act.stdout + act.stderr);
    assert.equal(act.json.enrolmentId, c.enrolmentId);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(p('proof.json'), 'utf8'))), ['proof']);

    const fin = await tollgate(['appraise', 'enroll', '--finish', p('proof.json'), '--enrolment-id', c.enrolmentId, '--state', state, '--json']);
    assert.equal(fin.code, 0, fin.stdout + fin.stderr);
    assert.equal(fin.json.deviceId, ch.json.deviceId);
    assert.equal(fin.json.record, join(state, 'devices', `${fin.json.deviceId}.json`));
    assert.equal(statSync(fin.json.record).mode & 0o777, 0o600);
    const record = parseDeviceRecord(readFileSync(fin.json.record));
    assert.equal(record.facts.hostname, 'edge-7');
    assert.equal(record.akName.toString('base64'), body.akName);

    // The same proof again: refused as a replay, the record untouched.
    const before = readFileSync(fin.json.record);
    const again = await tollgate(['appraise', 'enroll', '--finish', p('proof.json'), '--enrolment-id', c.enrolmentId, '--state', state, '--json']);
    expectError(again, 1, 'ENROL_REPLAYED');
    assert.deepEqual(readFileSync(fin.json.record), before);
  });

  it('enrols with the ECC EK when its certificate and CA come from a file (--ek-cert), trusting the vendor root given with --ek-ca', async () => {
    const root = makeRoot('Tollgate Test EK Root');
    const inter = makeIntermediate(root, 'Tollgate Test EK Intermediate');
    const ek = await withTPM(sw, async (tpm) => (await tpm.readPublic(0x81010002)).outPublic);
    const pem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    writeFileSync(p('ecc-ek.pem'), pem(makeEK(inter, toKeyObject(publicKeyOf(ek)))) + pem(inter.der));
    writeFileSync(p('vendor-root.pem'), pem(root.der));
    const req = await tollgate(['enroll', 'request', '--ek', 'ecc', '--ek-cert', p('ecc-ek.pem'), '--out', p('request-ecc.json'), '--json']);
    assert.equal(req.code, 0, req.stdout + req.stderr);
    assert.equal(req.json.ek, 'ecc');
    assert.equal(req.json.ekCertificate, '--ek-cert');
    const state = p('state-ecc');
    const ch = await tollgate(['appraise', 'enroll', p('request-ecc.json'), '--state', state, '--out', p('challenge-ecc.json'), '--ek-ca', p('vendor-root.pem'), '--json']);
    assert.equal(ch.code, 0, ch.stdout + ch.stderr);
    assert.equal(ch.json.ek, 'ecc');
    assert.equal(ch.json.ekChain.root, 'C=CH, O=Tollgate Test TPM Vendor, CN=Tollgate Test EK Root');
    const act = await tollgate(['enroll', 'activate', p('challenge-ecc.json'), '--out', p('proof-ecc.json'), '--json']);
    assert.equal(act.code, 0, act.stdout + act.stderr);
    assert.equal(act.json.ek, 'ecc');
    const fin = await tollgate(['appraise', 'enroll', '--finish', p('proof-ecc.json'), '--enrolment-id', ch.json.enrolmentId, '--state', state, '--out', p('record-ecc.json'), '--json']);
    assert.equal(fin.code, 0, fin.stdout + fin.stderr);
    assert.equal(parseDeviceRecord(readFileSync(p('record-ecc.json'))).ek.type, 0x0023);
  });

  it('without the swtpm CA the EK is refused (exit 1) and nothing is kept pending', async () => {
    const state = p('state-strict');
    const r = await tollgate(['appraise', 'enroll', p('request.json'), '--state', state, '--out', p('strict-challenge.json'), '--json']);
    expectError(r, 1, 'ENROL_EK_CHAIN_INVALID');
    assert.deepEqual(readdirSync(join(state, 'pending')), []);
    assert.ok(!existsSync(p('strict-challenge.json')));
  });

  it('of finishes racing with the same proof, exactly one writes the record', async () => {
    const state = p('state-race');
    const id = await challenge(state, 'race-challenge.json');
    assert.equal((await tollgate(['enroll', 'activate', p('race-challenge.json'), '--out', p('race-proof.json')])).code, 0);
    const out = p('race-record.json');
    const runs = await Promise.all([1, 2, 3, 4].map(() => tollgate(['appraise', 'enroll', '--finish', p('race-proof.json'), '--enrolment-id', id, '--state', state, '--out', out, '--json'])));
    assert.deepEqual(runs.map((r) => r.code).sort(), [0, 1, 1, 1], runs.map((r) => r.stdout).join('\n'));
    for (const r of runs.filter((x) => x.code !== 0)) assert.equal(r.json.error.code, 'ENROL_REPLAYED');
    parseDeviceRecord(readFileSync(out));
    // No temp files left next to the record or in the state.
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('race-record') || n.startsWith('.race-record')), ['race-record.json']);
    assert.deepEqual(readdirSync(join(state, 'pending')), []);
  });

  it('refuses hostile request files: malformed, truncated, unknown members, oversized, a FIFO, a directory, a device, missing', async () => {
    const state = p('state-hostile');
    const good = readFileSync(p('request.json'), 'utf8');
    const files: Array<[string, string | Buffer, number, string]> = [
      ['garbage.json', '{"ekCerts": [', 1, 'ENROL_REQUEST_INVALID'],
      ['truncated.json', good.slice(0, good.length / 2), 1, 'ENROL_REQUEST_INVALID'],
      ['extra.json', JSON.stringify({ ...JSON.parse(good), trustMe: true }), 1, 'ENROL_REQUEST_INVALID'],
      ['not-base64.json', JSON.stringify({ ...JSON.parse(good), akName: 'AAs!!' }), 1, 'ENROL_REQUEST_INVALID'],
      ['deep.json', '['.repeat(100_000), 1, 'ENROL_REQUEST_INVALID'],
      ['huge.json', Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20), 1, 'INPUT_TOO_LARGE'],
      ['utf16.json', Buffer.from(good, 'utf16le'), 1, 'ENROL_REQUEST_INVALID'],
    ];
    for (const [name, content, exit, code] of files) {
      writeFileSync(p(name), content);
      const r = await tollgate(['appraise', 'enroll', p(name), '--state', state, '--out', p('h-challenge.json'), ...ekCA(), '--json']);
      expectError(r, exit, code);
    }
    spawnSync('mkfifo', [p('fifo.json')]);
    assert.ok(statSync(p('fifo.json')).isFIFO());
    // Nobody ever writes to the FIFO: a reader that opened it would block until the spawn timeout.
    for (const [path, exit, code] of [[p('fifo.json'), 2, 'INPUT_NOT_REGULAR'], [dir, 2, 'INPUT_NOT_REGULAR'], ['/dev/zero', 2, 'INPUT_NOT_REGULAR'], [p('nope.json'), 2, 'INPUT_NOT_FOUND']] as const) {
      const r = await tollgate(['appraise', 'enroll', path, '--state', state, '--out', p('h-challenge.json'), ...ekCA(), '--json']);
      expectError(r, exit, code);
    }
    // The proof and the challenge files get the same treatment.
    writeFileSync(p('bad-proof.json'), JSON.stringify({ proof: Buffer.alloc(31).toString('base64') }));
    expectError(await tollgate(['appraise', 'enroll', '--finish', p('bad-proof.json'), '--enrolment-id', 'a'.repeat(32), '--state', state, '--json']), 1, 'ENROL_PROOF_INVALID');
    expectError(await tollgate(['appraise', 'enroll', '--finish', p('fifo.json'), '--enrolment-id', 'a'.repeat(32), '--state', state, '--json']), 2, 'INPUT_NOT_REGULAR');
    writeFileSync(p('bad-challenge.json'), JSON.stringify({ enrolmentId: '../../x', credentialBlob: '', encryptedSecret: '', expiresAt: 'never' }));
    expectError(await tollgate(['enroll', 'activate', p('bad-challenge.json'), '--out', p('h-proof.json'), '--json']), 1, 'ENROL_CHALLENGE_INVALID');
    expectError(await tollgate(['enroll', 'activate', p('fifo.json'), '--out', p('h-proof.json'), '--json']), 2, 'INPUT_NOT_REGULAR');
    // Every file was refused before the state directory was even opened.
    assert.ok(!existsSync(state));
    assert.ok(!existsSync(p('h-challenge.json')) && !existsSync(p('h-proof.json')));
  });

  it('exits 2 for usage mistakes, naming what to fix', async () => {
    const state = p('state-usage');
    const cases: Array<[string[], string]> = [
      [['appraise', 'enroll', '--finish', p('proof.json'), '--enrolment-id', '../../etc/passwd', '--state', state], 'ENROL_ID_INVALID'],
      [['appraise', 'enroll', '--finish', p('proof.json'), '--state', state], 'CLI_MISSING_OPTION'],
      [['appraise', 'enroll', p('request.json'), '--out', p('u.json')], 'CLI_MISSING_OPTION'],
      [['appraise', 'enroll', p('request.json'), '--state', state, '--out', p('u.json'), '--ttl', '10m'], 'CLI_OPTION_VALUE'],
      [['appraise', 'enroll', p('request.json'), '--state', state, '--out', p('u.json'), '--ek-ca', p('no-such-ca.pem')], 'EK_ROOT_STORE_INVALID'],
      [['appraise', 'enroll', '--finish', p('proof.json'), '--enrolment-id', 'a'.repeat(32), '--state', state, '--ek-ca', 'x.pem'], 'CLI_OPTION_CONFLICT'],
      [['enroll', 'request', '--out', p('u.json'), '--ek', 'dsa'], 'CLI_OPTION_VALUE'],
      [['enroll', 'request', '--out', p('u.json'), '--hostname', 'bad\u0007name'], 'ENROL_OPTIONS_INVALID'],
    ];
    for (const [args, code] of cases) {
      const r = await tollgate([...args, '--json']);
      assert.equal(r.json.error.code, code, `${args.join(' ')}: ${r.json.error.message}`);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.json.error.message}`);
    }
    assert.ok(!existsSync(p('u.json')));
  });
});
