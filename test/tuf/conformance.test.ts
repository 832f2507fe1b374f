// The tuf-conformance client protocol (no TPM): trusted metadata under non-versioned names,
// caching, repeated targets through one updater stopping at the first failure, and the TUF
// behaviours the suite checks (delegation walk, root rotation, fast-forward recovery).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RepoBuilder, startTufServer, type TufServer } from '../fixtures/tuf/index.ts';
import { conformanceInit, conformanceRefresh, conformanceDownload, TufError } from '../../tuf/index.ts';

let work: string;
before(() => { work = mkdtempSync(join(tmpdir(), 'tg-conf-')); });
after(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
async function client(repo: RepoBuilder): Promise<{ server: TufServer; meta: string; tdir: string; refresh: () => Promise<void>; download: (...names: string[]) => ReturnType<typeof conformanceDownload> }> {
  const server = await startTufServer(repo);
  const d = join(work, `c${n++}`);
  const rootFile = join(work, `root-${n}.json`);
  writeFileSync(rootFile, repo.rootBytes());
  const meta = join(d, 'metadata');
  const tdir = join(d, 'targets');
  conformanceInit(meta, rootFile);
  return {
    server, meta, tdir,
    refresh: () => conformanceRefresh(server.base('metadata'), meta),
    download: (...names: string[]) => conformanceDownload({ metadataUrl: server.base('metadata'), metadataDir: meta, targetNames: names, targetDir: tdir, targetBaseUrl: server.base('targets') }),
  };
}

const code = (c: string) => (e: unknown) => e instanceof TufError && e.code === c;
const version = (meta: string, role: string) => (JSON.parse(readFileSync(join(meta, `${role}.json`), 'utf8')) as { signed: { version: number } }).signed.version;

test('refresh stores trusted metadata under non-versioned names', async () => {
  const repo = new RepoBuilder();
  repo.addTarget('a.txt', 'A');
  repo.commit();
  const c = await client(repo);
  try {
    await c.refresh();
    assert.deepEqual(readdirSync(c.meta).sort(), ['root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
    repo.addTarget('b.txt', 'B');
    repo.commit();
    await c.refresh();
    assert.equal(version(c.meta, 'timestamp'), 2);
    assert.equal(version(c.meta, 'targets'), 2);
  } finally { await c.server.close(); }
});

test('download caches by hash and processes repeated names in order, stopping at the first failure', async () => {
  const repo = new RepoBuilder();
  repo.addTarget('a.txt', 'A');
  repo.addTarget('dir/b.txt', 'B');
  repo.commit();
  const c = await client(repo);
  try {
    const r = await c.download('a.txt', 'dir/b.txt', 'a.txt');
    assert.deepEqual(r.map((x) => [x.target, x.cached]), [['a.txt', false], ['dir/b.txt', false], ['a.txt', true]]);
    assert.equal(readFileSync(join(c.tdir, 'dir%2Fb.txt'), 'utf8'), 'B');
    const aRel = repo.targetRels('a.txt')[0]!;
    assert.equal(c.server.count(aRel), 1, 'cached target not downloaded again');
    // missing target in the middle: later ones are not fetched
    c.server.resetCounts();
    rmSync(c.tdir, { recursive: true });
    await assert.rejects(c.download('a.txt', 'nope.txt', 'dir/b.txt'), code('TUF_TARGET_NOT_FOUND'));
    assert.ok(existsSync(join(c.tdir, 'a.txt')));
    assert.equal(existsSync(join(c.tdir, 'dir%2Fb.txt')), false);
    assert.equal(c.server.log.filter((l) => l.startsWith('targets/')).length, 1);
    // content changed upstream: same file name, new bytes
    repo.addTarget('a.txt', 'A2');
    repo.commit();
    const r2 = await c.download('a.txt');
    assert.equal(r2[0]!.cached, false);
    assert.equal(readFileSync(join(c.tdir, 'a.txt'), 'utf8'), 'A2');
  } finally { await c.server.close(); }
});

test('delegations: path patterns, terminating roles and succinct hash bins', async () => {
  const repo = new RepoBuilder({ keyType: 'ecdsa' });
  repo.delegate('targets', 'first', { paths: ['lib/*'], terminating: true });
  repo.delegate('targets', 'second', { paths: ['lib/*', 'bin/*'] });
  repo.addTarget('lib/x.so', 'from-first', { role: 'first' });
  repo.addTarget('lib/y.so', 'from-second', { role: 'second' }); // hidden: 'first' is terminating
  repo.addTarget('bin/tool', 'tool', { role: 'second' });
  repo.delegateHashBins('second', { bitLength: 4 });
  repo.commit();
  const c = await client(repo);
  try {
    await c.download('lib/x.so', 'bin/tool');
    assert.equal(readFileSync(join(c.tdir, 'lib%2Fx.so'), 'utf8'), 'from-first');
    await assert.rejects(c.download('lib/y.so'), code('TUF_TARGET_NOT_FOUND'));
    // a path outside every pattern is never looked up in the delegated roles
    c.server.resetCounts();
    await assert.rejects(c.download('etc/passwd'), code('TUF_TARGET_NOT_FOUND'));
    assert.equal(c.server.log.filter((l) => /first|second/.test(l)).length, 0);
  } finally { await c.server.close(); }
});

test('hash-bin targets are found through the right bin only', async () => {
  const repo = new RepoBuilder();
  repo.delegateHashBins('targets', { bitLength: 6 });
  for (let i = 0; i < 50; i++) repo.addBinnedTarget(`pkg/${i}.tgz`, `content ${i}`);
  repo.commit();
  const c = await client(repo);
  try {
    c.server.resetCounts();
    await c.download('pkg/17.tgz');
    const bins = c.server.log.filter((l) => l.includes('bins-'));
    assert.deepEqual(bins, [repo.metadataRel(repo.binFor('pkg/17.tgz'), repo.version(repo.binFor('pkg/17.tgz')))]);
    assert.equal(readFileSync(join(c.tdir, 'pkg%2F17.tgz'), 'utf8'), 'content 17');
  } finally { await c.server.close(); }
});

test('root rotation with a threshold change is followed; an under-signed rotation is refused', async () => {
  const repo = new RepoBuilder({ keyType: 'rsa' });
  repo.addTarget('a.txt', 'A');
  repo.commit();
  const c = await client(repo);
  try {
    await c.refresh();
    repo.rotateRoot({ keyCount: 3, threshold: 2 });
    repo.commit();
    await c.refresh();
    assert.equal(version(c.meta, 'root'), 2);
    // v3 signed by only one of the three v2 keys (threshold 2): refused
    const k = repo.keysOf('root');
    repo.rotateRoot({ keyCount: 1, threshold: 1, signers: [k[0]!] });
    repo.commit();
    await assert.rejects(c.refresh(), code('TUF_SIGNATURE'));
    assert.equal(version(c.meta, 'root'), 2);
  } finally { await c.server.close(); }
});

test('fast-forward recovery: a timestamp key rotation lets versions restart', async () => {
  const repo = new RepoBuilder();
  repo.addTarget('a.txt', 'A');
  repo.setVersion('timestamp', 1000); // fast-forwarded by an attacker holding the old key
  repo.commit();
  const c = await client(repo);
  try {
    await c.refresh();
    assert.equal(version(c.meta, 'timestamp'), 1000);
    repo.setRoleKeys('timestamp', [repo.newKey()]);
    repo.setVersion('timestamp', 1);
    repo.commit();
    await c.refresh();
    assert.equal(version(c.meta, 'timestamp'), 1);
  } finally { await c.server.close(); }
});

test('a corrupted local file is not trusted and does not brick the client', async () => {
  const repo = new RepoBuilder();
  repo.addTarget('a.txt', 'A');
  repo.commit();
  const c = await client(repo);
  try {
    await c.refresh();
    for (const role of ['timestamp', 'snapshot', 'targets']) {
      const p = join(c.meta, `${role}.json`);
      const orig = readFileSync(p);
      writeFileSync(p, orig.subarray(0, orig.length >> 1));
      await c.refresh();
      assert.deepEqual(readFileSync(p), orig, `${role} restored`);
    }
  } finally { await c.server.close(); }
});
