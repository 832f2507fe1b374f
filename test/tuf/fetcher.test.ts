// The fetchers against a real misbehaving loopback server, a file:// tree and a bundle: byte caps
// (endless data), throughput floor (slow retrieval), read timeout (stall), retries with backoff,
// 404 as tuf-js expects it, and the streaming target download that never exposes unverified bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DownloadHTTPError } from '../../tuf/tufjs.ts';
import { startTufServer, type TufServer } from '../fixtures/tuf/index.ts';
import { TufError } from '../../tuf/index.ts';
import { HttpFetcher } from '../../tuf/fetcher-http.ts';
import { FileFetcher } from '../../tuf/fetcher-file.ts';
import { BundleFetcher } from '../../tuf/bundle.ts';
import { writeTar } from '../../tuf/tar.ts';
import { downloadTarget, type TargetInfo } from '../../tuf/download.ts';

let dir: string;
let server: TufServer;
const files = new Map<string, Buffer>();
const body = Buffer.alloc(200_000, 9);
files.set('f/data.bin', body);
files.set('f/small.txt', Buffer.from('small'));

const fast = { retries: 0, readTimeoutMs: 400, graceMs: 300, minBytesPerSecond: 2000, backoffMs: 10 };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-fetch-'));
  server = await startTufServer(files, { holdMs: 3000 });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function isCode(code: string) {
  return (e: unknown) => e instanceof TufError && e.code === code;
}

function info(path: string, data: Buffer): TargetInfo {
  return { path, length: data.length, hashes: { sha256: createHash('sha256').update(data).digest('hex'), sha512: createHash('sha512').update(data).digest('hex') } };
}

test('http: plain download, and 404 surfaces as tuf-js DownloadHTTPError', async () => {
  const f = new HttpFetcher(fast);
  try {
    assert.deepEqual(await f.downloadBytes(server.url + 'f/small.txt', 100), Buffer.from('small'));
    await assert.rejects(f.downloadBytes(server.url + 'f/missing', 100), (e: unknown) => e instanceof DownloadHTTPError && e.statusCode === 404);
  } finally { f.close(); }
});

test('http: redirects are followed (bounded)', async () => {
  const f = new HttpFetcher(fast);
  try {
    server.misbehave('f/moved.txt', { kind: 'redirect', location: '/f/small.txt', status: 301 });
    assert.deepEqual(await f.downloadBytes(server.url + 'f/moved.txt', 100), Buffer.from('small'));
    server.misbehave('f/loop', { kind: 'redirect', location: '/f/loop' });
    await assert.rejects(f.downloadBytes(server.url + 'f/loop', 100), isCode('TUF_HTTP'));
  } finally { f.close(); server.clear(); }
});

test('http: endless data is cut at the cap', async () => {
  server.misbehave('f/data.bin', { kind: 'endless' }, { times: 1 });
  const f = new HttpFetcher(fast);
  try {
    await assert.rejects(f.downloadBytes(server.url + 'f/data.bin', 1_000_000), isCode('TUF_ENDLESS_DATA'));
  } finally { f.close(); server.clear(); }
});

test('http: a Content-Length above the cap is refused before reading', async () => {
  const f = new HttpFetcher(fast);
  try {
    await assert.rejects(f.downloadBytes(server.url + 'f/data.bin', 1000), isCode('TUF_ENDLESS_DATA'));
  } finally { f.close(); }
});

test('http: slow retrieval trips the throughput floor', async () => {
  server.misbehave('f/data.bin', { kind: 'slow', intervalMs: 50, bytesPerTick: 10 }, { times: 1 });
  const f = new HttpFetcher({ ...fast, readTimeoutMs: 5000 });
  try {
    await assert.rejects(f.downloadBytes(server.url + 'f/data.bin', 1_000_000), isCode('TUF_SLOW_RETRIEVAL'));
  } finally { f.close(); server.clear(); }
});

test('http: a stalled body hits the read timeout', async () => {
  server.misbehave('f/data.bin', { kind: 'stall', afterBytes: 1000 }, { times: 1 });
  const f = new HttpFetcher({ ...fast, minBytesPerSecond: 0 });
  try {
    await assert.rejects(f.downloadBytes(server.url + 'f/data.bin', 1_000_000), isCode('TUF_TIMEOUT'));
  } finally { f.close(); server.clear(); }
});

test('http: transient failures are retried with backoff, then succeed', async () => {
  server.misbehave('f/data.bin', { kind: 'status', status: 503 }, { times: 1 });
  server.misbehave('f/data.bin', { kind: 'drop', afterBytes: 100 }, { times: 1 });
  server.misbehave('f/data.bin', { kind: 'hangup' }, { times: 1 });
  server.resetCounts();
  const f = new HttpFetcher({ ...fast, retries: 3 });
  try {
    assert.ok((await f.downloadBytes(server.url + 'f/data.bin', 1_000_000)).equals(body));
    assert.equal(server.count('f/data.bin'), 4);
  } finally { f.close(); server.clear(); }
});

test('http: retries give up after the configured count', async () => {
  server.misbehave('f/data.bin', { kind: 'status', status: 500 });
  server.resetCounts();
  const f = new HttpFetcher({ ...fast, retries: 2 });
  try {
    await assert.rejects(f.downloadBytes(server.url + 'f/data.bin', 1_000_000), (e: unknown) => e instanceof DownloadHTTPError && e.statusCode === 500);
    assert.equal(server.count('f/data.bin'), 3);
  } finally { f.close(); server.clear(); }
});

