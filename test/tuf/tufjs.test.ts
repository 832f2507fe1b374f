// The tuf-js adapter (tuf/tufjs.ts) against the real tuf-js: it is the only file that imports
// tuf-js, its self-check refuses unknown versions and shapes, and every message rule that
// classifies tuf-js's plain errors is hit by the message tuf-js really throws (so a tuf-js release
// that rewords one fails here, not in the field as a vague TUF_REPOSITORY).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Updater } from 'tuf-js';
import { RepoBuilder, startTufServer, type RepoOptions, type TufServer } from '../fixtures/tuf/index.ts';
import { conformanceInit, conformanceRefresh, conformanceDownload, TufError } from '../../tuf/index.ts';
import { checkTufJs, DownloadHTTPError, mapTufError, messageRule, MESSAGE_RULES, newTrustedSet } from '../../tuf/tufjs.ts';

const ROOT = resolve(import.meta.dirname, '../..');
let work: string;
before(() => { work = mkdtempSync(join(tmpdir(), 'tg-tufjs-')); });
after(() => rmSync(work, { recursive: true, force: true }));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('only tuf/tufjs.ts imports tuf-js in the product', () => {
  const importers = ['tuf', 'agent', 'attest', 'hardware', 'build'].flatMap((d) => sources(join(ROOT, d)))
    .filter((f) => /^\s*(?:import|export)\s[^'"]*?from\s+['"]tuf-js(?:\/[^'"]*)?['"]/m.test(readFileSync(f, 'utf8')))
    .map((f) => relative(ROOT, f));
  assert.deepEqual(importers, ['tuf/tufjs.ts']);
});

test('package.json pins tuf-js to 6.0.x, and the lock agrees', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.match(pkg.dependencies['tuf-js']!, /^~6\.0\.\d+$/);
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
  assert.equal(lock.packages['']!.dependencies!['tuf-js'], pkg.dependencies['tuf-js']);
  assert.match(lock.packages['node_modules/tuf-js']!.version!, /^6\.0\.\d+$/);
});

test('self-check: the installed tuf-js passes; another version or a missing hook is refused with a typed error', () => {
  checkTufJs();
  const repo = new RepoBuilder();
  repo.commit();
  const real = { version: '6.0.2', updater: Updater.prototype as object, store: Object.getPrototypeOf(newTrustedSet(repo.rootBytes())) as object, httpError: DownloadHTTPError as unknown };
  checkTufJs(real);
  const refused = (shape: typeof real, what: RegExp) => assert.throws(() => checkTufJs(shape), (e: unknown) => {
    assert.ok(e instanceof TufError, String(e));
    assert.equal(e.code, 'TUF_STATE');
    assert.equal(e.errorClass, 'environment');
    assert.match(e.message, what);
    return true;
  });
  for (const version of ['6.1.0', '7.0.0', '5.0.1', '6.0', undefined]) refused({ ...real, version: version as string }, /tuf-js 6\.0\.x/);
  refused({ ...real, updater: Object.create(Updater.prototype, { loadTargets: { value: undefined } }) as object }, /Updater\.loadTargets/);
  refused({ ...real, updater: Object.create(Updater.prototype, { persistMetadata: { value: undefined } }) as object }, /Updater\.persistMetadata/);
  refused({ ...real, store: {} }, /TrustedMetadataStore\.updateRoot/);
  refused({ ...real, httpError: undefined }, /DownloadHTTPError/);
});

// ------------------------------------------------------------------ message rules

interface Lab {
  repo: RepoBuilder;
  server: TufServer;
  refresh(): Promise<void>;
  /** Looks `name` up (walking delegations) and downloads it. */
  find(name: string): Promise<unknown>;
}

let n = 0;
/** A served repository with app.bin (and whatever `setup` adds) and a client that refreshed once. */
async function withLab(opts: RepoOptions, setup: ((r: RepoBuilder) => void) | undefined, fn: (l: Lab) => Promise<void>): Promise<void> {
  const repo = new RepoBuilder(opts);
  repo.addTarget('app.bin', 'v1');
  setup?.(repo);
  repo.commit();
  const server = await startTufServer(repo);
  const d = join(work, `c${n++}`);
  const rootFile = join(d + '.root.json');
  writeFileSync(rootFile, repo.rootBytes());
  const meta = join(d, 'metadata');
  conformanceInit(meta, rootFile);
  const lab: Lab = {
    repo, server,
    refresh: () => conformanceRefresh(server.base('metadata'), meta),
    find: (name) => conformanceDownload({ metadataUrl: server.base('metadata'), metadataDir: meta, targetNames: [name], targetDir: join(d, 'targets'), targetBaseUrl: server.base('targets') }),
  };
  try {
    await lab.refresh();
    await fn(lab);
  } finally {
    await server.close();
  }
}

