// The decisions `tollgate update` and `fetch` record, through the single binary against a real
// swtpm and a loopback repository laid out for the gate: each update's outcome, each fetch's allow
// or deny with the target's digest and the VSA's digest, in the ledger index that belongs to the
// anchor named at init. A fetch's record is on disk and in the TPM before the target is installed:
// killed at each step of that append, the fetch has installed nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { startTufServer, type TufServer } from '../fixtures/tuf/index.ts';
import { gateRepo, type GateRepo } from '../fixtures/gate/index.ts';
import { canonicalJSON, type LedgerRecord } from '../../agent/ledger/index.ts';

const DIST = join(import.meta.dirname, '..', '..', 'dist');
const ANCHOR = 0x015000a0;
const APP = Buffer.alloc(50_000, 0x61);
let dir = '';
let bin = '';
let sw: Swtpm;
let server: TufServer;
let g: GateRepo;

before(async () => {
  assert.ok(existsSync(join(DIST, 'tollgate')), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  dir = mkdtempSync(join(tmpdir(), 'tollgate-ledgerhooks-'));
  bin = join(dir, 'tollgate');
  copyFileSync(join(DIST, 'tollgate'), bin);
  chmodSync(bin, 0o755);
  sw = await startSwtpm({ ek: false });
  g = await gateRepo();
  await g.addArtifact('app.bin', APP);
  await g.addArtifact('vuln.bin', Buffer.alloc(40_000, 0x62), { lodash: '4.17.20' });
  g.repo.commit();
  server = await startTufServer(g.repo);
  writeFileSync(join(dir, 'root.json'), g.repo.rootBytes());
});
after(async () => {
  await server?.close();
  await sw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', TOLLGATE_TPM: sw.uri, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function records(): Promise<LedgerRecord[]> {
  const r = await run(['ledger', 'show', '--state', 'st', '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return (JSON.parse(r.stdout) as { records: LedgerRecord[] }).records;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('decisions in the ledger (dist/tollgate)', () => {
  it('update and fetch (allow and deny, with the VSA digest) are recorded in the index of the anchor named at init', async () => {
    const init = await run(['init', '--repo', server.url, '--root', 'root.json', '--state', 'st', '--nv-index', `0x${ANCHOR.toString(16)}`]);
    assert.equal(init.code, 0, init.stderr + init.stdout);
    const up = await run(['update', '--state', 'st']);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const ok = await run(['fetch', 'app.bin', '--out', 'out/app.bin', '--vsa-out', 'out/app.vsa.json', '--state', 'st']);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    const no = await run(['fetch', 'vuln.bin', '--out', 'out/vuln.bin', '--vsa-out', 'out/vuln.vsa.json', '--state', 'st']);
    assert.equal(no.code, 1, no.stderr + no.stdout);

    const rs = await records();
    assert.deepEqual(rs.map((r) => r.type), ['ledger.created', 'update', 'fetch', 'fetch']);
    assert.equal(rs[0]!.data.nvIndex, `0x${(ANCHOR + 0x3f).toString(16).padStart(8, '0')}`);
    assert.deepEqual(rs[1]!.data, { result: 'success', versions: { root: 1, timestamp: g.repo.version('timestamp'), snapshot: g.repo.version('snapshot'), targets: g.repo.version('targets') } });
    const vsaOf = (f: string) => sha256(canonicalJSON(JSON.parse(readFileSync(join(dir, 'out', f), 'utf8'))));
    assert.deepEqual({ ...rs[2]!.data, policySha256: undefined }, {
      decision: 'allow', target: 'app.bin', sha256: sha256(APP), length: APP.length, role: 'targets', vsaDigest: vsaOf('app.vsa.json'), policySha256: undefined,
    });
    assert.match(String(rs[2]!.data.policySha256), /^[0-9a-f]{64}$/);
    assert.equal(rs[3]!.data.decision, 'deny');
    assert.equal(rs[3]!.data.vsaDigest, vsaOf('vuln.vsa.json'));
    assert.ok((rs[3]!.data.failedChecks as string[]).some((c) => c.startsWith('vuln.')), JSON.stringify(rs[3]!.data));

    const v = await run(['ledger', 'verify', '--state', 'st', '--json']);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    assert.equal(JSON.parse(v.stdout).nvIndex.handle, `0x${(ANCHOR + 0x3f).toString(16).padStart(8, '0')}`);
  });

  it('a fetch killed at each step of recording its decision has installed nothing; the next run repairs and installs', async () => {
    // Crash points of the fetch record's append: 1 written, 2 synced, 3 extended (then the install).
    for (let at = 1; at <= 3; at++) {
      const out = `out/again-${at}.bin`;
      const r = await run(['fetch', 'app.bin', '--out', out, '--state', 'st'], { TOLLGATE_LEDGER_CRASH_AT: String(at) });
      assert.equal(r.signal, 'SIGKILL', `crash point ${at}: ${r.stderr}`);
      assert.equal(existsSync(join(dir, out)), false, `crash point ${at}: installed before its record was durable and extended`);
      const rs = await records();
      assert.equal(rs[rs.length - 1]!.type, 'fetch', `crash point ${at}: the decision is in the file`);
      const done = await run(['fetch', 'app.bin', '--out', out, '--state', 'st']);
      assert.equal(done.code, 0, done.stderr + done.stdout);
      assert.deepEqual(readFileSync(join(dir, out)), APP);
    }
    const rs = await records();
    // Killed before its extend (points 1, 2), the record was rolled forward by the next run.
    assert.equal(rs.filter((r) => r.type === 'ledger.recovered').length, 2);
    assert.equal((await run(['ledger', 'verify', '--state', 'st'])).code, 0);
  });

  it('a failed update is recorded with its error code; TOLLGATE_LEDGER_INDEX must be an owner-range NV index', async () => {
    await server.close();
    const up = await run(['update', '--state', 'st', '--json']);
    assert.equal(up.code, 3, up.stdout);
    const code = JSON.parse(up.stdout).error.code as string;
    const rs = await records();
    assert.deepEqual(rs[rs.length - 1]!.data, { result: 'failure', error: code });
    const bad = await run(['ledger', 'verify', '--state', 'st', '--json'], { TOLLGATE_LEDGER_INDEX: '0x81000001' });
    assert.equal(bad.code, 2);
    assert.equal(JSON.parse(bad.stdout).error.code, 'LEDGER_CONFIG');
  });
});
