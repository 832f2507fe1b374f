// Crash safety: a child process runs `update` (or `fetch`) against a loopback repository and a real
// swtpm and is SIGKILLed at a random moment (after a random delay, or at the N-th crash point inside
// the write/commit/TPM sequence). Every child either dies by SIGKILL or finishes with the latest
// versions; the state never bricks, never trusts a torn file, and the TPM floor never exceeds what
// is on disk. Then every state file is corrupted in turn: recovery from the pinned root + floor.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { openTPM } from '../../hardware/index.ts';
import { RepoBuilder, startTufServer, type TufServer } from '../fixtures/tuf/index.ts';
import { initDevice, updateDevice, deviceTPM, TufError, type UpdateResult } from '../../tuf/index.ts';
import { TpmAnchor } from '../../tuf/anchor.ts';
import { fetchTarget } from './fetch-target.ts';
import { readGateConfig } from '../../agent/gate-config.ts';
import { GateError } from '../../agent/errors.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let sw: Swtpm;
let work: string;
let child: string;

before(async () => {
  sw = await startSwtpm({ ek: false });
  work = mkdtempSync(join(tmpdir(), 'tg-crash-'));
  // One bundled file starts several times faster than the TypeScript sources: 200+ children.
  child = join(work, 'crash-child.mjs');
  execFileSync(join(ROOT, 'node_modules/.bin/esbuild'), [join(ROOT, 'test/tuf/crash-child.ts'), '--bundle', '--platform=node', '--format=esm', `--outfile=${child}`, '--log-level=warning',
    // tuf-js is CommonJS: give the ESM bundle a require().
    "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"]);
});
after(async () => {
  await sw.stop();
  rmSync(work, { recursive: true, force: true });
});

/**
 * The TPM is opened only for the duration of `fn`: swtpm serves one client at a time. A SIGKILLed
 * child leaves its sessions and transient objects loaded (swtpm over TCP has no resource manager;
 * on a device, /dev/tpmrm0 flushes them when the process dies). Nothing else uses this swtpm, so
 * whatever is loaded when we connect belongs to a dead child: flush it, as the kernel RM would.
 */
async function withTPM<T>(fn: (dev: ReturnType<typeof deviceTPM>) => Promise<T>): Promise<T> {
  const tpm = await openTPM(sw.uri);
  try {
    for (const ht of [0x02, 0x03, 0x80]) for (const h of await tpm.handles(ht)) await tpm.flushContext(h);
    return await fn(deviceTPM(tpm));
  } finally { await tpm.close(); }
}

interface Outcome { killed: boolean; code: number | null; stderr: string; ms: number }

function runChild(env: Record<string, string>, killAfterMs?: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child], {
      env: { ...process.env, NODE_COMPILE_CACHE: join(work, 'ncc'), TG_TPM: sw.uri, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const started = Date.now();
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    p.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', code, stderr, ms: Date.now() - started });
    });
  });
}