/** `p` must fail with `code` through message rule `rule` (checked on tuf-js's raw message), with these details. */
async function refusedBy(p: Promise<unknown>, rule: string, code: string, details: Record<string, unknown> = {}): Promise<void> {
  let err: unknown;
  await assert.rejects(p, (e) => { err = e; return true; });
  assert.ok(err instanceof TufError, `expected a TufError, got ${String(err)}`);
  const raw = err.cause instanceof Error ? err.cause.message : '(no cause)';
  assert.equal(messageRule(raw), rule, `tuf-js said: ${raw}`);
  assert.equal(err.code, code, err.message);
  for (const [k, v] of Object.entries(details)) assert.deepEqual(err.details?.[k], v, `details.${k} (tuf-js said: ${raw})`);
  hit.add(rule);
}

const hit = new Set<string>();

test('rule expired: root, timestamp, snapshot, targets and a delegated role past their expiry', async () => {
  for (const role of ['root', 'timestamp', 'snapshot', 'targets', 'team']) {
    await withLab({}, (r) => { r.delegate('targets', 'team', { paths: ['team/*'] }); r.addTarget('team/x', 'x', { role: 'team' }); }, async (l) => {
      l.repo.expire(role);
      l.repo.commit();
      await refusedBy(role === 'team' ? l.find('team/x') : l.refresh(), 'expired', 'TUF_EXPIRED', { role });
    });
  }
});

test('rule rollback-trusted: a timestamp below the trusted one, and a timestamp naming an older snapshot', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.commit();
    await l.refresh();
    l.repo.serveRoleVersion('timestamp', 1);
    await refusedBy(l.refresh(), 'rollback-trusted', 'TUF_ROLLBACK', { role: 'timestamp', version: 1, floor: 2 });
  });
  await withLab({}, undefined, async (l) => {
    l.repo.touch('snapshot');
    l.repo.commit();
    await l.refresh();
    l.repo.setVersion('snapshot', 1);
    l.repo.commit();
    await refusedBy(l.refresh(), 'rollback-trusted', 'TUF_ROLLBACK', { role: 'snapshot', version: 1, floor: 2 });
  });
});

test('rule rollback-snapshot-meta: a new snapshot naming an older targets', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.addTarget('b.bin', 'b');
    l.repo.commit();
    await l.refresh();
    l.repo.setVersion('targets', 1);
    l.repo.commit();
    await refusedBy(l.refresh(), 'rollback-snapshot-meta', 'TUF_ROLLBACK', { role: 'targets', version: 1, floor: 2 });
  });
});

test('rule root-version: N.root.json claiming another version', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.setVersion('root', 3);
    l.repo.commit();
    l.repo.serve(l.repo.metadataRel('root', 2), l.repo.bytes('root', 3));
    await refusedBy(l.refresh(), 'root-version', 'TUF_VERSION_MISMATCH', { expected: 2, got: 3 });
  });
});

test('rule targets-version: old targets served with a new snapshot', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.addTarget('b.bin', 'b');
    l.repo.commit();
    l.repo.serveRoleVersion('targets', 1);
    await refusedBy(l.refresh(), 'targets-version', 'TUF_VERSION_MISMATCH', { role: 'targets', got: 1, expected: 2 });
  });
});

test('rule snapshot-version: a snapshot that is not the version the timestamp lists', async () => {
  await withLab({ timestampMeta: {} }, undefined, async (l) => {
    l.repo.touch('snapshot');
    l.repo.commit();
    l.repo.serveRoleVersion('snapshot', 1);
    await refusedBy(l.refresh(), 'snapshot-version', 'TUF_VERSION_MISMATCH');
  });
});

test('rule threshold: a timestamp signed by a key the root does not list', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.signWith('timestamp', [l.repo.newKey()]);
    l.repo.commit();
    await refusedBy(l.refresh(), 'threshold', 'TUF_SIGNATURE', { role: 'timestamp', valid: 0, threshold: 1 });
  });
});

