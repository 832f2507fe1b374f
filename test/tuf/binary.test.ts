// The TUF commands through the single binary (dist/tollgate, built by `npm test` before the suites
// run), copied away from node_modules: init, update, fetch, bundle create + update --bundle, and
// the conformance client, against a loopback repository and a real swtpm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { RepoBuilder, startTufServer, type TufServer } from '../fixtures/tuf/index.ts';

const DIST = join(import.meta.dirname, '..', '..', 'dist');
let dir = '';
let bin = '';
let sw: Swtpm;
let server: TufServer;
const repo = new RepoBuilder();

before(async () => {
  assert.ok(existsSync(join(DIST, 'tollgate')), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
  dir = mkdtempSync(join(tmpdir(), 'tollgate-tufbin-'));
  bin = join(dir, 'tollgate');
  copyFileSync(join(DIST, 'tollgate'), bin);
  chmodSync(bin, 0o755);
  sw = await startSwtpm({ ek: false });
  repo.addTarget('app.bin', Buffer.alloc(300_000, 7));
  repo.commit();
  server = await startTufServer(repo);
  writeFileSync(join(dir, 'root.json'), repo.rootBytes());
});
after(async () => {
  await server?.close();
  await sw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Async spawn: the loopback server lives in this process and must keep answering.
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runIn([bin, ...args]);
}

function runIn(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { cwd: dir, env: { PATH: '/usr/bin:/bin', TOLLGATE_TPM: sw.uri } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('dist/tollgate: init, update, fetch, rollback refused, bundle, conformance', async () => {
  const init = await run(['init', '--repo', server.url, '--root', 'root.json', '--state', 'st', '--json']);
  assert.equal(init.code, 0, init.stderr + init.stdout);
  assert.equal(JSON.parse(init.stdout).anchor.handle, '0x01500020');
  const up = await run(['update', '--state', 'st', '--json']);
  assert.equal(up.code, 0, up.stderr + up.stdout);
  const f = await run(['fetch', 'app.bin', '--out', 'out/app.bin', '--state', 'st', '--json']);
  assert.equal(f.code, 0, f.stderr + f.stdout);
  assert.equal(readFileSync(join(dir, 'out', 'app.bin')).length, 300_000);
  assert.equal(f.stderr, '', 'no progress output when stderr is not a terminal');
  // On a terminal (script(1) gives the binary a pty) the download draws a progress bar.
  const tty = await runIn(['script', '-qec', `${bin} fetch app.bin --out out/tty.bin --state st`, '/dev/null']);
  assert.equal(tty.code, 0, tty.stdout);
  assert.match(tty.stdout, /\[#+\] 100% /);
  // The repository rolls its timestamp back below the TPM floor: exit 1, TUF_ROLLBACK.
  repo.touch('timestamp');
  repo.commit();
  assert.equal((await run(['update', '--state', 'st'])).code, 0);
  repo.serveRoleVersion('timestamp', 1);
  const rb = await run(['update', '--state', 'st', '--json']);
  assert.equal(rb.code, 1);
  assert.match(rb.stdout, /TUF_ROLLBACK/);
  repo.rollbackTo(repo.commit().index);
  // Offline: publish, bundle, update a second (air-gapped) device from the bundle.
  repo.publish(join(dir, 'pub'));
  const mk = await run(['bundle', 'create', '--repo', 'pub', '--targets', '*.bin', '--out', 'b.tar']);
  assert.equal(mk.code, 0, mk.stderr);
  assert.equal((await run(['init', '--repo', 'http://127.0.0.1:9/', '--root', 'root.json', '--state', 'st2', '--nv-index', '0x01500060'])).code, 0);
  const ub = await run(['update', '--bundle', 'b.tar', '--state', 'st2', '--json']);
  assert.equal(ub.code, 0, ub.stderr + ub.stdout);
  assert.equal(JSON.parse(ub.stdout).source, 'bundle');
  // Conformance client protocol.
  assert.equal((await run(['conformance', 'tuf', '--metadata-dir', 'cm', 'init', 'root.json'])).code, 0);
  const cr = await run(['conformance', 'tuf', '--metadata-url', server.base('metadata'), '--metadata-dir', 'cm', '--target-name', 'app.bin',
    '--target-dir', 'ct', '--target-base-url', server.base('targets'), 'download']);
  assert.equal(cr.code, 0, cr.stderr);
  assert.ok(existsSync(join(dir, 'ct', 'app.bin')));
});