function rnd(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

function checkTrustedFiles(state: string): void {
  // Whatever a crash left, every trusted file is complete JSON (atomic writes) and no temp remains
  // after the next successful run.
  for (const d of ['metadata', 'roots']) {
    const dir = join(state, d);
    if (!existsSync(dir)) continue;
    for (const n of readdirSync(dir)) {
      assert.ok(!n.endsWith('.tmp'), `stale temp ${d}/${n}`);
      JSON.parse(readFileSync(join(dir, n), 'utf8'));
    }
  }
}

test('update survives SIGKILL at 200 random points (crash points and random delays)', async (t) => {
  const repo = new RepoBuilder();
  repo.addTarget('app.bin', Buffer.alloc(64 * 1024, 1));
  repo.delegate('targets', 'team', { paths: ['team/*'] });
  repo.addTarget('team/tool', 'tool v0', { role: 'team' });
  repo.commit();
  const server: TufServer = await startTufServer(repo);
  const state = join(work, 'state');
  const out = join(work, 'out');
  mkdirSync(out, { recursive: true });
  const base = 0x01500020;
  await withTPM((dev) => initDevice({ stateDir: state, tpm: dev, repo: server.url, rootBytes: repo.rootBytes(), anchorHandle: base }));
  const env = { TG_STATE: state };
  const random = rnd(0xC0FFEE);
  let killed = 0;
  let completed = 0;
  const stats: Record<string, number> = { 'point killed': 0, 'point completed': 0, 'delay killed': 0, 'delay completed': 0 };
  const TRIALS = 200;
  // Random delays are drawn within how long an uninterrupted child actually runs on this machine
  // (3/4 of the median so far), not within a fixed span: with a fixed span, a machine where children
  // finish faster than the span lets most delay trials complete, and the "both paths exercised"
  // count below would depend on machine speed rather than on the code.
  const runMs: number[] = [];
  const delaySpan = (): number => {
    if (runMs.length === 0) return 180;
    const sorted = [...runMs].sort((a, b) => a - b);
    return Math.max(1, Math.floor(0.75 * sorted[sorted.length >> 1]!));
  };
  try {
    for (let i = 0; i < TRIALS; i++) {
      // The repository moves on every trial, so every update has work to do.
      if (i % 3 === 0) repo.addTarget('app.bin', Buffer.alloc(64 * 1024, i & 0xff));
      if (i % 5 === 0) repo.addTarget('team/tool', `tool v${i}`, { role: 'team' });
      if (i % 40 === 39) repo.rotateRoot();
      repo.commit();
      const fetch = i % 4 === 1;
      const e: Record<string, string> = { ...env, ...(fetch ? { TG_TARGET: i % 8 === 1 ? 'team/tool' : 'app.bin', TG_OUT: join(out, 'target') } : {}) };
      let o: Outcome;
      const atPoint = random() < 0.6;
      if (atPoint) o = await runChild({ ...e, TOLLGATE_CRASH_AT: String(1 + Math.floor(random() * 40)) });
      else o = await runChild(e, Math.floor(random() * delaySpan()));
      if (!o.killed) runMs.push(o.ms);
      stats[`${atPoint ? 'point' : 'delay'} ${o.killed ? 'killed' : 'completed'}`]++;
      if (o.killed) {
        killed++;
        // Metadata is committed before the floor is raised: the TPM never holds a floor above the
        // versions on disk, so a crash cannot lock the device out of its own state.
        const floors = await withTPM(async (dev) => (await TpmAnchor.load(dev, base)).floors());
        for (const role of ['timestamp', 'snapshot'] as const) {
          const p = join(state, 'metadata', `${role}.json`);
          if (!existsSync(p)) continue;
          const v = (JSON.parse(readFileSync(p, 'utf8')) as { signed: { version: number } }).signed.version;
          assert.ok(floors[role] <= v, `trial ${i}: ${role} floor ${floors[role]} above the version on disk ${v}`);
        }
        continue;
      }
      assert.equal(o.code, 0, `trial ${i}: a run that was not killed must succeed (state bricked?): ${o.stderr}`);
      completed++;
    }
    // Recovery check after the last (possibly killed) run: an update completes with the latest
    // versions, the TPM floors equal them, and every trusted file is whole.
    const u: UpdateResult = await withTPM((dev) => updateDevice({ stateDir: state, tpm: dev, limits: { retries: 0 } }));
    assert.equal(u.versions.timestamp, repo.version('timestamp'));
    assert.equal(u.versions.snapshot, repo.version('snapshot'));
    assert.equal(u.versions.root, repo.version('root'));
    const floors = await withTPM(async (dev) => (await TpmAnchor.load(dev, base)).floors());
    assert.deepEqual(floors, { root: repo.version('root'), timestamp: repo.version('timestamp'), snapshot: repo.version('snapshot') });
    checkTrustedFiles(state);
    const f = await withTPM((dev) => fetchTarget({ stateDir: state, tpm: dev, target: 'team/tool', out: join(out, 'final'), limits: { retries: 0 } }));
    assert.equal(readFileSync(f.path, 'utf8'), `tool v${Math.floor((TRIALS - 1) / 5) * 5}`);
    // A killed download may leave its hidden staging file; the next download of that destination
    // removes it, and nothing unverified ever appears under a target's name.
    await withTPM((dev) => fetchTarget({ stateDir: state, tpm: dev, target: 'app.bin', out: join(out, 'target'), limits: { retries: 0 } }));
    assert.deepEqual(readdirSync(out).filter((n) => n.endsWith('.part')), [], 'stale staging files cleaned');
    assert.equal(readFileSync(join(out, 'target')).length, 64 * 1024);
    t.diagnostic(`${JSON.stringify(stats)}, delays drawn within ${delaySpan()} ms`);
    assert.ok(killed >= 80 && completed >= 20, `killed ${killed}, completed ${completed}: both paths exercised`);
  } finally {
    await server.close();
  }
});

test('init survives SIGKILL at each of its TPM steps', async () => {
  const repo = new RepoBuilder();
  repo.commit();
  const root = join(work, 'init-root.json');
  writeFileSync(root, repo.rootBytes());
  // Points inside init: counter define/initialise ×3, record define/write, state writes.
  for (let k = 1; k <= 12; k++) {
    const base = 0x01500100 + 0x40 * k;
    const state = join(work, `init-${k}`);
    const o = await runChild({ TG_INIT_ROOT: root, TG_STATE: state, TG_BASE: String(base), TOLLGATE_CRASH_AT: String(k) });
    assert.ok(o.killed || o.code === 0, o.stderr);
    // Running init again always completes, and the device then works.
    const r = await withTPM((dev) => initDevice({ stateDir: state, tpm: dev, repo: 'http://127.0.0.1:9/', rootBytes: repo.rootBytes(), anchorHandle: base }));
    assert.equal(r.root.version, 1);
    const a = await withTPM((dev) => TpmAnchor.load(dev, base));
    assert.equal(a.record.rootDigest.toString('hex'), r.root.sha256);
  }
});

test('init through the gate: gate.json comes before the TUF state, so no crash point leaves state without it', async (t) => {
  const repo = new RepoBuilder();
  repo.commit();
  const root = join(work, 'gate-init-root.json');
  writeFileSync(root, repo.rootBytes());
  let killed = 0;
  let completed = false;
  // Every crash point inside init, in order, until one lies beyond its last step.
  for (let k = 1; k <= 60 && !completed; k++) {
    const base = 0x01501000 + 0x40 * k;
    const stateRoot = join(work, `gate-init-${k}`);
    const o = await runChild({ TG_GATE_INIT_ROOT: root, TG_STATE_ROOT: stateRoot, TG_BASE: String(base), TG_POLICY: 'tollgate/policy.json', TOLLGATE_CRASH_AT: String(k) });
    assert.ok(o.killed || o.code === 0, o.stderr);
    if (o.killed) killed++;
    else completed = true;
    // State that makes the device look initialised always comes with the operator's mandatory policy.
    if (existsSync(join(stateRoot, 'tuf', 'config.json'))) {
      assert.equal(readGateConfig(stateRoot).policyTarget, 'tollgate/policy.json', `crash point ${k}: TUF state without gate.json`);
    }
  }
  t.diagnostic(`${killed} crash points inside init, then a complete run`);
  assert.ok(completed, 'init completed once the crash point lay beyond its last step');
  assert.ok(killed >= 6, `only ${killed} crash points inside init`);
  // And a missing gate.json next to existing TUF state is a typed configuration error, never "no policy".
  const stateRoot = join(work, `gate-init-${killed + 1}`);
  rmSync(join(stateRoot, 'gate.json'));
  assert.throws(() => readGateConfig(stateRoot), (e: unknown) => e instanceof GateError && e.code === 'GATE_CONFIG' && e.exitCode === 2 && /run `tollgate init` again/.test(e.message));
});

test('every state file corrupted in turn: never trusted, never bricks (except the pinned root, which is refused)', async () => {
  const repo = new RepoBuilder();
  repo.addTarget('app.bin', 'app');
  repo.delegate('targets', 'team', { paths: ['team/*'] });
  repo.addTarget('team/tool', 'tool', { role: 'team' });
  repo.commit();
  repo.rotateRoot();
  repo.commit();
  const server = await startTufServer(repo);
  const state = join(work, 'corrupt-state');
  const base = 0x01500F00;
  try {
    await withTPM((dev) => initDevice({ stateDir: state, tpm: dev, repo: server.url, rootBytes: repo.rootBytes(), anchorHandle: base }));
    const run = () => withTPM((dev) => fetchTarget({ stateDir: state, tpm: dev, target: 'team/tool', out: join(work, 'corrupt-out'), limits: { retries: 0 } }));
    await run();
    const files = ['metadata/timestamp.json', 'metadata/snapshot.json', 'metadata/targets.json', 'metadata/team.json', 'roots/2.root.json', 'time.json'];
    for (const f of files) assert.ok(existsSync(join(state, f)), f);
    const corruptions: Array<[string, (b: Buffer) => Buffer]> = [
      ['truncated', (b) => b.subarray(0, b.length >> 1)],
      ['empty', () => Buffer.alloc(0)],
      ['garbage', (b) => Buffer.alloc(b.length, 0x5a)],
      ['bit flip', (b) => { const c = Buffer.from(b); c[c.length >> 1] ^= 0x04; return c; }],
    ];
    for (const f of files) {
      for (const [what, fn] of corruptions) {
        const p = join(state, f);
        const orig = readFileSync(p);
        writeFileSync(p, fn(orig));
        repo.touch('timestamp');
        repo.commit();
        const r = await run();
        assert.equal(r.update.versions.timestamp, repo.version('timestamp'), `${f} ${what}`);
        checkTrustedFiles(state);
        if (f.startsWith('metadata/')) assert.ok(statSync(p).size > 0, `${f} restored after ${what}`);
      }
    }
    // The pinned root is the one file that cannot be recovered from the network: refused, typed.
    const pinned = join(state, 'root.pinned.json');
    const orig = readFileSync(pinned);
    writeFileSync(pinned, orig.subarray(0, 100));
    await assert.rejects(run(), (e: unknown) => e instanceof TufError && e.code === 'TUF_ROOT_MISMATCH');
    writeFileSync(pinned, orig);
    // A corrupted config is reported as such (re-init with the same root repairs it).
    writeFileSync(join(state, 'config.json'), '{"layout":');
    await assert.rejects(run(), (e: unknown) => e instanceof TufError && e.code === 'TUF_STATE');
    await withTPM((dev) => initDevice({ stateDir: state, tpm: dev, repo: server.url, rootBytes: repo.rootBytes(), anchorHandle: base }));
    await run();
  } finally {
    await server.close();
  }
});
