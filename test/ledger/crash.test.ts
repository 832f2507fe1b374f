// Power-cut safety of the ledger: a child process (crash-child.ts) opens the ledger and appends
// records to a real swtpm in a loop, and is SIGKILLed at a random point: at the N-th crash point
// (between write and fdatasync, between fdatasync and the NV extend, after the extend, inside
// recovery), after a random delay into its append loop, or while it opens (and repairs) the ledger.
// Some kills are followed by a simulated power cut that tears the append in flight (a partial
// last line). After every kill the parent replays the file against the TPM index without changing
// anything: it must be consistent, or exactly a crash away from it (a torn tail to drop, the last
// record synced but not extended), and every record the child saw acknowledged must be there. The
// next child must repair exactly that and record it.
//
// 60 trials in `npm test`; TOLLGATE_LONG_TESTS=1 (`npm run test:long`) runs 1,000.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { openTPM, type TPM } from '../../hardware/index.ts';
import { Ledger, checkLedger, LedgerFile, type LedgerCheck } from '../../agent/ledger/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const LONG = process.env.TOLLGATE_LONG_TESTS === '1';
const TRIALS = LONG ? 1000 : 60;
const APPENDS = 10;
let sw: Swtpm;
let work: string;
let child: string;

before(async () => {
  sw = await startSwtpm({ ek: false });
  work = mkdtempSync(join(tmpdir(), 'tg-ledger-crash-'));
  // One bundled file starts several times faster than the TypeScript sources.
  child = join(work, 'crash-child.mjs');
  execFileSync(join(ROOT, 'node_modules/.bin/esbuild'), [join(ROOT, 'test/ledger/crash-child.ts'), '--bundle', '--platform=node', '--format=esm', `--outfile=${child}`, '--log-level=warning',
    // Some bundled dependencies are CommonJS: give the ESM bundle a require().
    "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"]);
});
after(async () => {
  await sw.stop();
  rmSync(work, { recursive: true, force: true });
});

async function withTPM<T>(fn: (tpm: TPM) => Promise<T>): Promise<T> {
  // swtpm: URIs reclaim what a killed child left loaded (its sessions), as /dev/tpmrm0 would.
  const tpm = await openTPM(sw.uri);
  try { return await fn(tpm); } finally { await tpm.close(); }
}

interface Outcome { killed: boolean; code: number | null; stdout: string; stderr: string; openMs?: number; appendMs?: number }
type Kill = { kind: 'point'; at: number } | { kind: 'open'; ms: number } | { kind: 'appending'; ms: number } | { kind: 'none' };

function runChild(state: string, kill: Kill): Promise<Outcome> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child], {
      env: { ...process.env, NODE_COMPILE_CACHE: join(work, 'ncc'), TG_TPM: sw.uri, TG_STATE: state, TG_APPENDS: String(APPENDS), ...(kill.kind === 'point' ? { TOLLGATE_LEDGER_CRASH_AT: String(kill.at) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const started = Date.now();
    let opened: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (kill.kind === 'open') timer = setTimeout(() => p.kill('SIGKILL'), kill.ms);
    p.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (opened === undefined && stdout.includes('\n')) {
        opened = Date.now();
        if (kill.kind === 'appending') timer = setTimeout(() => p.kill('SIGKILL'), kill.ms);
      }
    });
    p.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const end = Date.now();
      resolve({ killed: signal === 'SIGKILL', code, stdout, stderr, ...(opened !== undefined ? { openMs: opened - started, appendMs: end - opened } : {}) });
    });
  });
}