test('rules length and hash: a snapshot that differs from the length and hash the timestamp lists', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.touch('snapshot');
    l.repo.commit();
    const rel = l.repo.metadataRel('snapshot', 2);
    const good = l.repo.bytes('snapshot', 2);
    l.repo.serve(rel, good.subarray(0, good.length - 1));
    await refusedBy(l.refresh(), 'length', 'TUF_LENGTH_MISMATCH');
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3] ^= 1;
    l.repo.serve(rel, flipped);
    await refusedBy(l.refresh(), 'hash', 'TUF_HASH_MISMATCH');
  });
});

test('rule missing-meta: a new snapshot dropping a file, and a delegated role the snapshot does not list', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.mutateSigned('snapshot', (s) => { delete (s['meta'] as Record<string, unknown>)['targets.json']; });
    l.repo.commit();
    await refusedBy(l.refresh(), 'missing-meta', 'TUF_REPOSITORY');
  });
  // The Updater swallows this one (it retries remotely and trips over the missing entry), so it
  // only reaches tollgate from tuf-js's trusted set directly; the rule must still know it.
  const repo = new RepoBuilder();
  repo.delegate('targets', 'team', { paths: ['team/*'] });
  repo.commit();
  const teamBytes = repo.bytes('team');
  repo.mutateSigned('snapshot', (s) => { delete (s['meta'] as Record<string, unknown>)['team.json']; });
  repo.commit();
  const set = newTrustedSet(repo.rootBytes());
  set.updateTimestamp(repo.bytes('timestamp'));
  set.updateSnapshot(repo.bytes('snapshot'));
  set.updateDelegatedTargets(repo.bytes('targets'), 'targets', 'root');
  let raw: unknown;
  assert.throws(() => set.updateDelegatedTargets(teamBytes, 'team', 'targets'), (e) => { raw = e; return true; });
  const mapped = mapTufError(raw);
  assert.equal(messageRule((raw as Error).message), 'missing-meta', String(raw));
  assert.equal(mapped.code, 'TUF_REPOSITORY');
  assert.match(mapped.message, /does not list team\.json/);
});

test('rule wrong-type: snapshot metadata served as the timestamp', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.commit();
    l.repo.serve(l.repo.metadataRel('timestamp'), l.repo.bytes('snapshot'));
    await refusedBy(l.refresh(), 'wrong-type', 'TUF_METADATA_INVALID');
  });
});

test('rule json: a timestamp that is not JSON', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.serve(l.repo.metadataRel('timestamp'), 'not json at all');
    await refusedBy(l.refresh(), 'json', 'TUF_METADATA_INVALID');
  });
});

test('rule http-status: a 500 on the snapshot, wrapped by tuf-js into a string', async () => {
  await withLab({}, undefined, async (l) => {
    l.repo.touch('snapshot');
    l.repo.commit();
    l.server.misbehave(l.repo.metadataRel('snapshot', 2), { kind: 'status', status: 500 });
    await refusedBy(l.refresh(), 'http-status', 'TUF_HTTP', { status: 500 });
  });
});

test('every message rule was proven against the real tuf-js above', () => {
  assert.deepEqual([...hit].sort(), [...MESSAGE_RULES].sort());
});

test('errors without a message rule are classified by their tuf-js class', async () => {
  // ValueError from the metadata models: a timestamp without spec_version.
  await withLab({}, undefined, async (l) => {
    l.repo.mutateSigned('timestamp', (s) => { delete s['spec_version']; });
    l.repo.commit();
    await assert.rejects(l.refresh(), (e) => e instanceof TufError && e.code === 'TUF_REPOSITORY' && /^The repository's metadata was refused: spec_version/.test(e.message));
  });
  // RuntimeError, tuf-js's wrapper around snapshot failures: a hash algorithm tuf-js does not know.
  await withLab({}, undefined, async (l) => {
    l.repo.mutateSigned('timestamp', (s) => { (s['meta'] as Record<string, { hashes?: Record<string, string> }>)['snapshot.json']!.hashes = { 'no-such-hash': '00' }; });
    l.repo.touch('snapshot');
    l.repo.commit();
    await assert.rejects(l.refresh(), (e) => e instanceof TufError && e.code === 'TUF_REPOSITORY' && /^The repository's metadata was refused: Unable to load snapshot/.test(e.message));
  });
});
