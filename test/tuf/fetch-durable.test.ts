// `tollgate fetch` of a target that is already at --out: the gate seeds its private staging copy
// from --out, TUF finds it matching ("already present") and the allow renames that copy over the
// good file at --out. The copy must be on disk before the rename, or a power cut right after it can
// leave --out empty or torn. A power cut cannot be had in a test; what can be checked is the order
// of the system calls, so the fetch runs under strace (real process, real swtpm, real repository
// on loopback) and the test asserts that the file renamed onto --out was fsynced first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../agent/cli.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { startTufServer, type TufServer } from '../fixtures/tuf/index.ts';
import { gateRepo } from '../fixtures/gate/index.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'agent', 'main.ts');
const APP = Buffer.alloc(256 * 1024, 0x61);
let sw: Swtpm;
let server: TufServer;
let work: string;
let rootBytes: Buffer;

before(async () => {
  sw = await startSwtpm({ ek: false });
  work = mkdtempSync(join(tmpdir(), 'tg-durable-'));
  const g = await gateRepo();
  await g.addArtifact('app.bin', APP);
  g.repo.commit();
  rootBytes = g.repo.rootBytes();
  server = await startTufServer(g.repo);
});
after(async () => {
  await server?.close();
  await sw?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runCli(args, { stdout: (s) => { out += s; }, stderr: (s) => { out += s; }, env: { ...process.env, TOLLGATE_TPM: sw.uri }, cwd: work, tty: false });
  return { code, out };
}

function run(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env: { ...process.env, TOLLGATE_TPM: sw.uri }, cwd: work, timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.once('error', reject);
    c.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The two path arguments of a rename/renameat/renameat2 line of strace -s 4096 output. */
function renamePaths(line: string): [string, string] | undefined {
  if (!/^\d+\s+rename(at2?)?\(/.test(line)) return undefined;
  const q = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
  return q.length >= 2 ? [q[q.length - 2]!, q[q.length - 1]!] : undefined;
}

test('fetch when --out already holds the target: the staged copy is fsynced before it is renamed over --out', async () => {
  const state = join(work, 'state');
  const out = join(work, 'installed', 'app.bin');
  writeFileSync(join(work, 'root.json'), rootBytes);
  assert.equal((await cli(['init', '--repo', server.url, '--root', 'root.json', '--state', state])).code, 0);
  const first = await cli(['fetch', 'app.bin', '--out', out, '--state', state]);
  assert.equal(first.code, 0, first.out);

  const trace = join(work, 'strace.txt');
  // Asynchronously: the repository server runs in this process.
  const r = await run('strace', ['-f', '-qq', '-y', '-s', '4096', '--seccomp-bpf', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', '-o', trace,
    process.execPath, MAIN, 'fetch', 'app.bin', '--out', out, '--state', state, '--json']);
  assert.equal(r.status, 0, `${r.stdout} ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { decision: string; cached: boolean; path: string };
  assert.equal(doc.decision, 'allow');
  assert.equal(doc.cached, true, 'the "already present" path was taken');
  assert.deepEqual(readFileSync(out), APP);

  const lines = readFileSync(trace, 'utf8').split('\n');
  const at = lines.findIndex((l) => renamePaths(l)?.[1] === out && / = 0$/.test(l));
  assert.ok(at >= 0, `no rename onto ${out} in the trace:\n${lines.join('\n')}`);
  const staged = renamePaths(lines[at]!)![0];
  assert.ok(staged.includes('.gate-'), `renamed from ${staged}, not from the staging directory`);
  const synced = lines.slice(0, at).some((l) => /^\d+\s+f(data)?sync\(\d+</.test(l) && l.includes(`<${staged}>`) && / = 0$/.test(l));
  assert.ok(synced, `${staged} was renamed over ${out} without an fsync:\n${lines.slice(0, at + 1).join('\n')}`);
});
