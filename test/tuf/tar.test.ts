// The offline-bundle archive: our ustar writer round-trips, and the reader refuses hostile input
// with TUF_BUNDLE_INVALID (never a crash, never a path outside the archive).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { TufError } from '../../tuf/index.ts';
import { TarReader, writeTar, ustarHeader } from '../../tuf/tar.ts';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'tg-tar-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(r: TarReader, name: string): Promise<Buffer> {
  const e = r.get(name);
  assert.ok(e, `missing ${name}`);
  const parts: Buffer[] = [];
  for await (const c of r.stream(e)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function bad(buf: Buffer, label: string): void {
  const p = join(dir, `bad-${label}.tar`);
  writeFileSync(p, buf);
  assert.throws(() => TarReader.open(p), (e: unknown) => e instanceof TufError && e.code === 'TUF_BUNDLE_INVALID', label);
}

function archive(...blocks: Buffer[]): Buffer {
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

function entry(name: string, data: Buffer, mutate?: (h: Buffer) => void, fixSum = true): Buffer {
  const h = ustarHeader('placeholder', data.length);
  // Write the name raw (the writer refuses hostile names, so forge them here).
  h.fill(0, 0, 100);
  h.fill(0, 345, 500);
  Buffer.from(name).copy(h, 0, 0, Math.min(100, Buffer.byteLength(name)));
  mutate?.(h);
  if (fixSum) {
    h.fill(0x20, 148, 156);
    let s = 0;
    for (const b of h) s += b;
    Buffer.from(s.toString(8).padStart(6, '0') + '\0 ').copy(h, 148);
  }
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}

test('round trip: small, empty, exact-block, long-path and large entries', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
  const src = join(dir, 'big.bin');
  writeFileSync(src, big);
  const longName = 'targets/' + 'd'.repeat(120) + '/' + 'f'.repeat(90) + '.bin';
  const out = join(dir, 'rt.tar');
  const r = await writeTar(out, [
    { name: 'metadata/root.json', data: Buffer.from('{"a":1}'), size: 7 },
    { name: 'metadata/empty.json', data: Buffer.alloc(0), size: 0 },
    { name: 'targets/block', data: Buffer.alloc(512, 1), size: 512 },
    { name: longName, data: Buffer.from('x'), size: 1 },
    { name: 'targets/big.bin', path: src, size: big.length },
  ]);
  assert.equal(r.entries, 5);
  const t = TarReader.open(out);
  assert.deepEqual([...t.entries.keys()], ['metadata/root.json', 'metadata/empty.json', 'targets/block', longName, 'targets/big.bin']);
  assert.equal((await readAll(t, 'metadata/root.json')).toString(), '{"a":1}');
  assert.equal((await readAll(t, 'metadata/empty.json')).length, 0);
  assert.deepEqual(await readAll(t, 'targets/block'), Buffer.alloc(512, 1));
  assert.equal((await readAll(t, longName)).toString(), 'x');
  assert.ok((await readAll(t, 'targets/big.bin')).equals(big));
  // No temp files left next to the output.
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});

test('names longer than ustar allows travel in pax path records (also readable by GNU tar)', async () => {
  const hashName = 'targets/' + 'ab'.repeat(64) + '.app.bin';
  const deep = 'targets/' + Array.from({ length: 30 }, (_, i) => `dir${i}`).join('/') + '/file.bin';
  const out = join(dir, 'pax.tar');
  await writeTar(out, [
    { name: hashName, data: Buffer.from('hashed'), size: 6 },
    { name: deep, data: Buffer.from('deep'), size: 4 },
    { name: 'short', data: Buffer.from('s'), size: 1 },
  ]);
  const t = TarReader.open(out);
  assert.deepEqual([...t.entries.keys()], [hashName, deep, 'short']);
  assert.equal((await readAll(t, hashName)).toString(), 'hashed');
  const listed = execFileSync('tar', ['-tf', out]).toString().trim().split('\n');
  assert.deepEqual(listed, [hashName, deep, 'short']);
});

function pax(records: string, following?: Buffer): Buffer {
  const data = Buffer.from(records);
  const h = ustarHeader('PaxHeaders/x', data.length, 'x');
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad, ...(following ? [following] : [])]);
}

