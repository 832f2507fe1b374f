// `device:PATH` opens only a character device. Before the check, any path was opened read-write
// and the first command (TPM2_GetRandom at bring-up) overwrote the start of the file it named; a
// FIFO echoed the command back. Each case below checks the typed refusal and that nothing was
// written. (The FUSE stand-in that device.test.ts uses is a regular file on FUSE: accepted only
// with allowFuseStandIn.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceTransport, TPMTransportError, TPMUsageError, openTPM } from '../../hardware/index.ts';

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-devpath-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const notADevice = (kind: RegExp) => (e: unknown) => e instanceof TPMUsageError && e.code === 'TPM_NOT_A_DEVICE' && e.exitCode === 2 && kind.test(e.message) && /nothing was written/.test(e.message);

describe('device:PATH refuses what is not a character device, before writing', () => {
  it('a regular file (directly and through a symlink) is refused and left byte for byte as it was', async () => {
    const file = join(dir, 'hosts');
    const content = Buffer.from('127.0.0.1 localhost\n::1 localhost\n# a real system file\n');
    writeFileSync(file, content);
    const mtime = statSync(file).mtimeMs;
    const link = join(dir, 'tpmrm0');
    symlinkSync(file, link);
    for (const p of [file, link]) {
      await assert.rejects(openTPM(`device:${p}`), notADevice(/is a regular file/));
      await assert.rejects(DeviceTransport.open(p), notADevice(/is a regular file/));
      // Even when told about FUSE stand-ins: this file is not on FUSE.
      await assert.rejects(DeviceTransport.open(p, { allowFuseStandIn: true }), notADevice(/is a regular file/));
    }
    assert.deepEqual(readFileSync(file), content);
    assert.equal(statSync(file).mtimeMs, mtime);
    // A character device is opened (what it does with a command is the kernel's business): /dev/null
    // swallows it and answers nothing, a typed transport error, not a hang.
    const t = await DeviceTransport.open('/dev/null');
    try {
      await assert.rejects(t.send(Buffer.from('80010000000c0000017b0008', 'hex')), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_TRANSPORT_CLOSED');
    } finally {
      await t.close();
    }
  });

  it('a directory is refused with the same typed error; a missing path is TPM_NOT_FOUND', async () => {
    const d = join(dir, 'a-directory');
    mkdirSync(d);
    await assert.rejects(openTPM(`device:${d}`), notADevice(/is a directory/));
    await assert.rejects(openTPM(`device:${join(dir, 'nothing-here')}`), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_NOT_FOUND');
  });

  it('a FIFO is refused without blocking and nothing is written into it', async () => {
    const fifo = join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    // Hold the FIFO open (read end, non-blocking) so that anything written to it stays readable.
    const rd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await assert.rejects(openTPM(`device:${fifo}`), notADevice(/is a FIFO/));
      const buf = Buffer.alloc(64);
      let n = 0;
      try { n = readSync(rd, buf, 0, buf.length, null); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e; }
      assert.equal(n, 0, 'bytes were written into the FIFO');
    } finally {
      closeSync(rd);
    }
  });
});
