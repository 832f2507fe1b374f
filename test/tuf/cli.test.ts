// The TUF commands through the real dispatcher (runCli) on a real swtpm: init / update / fetch over
// http and file://, offline bundles (create on the publishing side, update/fetch on an air-gapped
// device, tampered and hostile bundles refused), exit codes, --json, and the tuf-conformance
// client protocol (exit 0 / 1 only).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli } from '../../agent/cli.ts';
import type { CommandEntry } from '../../agent/commands/index.ts';
import { commands as tufCommands } from '../../agent/commands/tuf.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { RepoBuilder, startTufServer } from '../fixtures/tuf/index.ts';
import { TarReader, writeTar } from '../../tuf/tar.ts';

let sw: Swtpm;
let work: string;
const registry: CommandEntry[] = tufCommands.map((c) => ({ path: c.path, summary: c.summary, load: async () => ({ commands: [c] }) }));

before(async () => {
  sw = await startSwtpm({ ek: false });
  work = mkdtempSync(join(tmpdir(), 'tg-tufcli-'));
});
after(async () => {
  await sw.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Run { code: number; out: string; err: string; json: any }

async function cli(args: string[], env: Record<string, string> = {}, tty = false): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    stdout: (s) => { out += s; }, stderr: (s) => { err += s; },
    env: { ...process.env, TOLLGATE_TPM: sw.uri, ...env }, cwd: work, tty,
  }, registry);
  let json: unknown;
  try { json = JSON.parse(out); } catch { /* text mode */ }
  return { code, out, err, json };
}

let n = 0;
function repoWithApp(): RepoBuilder {
  const repo = new RepoBuilder({ keyType: 'ecdsa' });
  repo.addTarget('app.bin', Buffer.from('app bytes v1'));
  repo.addTarget('docs/readme.txt', 'read me');
  repo.commit();
  return repo;
}

test('init / update / fetch over http with exit codes and --json', async () => {
  const repo = repoWithApp();
  const server = await startTufServer(repo);
  const state = join(work, `s${n++}`);
  const rootFile = join(work, 'root-http.json');
  writeFileSync(rootFile, repo.rootBytes());
  try {
    const usage = await cli(['init', '--repo', server.url, '--state', state]);
    assert.equal(usage.code, 2, usage.err);
    const wrong = await cli(['init', '--repo', server.url, '--root', rootFile, '--root-sha256', '00'.repeat(32), '--state', state, '--json']);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.json.code ?? wrong.json.error?.code, 'TUF_ROOT_MISMATCH', wrong.out);
    const init = await cli(['init', '--repo', server.url, '--root', rootFile, '--state', state, '--json']);
    assert.equal(init.code, 0, init.out + init.err);
    assert.equal(init.json.anchor.handle, '0x01500020');
    const notYet = await cli(['update', '--state', join(work, 'nowhere'), '--json']);
    assert.equal(notYet.code, 2, 'no state dir is a usage/config error');
    const up = await cli(['update', '--state', state, '--json']);
    assert.equal(up.code, 0, up.out);
    assert.deepEqual(up.json.floors.after, { root: 1, timestamp: 1, snapshot: 1 });
    const text = await cli(['update', '--state', state]);
    assert.equal(text.code, 0);
    assert.match(text.out, /TPM floor: root 1, timestamp 1, snapshot 1/);
    const out = join(work, 'app.bin');
    const f = await cli(['fetch', 'app.bin', '--out', out, '--state', state, '--json']);
    assert.equal(f.code, 0, f.out);
    assert.equal(readFileSync(out, 'utf8'), 'app bytes v1');
    assert.equal(f.json.cached, false);
    const missing = await cli(['fetch', 'nope.bin', '--out', join(work, 'nope'), '--state', state, '--json']);
    assert.equal(missing.code, 1);
    repo.tamperTarget('docs/readme.txt', 'READ ME');
    const bad = await cli(['fetch', 'docs/readme.txt', '--out', join(work, 'readme'), '--state', state]);
    assert.equal(bad.code, 1);
    assert.equal(existsSync(join(work, 'readme')), false);
    // The network failing is an environment failure (exit 3).
    await server.close();
    const down = await cli(['update', '--state', state, '--json']);
    assert.equal(down.code, 3, down.out);
  } finally {
    await server.close();
  }
});