test('hostile pax headers are refused', () => {
  const rec = (k: string, v: string) => { const body = ` ${k}=${v}\n`; let n = body.length + 1; while (String(n).length + body.length !== n) n++; return `${n}${body}`; };
  const file = entry('short', Buffer.from('x'));
  bad(archive(pax(rec('path', '../../etc/passwd'), file)), 'pax path escaping');
  bad(archive(pax(rec('path', '/abs'), file)), 'pax absolute path');
  bad(archive(pax(rec('size', '1'), file)), 'pax size override');
  bad(archive(pax(rec('linkpath', '/etc/shadow'), file)), 'pax linkpath');
  bad(archive(pax('99 path=abc\n', file)), 'pax length past the data');
  bad(archive(pax('5 path=abc\n', file)), 'pax length too short');
  bad(archive(pax('x path=abc\n', file)), 'pax length not a number');
  bad(archive(pax(rec('noequals', '').replace('=', ''), file)), 'pax record without =');
  bad(archive(pax(rec('path', 'a'), pax(rec('path', 'b'), file))), 'two pax headers in a row');
  bad(archive(pax(rec('path', 'dangling'))), 'pax header at the end');
  const big = Buffer.alloc(512);
  const h = ustarHeader('PaxHeaders/big', 70 * 1024, 'x');
  bad(Buffer.concat([h, Buffer.alloc(70 * 1024), big, Buffer.alloc(1024)]), 'oversized pax header');
  // A well-formed pax path is used (and non-path records are ignored).
  const okp = join(dir, 'ok-pax.tar');
  writeFileSync(okp, archive(pax(rec('mtime', '123.5') + rec('path', 'long/name.bin'), file)));
  assert.deepEqual([...TarReader.open(okp).entries.keys()], ['long/name.bin']);
});

test('archives written by GNU tar in ustar format are readable', async () => {
  const src = join(dir, 'gnu');
  rmSync(src, { recursive: true, force: true });
  execFileSync('mkdir', ['-p', join(src, 'metadata')]);
  writeFileSync(join(src, 'metadata', 'timestamp.json'), 'ts');
  const out = join(dir, 'gnu.tar');
  execFileSync('tar', ['--format=ustar', '-C', src, '-cf', out, 'metadata']);
  const t = TarReader.open(out);
  assert.equal((await readAll(t, 'metadata/timestamp.json')).toString(), 'ts');
});

test('the writer refuses names that escape and duplicates', async () => {
  for (const name of ['../x', '/etc/passwd', 'a/../../b', 'a\\b', '']) {
    await assert.rejects(writeTar(join(dir, 'w.tar'), [{ name, data: Buffer.from('x'), size: 1 }]), TufError, name);
  }
  await assert.rejects(writeTar(join(dir, 'w.tar'), [
    { name: 'a', data: Buffer.from('x'), size: 1 }, { name: 'a', data: Buffer.from('y'), size: 1 },
  ]), TufError);
});

test('hostile archives are refused with TUF_BUNDLE_INVALID', () => {
  const ok = entry('metadata/a.json', Buffer.from('abc'));
  // sanity: the forged-entry helper makes valid archives
  writeFileSync(join(dir, 'ok.tar'), archive(ok));
  assert.equal(TarReader.open(join(dir, 'ok.tar')).entries.size, 1);

  bad(Buffer.alloc(0), 'empty file');
  bad(Buffer.from('not a tar at all'), 'garbage');
  bad(ok.subarray(0, 300), 'truncated header');
  bad(ok, 'no end-of-archive marker');
  bad(Buffer.concat([ok.subarray(0, 512), Buffer.from('ab')]), 'data runs past end');
  bad(archive(entry('metadata/a.json', Buffer.from('abc'), (h) => { h[0] = 0x4e; }, false)), 'bad checksum');
  bad(archive(entry('../../etc/passwd', Buffer.from('x'))), 'dot-dot name');
  bad(archive(entry('/etc/passwd', Buffer.from('x'))), 'absolute name');
  bad(archive(entry('a/./b', Buffer.from('x'))), 'dot segment');
  bad(archive(entry('a\\..\\b', Buffer.from('x'))), 'backslash');
  bad(archive(entry('a\u0001b', Buffer.from('x'))), 'control char');
  bad(archive(entry('dup', Buffer.from('x')), entry('dup', Buffer.from('y'))), 'duplicate');
  bad(archive(entry('link', Buffer.alloc(0), (h) => { h[156] = 0x32; Buffer.from('/etc/shadow').copy(h, 157); })), 'symlink');
  bad(archive(entry('hard', Buffer.alloc(0), (h) => { h[156] = 0x31; })), 'hard link');
  bad(archive(entry('dev', Buffer.alloc(0), (h) => { h[156] = 0x33; })), 'char device');
  bad(archive(entry('PaxHeader', Buffer.from('30 path=../../../../etc/x\n'), (h) => { h[156] = 0x78; })), 'pax header');
  bad(archive(entry('././@LongLink', Buffer.from('x'), (h) => { h[156] = 0x4c; })), 'GNU long name');
  bad(archive(entry('a', Buffer.from('x'), (h) => { h.fill(0, 124, 136); Buffer.from('0000000001z\0').copy(h, 124); })), 'non-octal size');
  bad(archive(entry('a', Buffer.from('x'), (h) => { h.fill(0, 124, 136); h[124] = 0x80; h[135] = 1; })), 'base-256 size');
  bad(archive(entry('a', Buffer.from('x'), (h) => { h.fill(0, 124, 136); Buffer.from('77777777777\0').copy(h, 124); })), 'huge size');
  bad(archive(entry('a', Buffer.from('x'), (h) => { Buffer.from('notar\0').copy(h, 257); })), 'bad magic');
  bad(archive(entry('a', Buffer.from('x'), (h) => { h[0] = 0xff; h[1] = 0xfe; })), 'invalid utf-8 name');
  bad(archive(entry('dir/', Buffer.from('x'))), 'file named like a directory');
  // a zero block followed by more data is not a clean end
  bad(Buffer.concat([ok, Buffer.alloc(512), entry('b', Buffer.from('x')), Buffer.alloc(1024)]), 'data after end marker');
});