test('http: 4xx is not retried', async () => {
  server.misbehave('f/data.bin', { kind: 'status', status: 403 });
  server.resetCounts();
  const f = new HttpFetcher({ ...fast, retries: 3 });
  try {
    await assert.rejects(f.downloadBytes(server.url + 'f/data.bin', 1_000_000), DownloadHTTPError);
    assert.equal(server.count('f/data.bin'), 1);
  } finally { f.close(); server.clear(); }
});

test('http: connection refused is a typed network error', async () => {
  const f = new HttpFetcher(fast);
  try {
    // A port nobody listens on: bind, learn the port, close.
    const s = await startTufServer(new Map());
    const url = s.url;
    await s.close();
    await assert.rejects(f.downloadBytes(url + 'x', 10), isCode('TUF_NETWORK'));
  } finally { f.close(); }
});

test('download: verified bytes land atomically; bad bytes never appear under the name', async () => {
  const f = new HttpFetcher(fast);
  const dest = join(dir, 'out.bin');
  try {
    const good = info('data.bin', body);
    const r = await downloadTarget({ fetcher: f, url: server.url + 'f/data.bin', info: good, dest });
    assert.equal(r.cached, false);
    assert.ok(readFileSync(dest).equals(body));
    server.resetCounts();
    const again = await downloadTarget({ fetcher: f, url: server.url + 'f/data.bin', info: good, dest });
    assert.equal(again.cached, true);
    assert.equal(server.count('f/data.bin'), 0, 'a matching cached file is not downloaded again');

    const dest2 = join(dir, 'out2.bin');
    // wrong hash (one of two listed): arbitrary-software attack
    const wrong = { ...good, hashes: { ...good.hashes, sha512: '00'.repeat(64) } };
    await assert.rejects(downloadTarget({ fetcher: f, url: server.url + 'f/data.bin', info: wrong, dest: dest2 }), isCode('TUF_HASH_MISMATCH'));
    // shorter than listed
    await assert.rejects(downloadTarget({ fetcher: f, url: server.url + 'f/small.txt', info: { ...good, path: 'small' }, dest: dest2 }), isCode('TUF_LENGTH_MISMATCH'));
    // endless data for a listed length
    server.misbehave('f/data.bin', { kind: 'endless' }, { times: 1 });
    await assert.rejects(downloadTarget({ fetcher: f, url: server.url + 'f/data.bin', info: good, dest: dest2 }), isCode('TUF_ENDLESS_DATA'));
    assert.equal(existsSync(dest2), false);
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.part')), [], 'staging files removed');
    // an existing but tampered destination is replaced by the verified download
    writeFileSync(dest, 'tampered');
    const fixed = await downloadTarget({ fetcher: f, url: server.url + 'f/data.bin', info: good, dest });
    assert.equal(fixed.cached, false);
    assert.ok(readFileSync(dest).equals(body));
  } finally { f.close(); server.clear(); }
});

test('download: escaping target paths and unknown hash algorithms are refused', async () => {
  const f = new HttpFetcher(fast);
  try {
    for (const p of ['../evil', '/etc/passwd', 'a/../../b', 'a/%2e%2e/b', '..%2fevil', 'C:/x', 'a\\..\\b']) {
      await assert.rejects(downloadTarget({ fetcher: f, url: server.url + 'f/small.txt', info: { ...info(p, Buffer.from('small')) }, dest: join(dir, 'esc') }), isCode('TUF_TARGET_PATH_INVALID'), p);
    }
    await assert.rejects(downloadTarget({ fetcher: f, url: server.url + 'f/small.txt', info: { path: 's', length: 5, hashes: { md5: 'x' } }, dest: join(dir, 'md5') }), TufError);
    assert.equal(existsSync(join(dir, 'esc')), false);
  } finally { f.close(); }
});

test('file:// fetcher: reads files, 404 for missing, cap enforced', async () => {
  const root = join(dir, 'filerepo');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'a.json'), '{"x":1}');
  const f = new FileFetcher(fast);
  const base = pathToFileURL(root + '/').toString();
  assert.equal((await f.downloadBytes(base + 'a.json', 100)).toString(), '{"x":1}');
  await assert.rejects(f.downloadBytes(base + 'nope.json', 100), (e: unknown) => e instanceof DownloadHTTPError && e.statusCode === 404);
  await assert.rejects(f.downloadBytes(base + 'a.json', 3), isCode('TUF_ENDLESS_DATA'));
});

test('bundle fetcher: serves archive entries by URL path, 404 otherwise', async () => {
  const out = join(dir, 'b.tar');
  await writeTar(out, [
    { name: 'metadata/1.root.json', data: Buffer.from('r1'), size: 2 },
    { name: 'targets/dir/a b.txt', data: Buffer.from('spaced'), size: 6 },
  ]);
  const f = new BundleFetcher(out, fast);
  assert.equal((await f.downloadBytes('tollgate-bundle:///metadata/1.root.json', 10)).toString(), 'r1');
  assert.equal((await f.downloadBytes('tollgate-bundle:///targets/dir/a%20b.txt', 10)).toString(), 'spaced');
  await assert.rejects(f.downloadBytes('tollgate-bundle:///metadata/2.root.json', 10), (e: unknown) => e instanceof DownloadHTTPError && e.statusCode === 404);
  await assert.rejects(f.downloadBytes('tollgate-bundle:///metadata/1.root.json', 1), isCode('TUF_ENDLESS_DATA'));
  await assert.rejects(f.downloadBytes('tollgate-bundle:///metadata/%2e%2e/%2e%2e/etc/passwd', 10), DownloadHTTPError);
});