test('a file:// repository works like http', async () => {
  const repo = repoWithApp();
  const dir = join(work, 'filerepo');
  repo.publish(dir);
  const rootFile = join(work, 'root-file.json');
  writeFileSync(rootFile, repo.rootBytes());
  const state = join(work, `s${n++}`);
  const init = await cli(['init', '--repo', pathToFileURL(dir).toString(), '--root', rootFile, '--state', state, '--nv-index', '0x01500060', '--json']);
  assert.equal(init.code, 0, init.out + init.err);
  const out = join(work, 'file-app.bin');
  const f = await cli(['fetch', 'app.bin', '--out', out, '--state', state, '--json']);
  assert.equal(f.code, 0, f.out);
  assert.equal(readFileSync(out, 'utf8'), 'app bytes v1');
});

test('a state directory replaced by a file is a typed TUF_STATE error (exit 3) naming it, for update and fetch; moved away, it is rebuilt', async () => {
  const repo = repoWithApp();
  const dir = join(work, 'replaced-repo');
  repo.publish(dir);
  const rootFile = join(work, 'root-replaced.json');
  writeFileSync(rootFile, repo.rootBytes());
  const state = join(work, `s${n++}`);
  const init = await cli(['init', '--repo', pathToFileURL(dir).toString(), '--root', rootFile, '--state', state, '--nv-index', '0x015000E0', '--json']);
  assert.equal(init.code, 0, init.out + init.err);
  assert.equal((await cli(['update', '--state', state])).code, 0);
  for (const sub of ['metadata', 'roots']) {
    const p = join(state, 'tuf', sub);
    rmSync(p, { recursive: true, force: true });
    writeFileSync(p, 'not a directory');
    for (const args of [['update', '--state', state, '--json'], ['fetch', 'app.bin', '--out', join(work, 'replaced-app.bin'), '--state', state, '--json']]) {
      const r = await cli(args);
      assert.equal(r.code, 3, `${sub} ${args[0]}: ${r.out}`);
      assert.equal(r.json.error.code, 'TUF_STATE');
      assert.match(r.json.error.message, new RegExp(`${p} is not a directory.*Move it out of the way`));
    }
    rmSync(p);
    const again = await cli(['update', '--state', state, '--json']);
    assert.equal(again.code, 0, again.out);
  }
  assert.equal(existsSync(join(work, 'replaced-app.bin')), false);
});

