// One writer at a time, through the single binary: concurrent `tollgate update` and `fetch` runs
// on a real swtpm and loopback repositories. swtpm serves one connection at a time, which would run
// whole processes one after the other; the runs that must overlap go through test/tpm-mux.ts,
// which interleaves their TPM commands the way /dev/tpmrm0 does on a device.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openTPM, TPM_CC } from '../../hardware/index.ts';
import { deviceTPM } from '../../tuf/index.ts';
import { TpmAnchor, type Floors } from '../../tuf/anchor.ts';
import { lockState, StateLockedError } from '../../tuf/state-lock.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { startTpmMux } from '../tpm-mux.ts';
import { RepoBuilder, startTufServer, type FileSource, type TufServer } from '../fixtures/tuf/index.ts';
import { gateRepo } from '../fixtures/gate/index.ts';

const DIST = join(import.meta.dirname, '..', '..', 'dist');
let dir = '';
let bin = '';
let sw: Swtpm;
let server: TufServer;
let nextBase = 0x01500020;
const repo = new RepoBuilder();

/**
 * Holds requests for matching paths until `n` of them are waiting, so n downloads overlap for sure
 * (after 30 s they go anyway, so a run that never gets there fails the test instead of hanging it).
 */
function meetAt(src: FileSource, match: RegExp, n: number): FileSource {
  let waiting: Array<() => void> = [];
  let seen = 0;
  const go = () => { waiting.forEach((r) => r()); waiting = []; };
  return {
    get(rel) {
      if (!match.test(rel) || ++seen > n) return src.get(rel);
      const p = new Promise<void>((resolve) => waiting.push(resolve));
      if (seen === n) go();
      else setTimeout(go, 30_000).unref();
      return p.then(() => src.get(rel));
    },
  };
}

