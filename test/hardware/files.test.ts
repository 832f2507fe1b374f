// The bounded reader for user-named files: regular files only (a FIFO is refused without blocking,
// even with a writer waiting), at most the cap whatever the size fstat claims (/proc files say 0),
// and typed errors naming the cap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputFileError, readBoundedFile, readBoundedFileSync } from '../../hardware/index.ts';

let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'tg-files-')); });
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const is = (code: string, extra?: RegExp) => (e: unknown) => e instanceof InputFileError && e.code === code && (!extra || extra.test(e.message));

for (const [name, read] of [['sync', (p: string, cap: number, o = {}) => Promise.resolve().then(() => readBoundedFileSync(p, cap, o))], ['async', readBoundedFile]] as const) {
  test(`${name}: exactly the cap is read, one byte more is refused with the cap named`, async () => {
    writeFileSync(join(dir, 'ten'), '0123456789');
    assert.equal((await read(join(dir, 'ten'), 10)).toString(), '0123456789');
    await assert.rejects(read(join(dir, 'ten'), 9, { what: '--thing' }), is('INPUT_TOO_LARGE', /^--thing .*ten is 10 bytes, more than the 9 bytes limit/));
    assert.equal((await read(join(dir, 'ten'), 1024)).length, 10);
  });

  test(`${name}: a /proc file (size 0 by fstat) is read to its end, and refused past the cap`, async () => {
    assert.match((await read('/proc/self/status', 1024 * 1024)).toString(), /^Name:/);
    await assert.rejects(read('/proc/self/maps', 16), is('INPUT_TOO_LARGE', /is larger than the 16 bytes limit/));
  });

  test(`${name}: directories, devices and missing files are typed errors; callers may rename the codes`, async () => {
    await assert.rejects(read(dir, 10), is('INPUT_NOT_REGULAR', /is a directory, not a regular file/));
    await assert.rejects(read('/dev/zero', 10), (e: unknown) => e instanceof InputFileError && e.exitCode === 2 && /character device/.test(e.message));
    await assert.rejects(read(join(dir, 'missing'), 10), is('INPUT_NOT_FOUND', /does not exist \(ENOENT\)/));
    await assert.rejects(read(join(dir, 'missing'), 10, { codes: { 'not-found': 'THING_MISSING' } }), is('THING_MISSING'));
    writeFileSync(join(dir, 'big'), 'xx');
    await assert.rejects(read(join(dir, 'big'), 1, { tooLargeClass: 'denied' }), (e: unknown) => e instanceof InputFileError && e.exitCode === 1);
  });
}

test('a FIFO is refused even while a writer holds it open and keeps writing', async () => {
  const fifo = join(dir, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  // A writer that would feed the reader forever (`yes` into the FIFO).
  const writer = spawn('sh', ['-c', `exec yes > '${fifo}'`], { stdio: 'ignore' });
  try {
    assert.throws(() => readBoundedFileSync(fifo, 1024), is('INPUT_NOT_REGULAR', /is a FIFO/));
    await assert.rejects(readBoundedFile(fifo, 1024), is('INPUT_NOT_REGULAR', /is a FIFO/));
  } finally {
    writer.kill('SIGKILL');
  }
});