test('offline bundle: create on the publisher, update and fetch on an air-gapped device', async () => {
  const repo = repoWithApp();
  repo.delegate('targets', 'team', { paths: ['team/*'] });
  repo.addTarget('team/tool', 'tool', { role: 'team' });
  repo.commit();
  repo.rotateRoot();
  repo.commit();
  const dir = join(work, 'pubrepo');
  repo.publish(dir);
  const bundle = join(work, 'update.tar');
  const mk = await cli(['bundle', 'create', '--repo', dir, '--targets', 'app.bin', '--targets', 'team/*', '--out', bundle, '--json']);
  assert.equal(mk.code, 0, mk.out + mk.err);
  assert.deepEqual(mk.json.targets, ['app.bin', 'team/tool']);
  const names = [...TarReader.open(bundle).entries.keys()];
  assert.ok(names.includes('metadata/2.root.json') && names.includes('metadata/timestamp.json'));
  assert.ok(!names.some((x) => x.includes('readme')), 'unselected targets are not bundled');

  const rootFile = join(work, 'root-bundle.json');
  writeFileSync(rootFile, repo.rootBytes());
  const state = join(work, `s${n++}`);
  // The device has no network: the repo URL points nowhere.
  assert.equal((await cli(['init', '--repo', 'http://127.0.0.1:9/', '--root', rootFile, '--state', state, '--nv-index', '0x015000A0'])).code, 0);
  const up = await cli(['update', '--bundle', bundle, '--state', state, '--json']);
  assert.equal(up.code, 0, up.out);
  assert.equal(up.json.source, 'bundle');
  assert.equal(up.json.versions.root, 2);
  const out = join(work, 'bundle-tool');
  const f = await cli(['fetch', 'team/tool', '--out', out, '--bundle', bundle, '--state', state, '--json']);
  assert.equal(f.code, 0, f.out);
  assert.equal(readFileSync(out, 'utf8'), 'tool');
  // Not in the bundle: the same workflow reports it as a repository/HTTP-like miss.
  const absent = await cli(['fetch', 'docs/readme.txt', '--out', join(work, 'bundle-readme'), '--bundle', bundle, '--state', state]);
  assert.notEqual(absent.code, 0);
  assert.equal(existsSync(join(work, 'bundle-readme')), false);

  // A bundle whose target bytes were swapped (same length) is refused by the TUF hashes.
  const t = TarReader.open(bundle);
  const swapped = join(work, 'swapped.tar');
  const entries = [...t.entries.values()].map((e) => {
    const data = readFileSync(bundle).subarray(e.offset, e.offset + e.size);
    return { name: e.name, data: e.name.endsWith('.tool') ? Buffer.from('TOOL') : data, size: e.size };
  });
  await writeTar(swapped, entries);
  const bad = await cli(['fetch', 'team/tool', '--out', join(work, 'swapped-tool'), '--bundle', swapped, '--state', state, '--json']);
  assert.equal(bad.code, 1, bad.out);
  assert.equal(existsSync(join(work, 'swapped-tool')), false);
  // An old bundle replayed after a newer update is a rollback.
  repo.touch('targets');
  repo.commit();
  const newer = join(work, 'pubrepo2');
  repo.publish(newer);
  const bundle2 = join(work, 'update2.tar');
  assert.equal((await cli(['bundle', 'create', '--repo', newer, '--targets', '**', '--out', bundle2])).code, 0);
  assert.equal((await cli(['update', '--bundle', bundle2, '--state', state])).code, 0);
  const replay = await cli(['update', '--bundle', bundle, '--state', state, '--json']);
  assert.equal(replay.code, 1);
  assert.equal(replay.json.code ?? replay.json.error?.code, 'TUF_ROLLBACK', replay.out);
  // Garbage instead of a bundle.
  const junk = join(work, 'junk.tar');
  writeFileSync(junk, Buffer.alloc(3000, 0x41));
  const j = await cli(['update', '--bundle', junk, '--state', state, '--json']);
  assert.equal(j.code, 1);
  assert.equal(j.json.code ?? j.json.error?.code, 'TUF_BUNDLE_INVALID', j.out);
});

test('conformance tuf: init / refresh / download with exit 0 and 1 only', async () => {
  const repo = repoWithApp();
  const server = await startTufServer(repo);
  const meta = join(work, 'conf-meta');
  const tdir = join(work, 'conf-targets');
  mkdirSync(meta, { recursive: true });
  const rootFile = join(work, 'conf-root.json');
  writeFileSync(rootFile, repo.rootBytes());
  try {
    assert.equal((await cli(['conformance', 'tuf', '--metadata-dir', meta, 'init', rootFile])).code, 0);
    const r = await cli(['conformance', 'tuf', '--metadata-url', server.base('metadata'), '--metadata-dir', meta, 'refresh']);
    assert.equal(r.code, 0, r.err);
    assert.ok(existsSync(join(meta, 'timestamp.json')) && existsSync(join(meta, 'snapshot.json')) && existsSync(join(meta, 'targets.json')));
    const d = await cli(['conformance', 'tuf', '--metadata-url', server.base('metadata'), '--metadata-dir', meta,
      '--target-name', 'app.bin', '--target-name', 'docs/readme.txt', '--target-dir', tdir, '--target-base-url', server.base('targets'), 'download']);
    assert.equal(d.code, 0, d.err);
    assert.equal(readFileSync(join(tdir, 'docs%2Freadme.txt'), 'utf8'), 'read me');
    const missing = await cli(['conformance', 'tuf', '--metadata-url', server.base('metadata'), '--metadata-dir', meta,
      '--target-name', 'nope', '--target-dir', tdir, '--target-base-url', server.base('targets'), 'download']);
    assert.equal(missing.code, 1);
    // Usage mistakes and network failures are still exit 1 in this protocol.
    assert.equal((await cli(['conformance', 'tuf', '--metadata-dir', meta, 'bogus'])).code, 1);
    assert.equal((await cli(['conformance', 'tuf', '--metadata-dir', meta, 'refresh'])).code, 1);
    repo.expire('timestamp');
    repo.commit();
    assert.equal((await cli(['conformance', 'tuf', '--metadata-url', server.base('metadata'), '--metadata-dir', meta, 'refresh'])).code, 1);
  } finally {
    await server.close();
  }
});