before(async () => {
  assert.ok(existsSync(join(DIST, 'tollgate')), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  dir = mkdtempSync(join(tmpdir(), 'tollgate-lock-'));
  bin = join(dir, 'tollgate');
  copyFileSync(join(DIST, 'tollgate'), bin);
  chmodSync(bin, 0o755);
  sw = await startSwtpm({ ek: false });
  repo.addTarget('app.bin', Buffer.alloc(200_000, 3));
  repo.commit();
  server = await startTufServer(meetAt(repo, /^targets\/(?:[0-9a-f]+\.)?app\.bin$/, 2), { holdMs: 20_000 });
  writeFileSync(join(dir, 'root.json'), repo.rootBytes());
});
after(async () => {
  await server?.close();
  await sw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function start(args: string[], tpm = sw.uri, env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run>; stderr: () => string } {
  // TOLLGATE_TPM_RECLAIM=0: through the mux, a client must not flush the others' sessions.
  const child = spawn(bin, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', TOLLGATE_TPM: tpm, TOLLGATE_TPM_RECLAIM: tpm === sw.uri ? '1' : '0', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<Run>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}
const run = (args: string[], tpm?: string, env?: Record<string, string>) => start(args, tpm, env).done;

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(20);
}

async function initState(state: string, o: { base?: number; url?: string; root?: string } = {}): Promise<number> {
  const base = o.base ?? (nextBase += 0x40);
  const r = await run(['init', '--repo', o.url ?? server.url, '--root', o.root ?? 'root.json', '--state', state, '--nv-index', `0x${base.toString(16)}`]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return base;
}

async function floors(base: number): Promise<Floors> {
  const tpm = await openTPM(sw.uri);
  try {
    return await (await TpmAnchor.load(deviceTPM(tpm), base)).floors();
  } finally {
    await tpm.close();
  }
}

const versions = (): Floors => ({ root: repo.version('root'), timestamp: repo.version('timestamp'), snapshot: repo.version('snapshot') });

test('two updates at once on one state dir: the second waits for the first; the floor ends at the versions', async () => {
  const base = await initState('st-a');
  repo.setVersion('timestamp', 40);
  repo.setVersion('snapshot', 30);
  repo.commit();
  // Each process's first NV_Increment waits until the other has sent one too, if it can: without
  // the lock both raise from the same reading, by the full difference each.
  const mux = await startTpmMux(sw, { holdFirst: TPM_CC.NV_Increment });
  try {
    const [a, b] = await Promise.all([0, 1].map(() => run(['update', '--state', 'st-a', '--lock-wait', '120', '--json'], mux.uri)));
    assert.equal(a!.code, 0, a!.stderr + a!.stdout);
    assert.equal(b!.code, 0, b!.stderr + b!.stdout);
  } finally {
    await mux.close();
  }
  assert.deepEqual(await floors(base), versions());
  repo.touch('timestamp');
  repo.commit();
  const later = await run(['update', '--state', 'st-a', '--json']);
  assert.equal(later.code, 0, later.stderr + later.stdout);
  assert.equal(JSON.parse(later.stdout).floors.after.timestamp, repo.version('timestamp'));
});

test('two writers that bypass the lock (two state dirs on one TPM anchor) still stop at exactly the versions', async () => {
  const base = await initState('st-b1');
  await initState('st-b2', { base }); // the same root: "already pinned", same counters
  repo.setVersion('timestamp', repo.version('timestamp') + 77);
  repo.setVersion('snapshot', repo.version('snapshot') + 51);
  repo.commit();
  const mux = await startTpmMux(sw, { holdFirst: TPM_CC.NV_Increment });
  try {
    // One anchor has one ledger (its index derives from the anchor): the second state dir, a
    // second device as far as the ledger knows, keeps its ledger in another index.
    const rs = await Promise.all(['st-b1', 'st-b2'].map((s, i) => run(['update', '--state', s, '--json'], mux.uri, i ? { TOLLGATE_LEDGER_INDEX: `0x${(base + 0x3e).toString(16)}` } : {})));
    for (const r of rs) assert.equal(r.code, 0, r.stderr + r.stdout);
    // Both passed their held increments: the race happened (each raised at least once).
    assert.ok(rs.every((r) => JSON.parse(r.stdout).floors.increments > 0), 'both writers raised counters concurrently');
  } finally {
    await mux.close();
  }
  assert.deepEqual(await floors(base), versions());
});

test('a held lock: the next run says who holds it, waits, and fails with STATE_LOCKED (exit 3); it proceeds once released', async () => {
  await initState('st-c');
  const root = join(dir, 'st-c');
  const lock = await lockState(root, { command: 'test-holder', waitMs: 0 });
  try {
    const r = await run(['update', '--state', 'st-c', '--lock-wait', '0.3', '--json']);
    assert.equal(r.code, 3, r.stderr + r.stdout);
    const err = JSON.parse(r.stdout).error;
    assert.equal(err.code, 'STATE_LOCKED');
    assert.match(err.message, new RegExp(`tollgate test-holder \\(PID ${process.pid},`));
    assert.equal(err.details.holder.pid, process.pid);
    // A waiter that is still waiting when the lock is released goes on and succeeds.
    const w = start(['update', '--state', 'st-c', '--lock-wait', '600']);
    await until(() => /waiting up to 600 s/.test(w.stderr()));
    assert.match(w.stderr(), new RegExp(`in use by tollgate test-holder \\(PID ${process.pid}\\)`));
    lock.release();
    const done = await w.done;
    assert.equal(done.code, 0, done.stderr + done.stdout);
  } finally {
    lock.release();
  }
});

test('a lock holder killed with SIGKILL leaves nothing behind that blocks the next run', async () => {
  await initState('st-d');
  const root = join(dir, 'st-d');
  // The holder stalls on the network, holding the lock (and the TPM), until it is killed.
  server.misbehave('metadata/timestamp.json', { kind: 'stall', afterBytes: 0 });
  const before = server.count('metadata/timestamp.json');
  const h = start(['update', '--state', 'st-d']);
  try {
    await until(() => server.count('metadata/timestamp.json') > before);
    await assert.rejects(lockState(root, { command: 'test', waitMs: 0 }), (e: unknown) => e instanceof StateLockedError && (e.details as { holder?: { pid: number } }).holder?.pid === h.child.pid);
    h.child.kill('SIGKILL');
    assert.equal((await h.done).signal, 'SIGKILL');
  } finally {
    h.child.kill('SIGKILL');
    server.clear();
  }
  assert.ok(existsSync(join(root, 'lock.owner')), 'the killed holder left its (now stale) owner record');
  const next = await run(['update', '--state', 'st-d', '--lock-wait', '0', '--json']);
  assert.equal(next.code, 0, next.stderr + next.stdout);
});

/** Two fetches of app.bin to one --out at once, from two state dirs, through the mux. */
async function fetchPair(states: string[], out: string): Promise<Run[]> {
  const mux = await startTpmMux(sw);
  try {
    // The server holds both artifact requests until both are waiting: both stagings exist at once.
    return await Promise.all(states.map((s) => run(['fetch', 'app.bin', '--out', out, '--state', s, '--json'], mux.uri)));
  } finally {
    await mux.close();
  }
}

test('two plain fetches to the same --out at once (different state dirs) both install it: neither deletes the other\'s .part file', async () => {
  await initState('st-e1');
  await initState('st-e2');
  const rs = await fetchPair(['st-e1', 'st-e2'], 'out-e/app.bin');
  for (const r of rs) assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(readFileSync(join(dir, 'out-e', 'app.bin')), Buffer.alloc(200_000, 3));
  assert.deepEqual(readdirSync(join(dir, 'out-e')), ['app.bin'], 'no staging left behind');
});

test('two gated fetches to the same --out at once (different state dirs) both install it: neither deletes the other\'s staging dir', async () => {
  const g = await gateRepo();
  await g.addArtifact('app.bin', 'gated widget\n');
  g.repo.commit();
  const gs = await startTufServer(meetAt(g.repo, /^targets\/(?:[0-9a-f]+\.)?app\.bin$/, 2), { holdMs: 20_000 });
  try {
    writeFileSync(join(dir, 'groot.json'), g.repo.rootBytes());
    await initState('st-g1', { url: gs.url, root: 'groot.json' });
    await initState('st-g2', { url: gs.url, root: 'groot.json' });
    const rs = await fetchPair(['st-g1', 'st-g2'], 'out-g/app.bin');
    for (const r of rs) {
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.equal(JSON.parse(r.stdout).decision, 'allow');
    }
  } finally {
    await gs.close();
  }
  assert.equal(readFileSync(join(dir, 'out-g', 'app.bin'), 'utf8'), 'gated widget\n');
  assert.deepEqual(readdirSync(join(dir, 'out-g')), ['app.bin'], 'no staging left behind');
});