test('a corrupted copy of a real bundle never yields an escaping name (fuzz)', async () => {
  const out = join(dir, 'fuzz-src.tar');
  await writeTar(out, [
    { name: 'metadata/root.json', data: Buffer.from('{"signed":{}}'), size: 13 },
    { name: 'targets/app.bin', data: Buffer.alloc(700, 3), size: 700 },
  ]);
  const orig = readFileSync(out);
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let i = 0; i < 300; i++) {
    const b = Buffer.from(orig);
    const flips = 1 + (rnd() % 8);
    for (let j = 0; j < flips; j++) b[rnd() % b.length] = rnd() & 0xff;
    const p = join(dir, 'fuzz.tar');
    writeFileSync(p, b.subarray(0, rnd() % 5 === 0 ? rnd() % b.length : b.length));
    try {
      const t = TarReader.open(p);
      for (const name of t.entries.keys()) {
        assert.ok(!name.startsWith('/') && !name.split('/').includes('..'), `escaping name ${name}`);
      }
      for (const e of t.entries.values()) assert.ok(e.offset + e.size <= b.length);
    } catch (e) {
      assert.ok(e instanceof TufError && e.code === 'TUF_BUNDLE_INVALID', `unexpected ${String(e)}`);
    }
  }
});

test('a FIFO or a device named as the bundle (update --bundle) is refused, never blocked on or read', () => {
  assert.throws(() => TarReader.open('/dev/zero'), (e: TufError) => e.code === 'INPUT_NOT_REGULAR' && e.exitCode === 2 && /character device/.test(e.message));
  const fifo = join(dir, 'bundle.fifo');
  execFileSync('mkfifo', [fifo]);
  // In a child: a blocking open would hang this whole process (it is synchronous).
  const tuf = join(import.meta.dirname, '..', '..', 'tuf', 'tar.ts');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { TarReader } from ${JSON.stringify(tuf)}; try { TarReader.open(${JSON.stringify(fifo)}); } catch (e) { console.log(e.code); }`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'opening the FIFO blocked (killed by the guard)');
  assert.equal(r.stdout.trim(), 'INPUT_NOT_REGULAR', r.stderr);
});

test('bundle create refuses repository metadata that is a FIFO instead of blocking on it', () => {
  const repo = join(dir, 'fifo-repo');
  mkdirSync(join(repo, 'metadata'), { recursive: true });
  writeFileSync(join(repo, 'metadata', 'timestamp.json'), '{}');
  execFileSync('mkfifo', [join(repo, 'metadata', 'root.json')]);
  const tuf = join(import.meta.dirname, '..', '..', 'tuf', 'index.ts');
  const code = `import { createBundle } from ${JSON.stringify(tuf)}; try { await createBundle(${JSON.stringify(repo)}, ['**'], ${JSON.stringify(join(dir, 'fifo.tar'))}); } catch (e) { console.log(e.code); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'reading the FIFO blocked (killed by the guard)');
  assert.equal(r.stdout.trim(), 'INPUT_NOT_REGULAR', r.stderr);
});