function rnd(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

const med = (xs: number[], dflt: number): number => {
  if (xs.length === 0) return dflt;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

test(`ledger survives SIGKILL at ${TRIALS} random points (crash points, kills while appending and while opening, torn tails)`, async (t) => {
  const state = join(work, 'state');
  const file = LedgerFile.inState(state);
  await withTPM(async (tpm) => { await (await Ledger.open({ stateRoot: state, tpm })).close(); });
  const random = rnd(0x1ED6E5);
  const openMs: number[] = [];
  const appendMs: number[] = [];
  const stats = { killed: 0, completed: 0, byPoint: 0, whileAppending: 0, whileOpening: 0, tornTails: 0, rolledForward: 0, consistent: 0, repairsSeen: 0 };
  let maxAcked = -1;
  let expect: LedgerCheck | undefined;
  for (let i = 0; i < TRIALS; i++) {
    const r = random();
    const kill: Kill = r < 0.55 ? { kind: 'point', at: 1 + Math.floor(random() * 3 * APPENDS) }
      : r < 0.85 ? { kind: 'appending', ms: Math.floor(random() * med(appendMs, 150)) }
        : { kind: 'open', ms: Math.floor((0.5 + 0.7 * random()) * med(openMs, 300)) };
    const o = await runChild(state, kill);
    const [first, ...rest] = o.stdout.split('\n').filter((l) => l !== '');
    if (!o.killed) {
      assert.equal(o.code, 0, `trial ${i}: a child that was not killed must succeed: ${o.stderr}`);
      stats.completed++;
      if (o.openMs !== undefined) { openMs.push(o.openMs); appendMs.push(o.appendMs!); }
    } else {
      stats.killed++;
      stats[kill.kind === 'point' ? 'byPoint' : kill.kind === 'open' ? 'whileOpening' : 'whileAppending']++;
    }
    // The child's repair is exactly what the last check predicted.
    if (first !== undefined && expect) {
      const rec = (JSON.parse(first) as { recovered: Array<{ action: string; seq?: number; sha256?: string }> }).recovered;
      const want = [
        ...(expect.tail ? [{ action: 'torn-tail-dropped', sha256: expect.tail.sha256 }] : []),
        ...(expect.rollForward !== undefined ? [{ action: 'rolled-forward', seq: expect.rollForward }] : []),
      ];
      assert.deepEqual(rec.map((a) => ({ action: a.action, ...(a.sha256 ? { sha256: a.sha256 } : {}), ...(a.seq !== undefined ? { seq: a.seq } : {}) })), want, `trial ${i}: repair differs from the plan`);
      if (want.length) stats.repairsSeen++;
    }
    for (const l of rest) maxAcked = Math.max(maxAcked, Number(l));
    // A power cut tearing the append in flight: part of a line, never synced, so never extended.
    if (o.killed && random() < 0.15) {
      const line = readFileSync(file.path, 'utf8').trimEnd().split('\n').pop()!;
      appendFileSync(file.path, line.slice(0, 1 + Math.floor(random() * (line.length - 1))));
    }
    const c = await withTPM((tpm) => checkLedger(state, tpm));
    assert.ok(c.count - 1 >= maxAcked, `trial ${i}: acknowledged record ${maxAcked} is missing (${c.count} records)`);
    if (c.rollForward !== undefined) {
      assert.equal(c.rollForward, c.count - 1, `trial ${i}: only the last record can be unextended`);
      assert.ok(c.rollForward > maxAcked, `trial ${i}: an acknowledged record was not extended`);
      stats.rolledForward++;
    }
    if (c.tail) stats.tornTails++;
    if (c.status === 'consistent') stats.consistent++;
    expect = c;
  }
  // The last kill's leftovers are repaired by the next open, and then all is consistent.
  await withTPM(async (tpm) => { await (await Ledger.open({ stateRoot: state, tpm })).close(); });
  const final = await withTPM((tpm) => checkLedger(state, tpm));
  assert.equal(final.status, 'consistent');
  assert.ok(final.count - 1 >= maxAcked);
  t.diagnostic(`${JSON.stringify(stats)}; ${final.count} records, ${maxAcked + 1} acknowledged`);
  assert.ok(stats.killed >= TRIALS * 0.6, `only ${stats.killed} of ${TRIALS} children were killed`);
  assert.ok(stats.rolledForward >= 1 && stats.tornTails >= 1 && stats.repairsSeen >= 1, 'both repairs were exercised');
});
