// A TPM character device stand-in for machines without /dev/tpmrm0, vtpm_proxy or CUSE: a FUSE
// file system with one file, `tpmrm0`, opened with direct I/O so that every write(2) and read(2) on
// it reaches this process as exactly one FUSE WRITE / READ request, as on the kernel's TPM device.
// It applies the rules of the kernel's tpm-dev-common.c to each open file: a write must be one
// whole command (header size == write size, at most 4096 bytes; else EINVAL / E2BIG), a second
// write before the response was read is EBUSY, a read returns the pending response (0 bytes when
// there is none). Commands are forwarded to a real swtpm (raw TPM framing on its data port; the
// control port only to power it on when it answers TPM_RC_FAILURE, like firmware would). Every
// request is logged as one JSON line on stdout so the test can check the discipline.
//
// usage: node tpmdev-peer.ts MOUNTPOINT SWTPM_PORT   (swtpm on 127.0.0.1; control port = port + 1)
// Independent of hardware/: this is the other side of the device, not a copy of our transport.
import { openSync, closeSync, writeSync, read } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';

const [mountpoint, portArg] = process.argv.slice(2);
if (!mountpoint || !portArg) {
  process.stderr.write('usage: tpmdev-peer.ts MOUNTPOINT SWTPM_PORT\n');
  process.exit(2);
}
const port = Number(portArg);

const TPM_BUFSIZE = 4096;
const EINVAL = 22, E2BIG = 7, EBUSY = 16, ENOENT = 2, ENOSYS = 38, EIO = 5;
const OP = { LOOKUP: 1, FORGET: 2, GETATTR: 3, OPEN: 14, STATFS: 17, READ: 15, WRITE: 16, RELEASE: 18, FLUSH: 25, INIT: 26, INTERRUPT: 36, DESTROY: 38, BATCH_FORGET: 42 } as const;
const ROOT = 1n;
const FILE = 2n;
const FILE_NAME = 'tpmrm0';

function log(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

// ------------------------------------------------------------------------------------------------
// swtpm, raw framing: the command goes out as is, the response is read by its header size.

class Swtpm {
  private sock: Socket | undefined;
  private rx = Buffer.alloc(0);
  private waiter: ((b: Buffer) => void) | undefined;
  private failer: ((e: Error) => void) | undefined;

  async connect(): Promise<void> {
    this.sock = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    this.sock.on('data', (d: Buffer) => { this.rx = Buffer.concat([this.rx, d]); this.pump(); });
    this.sock.on('close', () => this.failer?.(new Error('swtpm closed the connection')));
    this.sock.on('error', () => undefined);
  }

  private pump(): void {
    if (!this.waiter || this.rx.length < 10) return;
    const size = this.rx.readUInt32BE(2);
    if (this.rx.length < size) return;
    const r = this.rx.subarray(0, size);
    this.rx = Buffer.from(this.rx.subarray(size));
    const w = this.waiter;
    this.waiter = undefined;
    this.failer = undefined;
    w(Buffer.from(r));
  }

  transmit(cmd: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failer = reject;
      this.sock!.write(cmd);
    });
  }
}

async function powerOnIfNeeded(tpm: Swtpm): Promise<void> {
  const probe = Buffer.from('80010000000c0000017b0001', 'hex'); // GetRandom(1)
  const rc = (await tpm.transmit(probe)).readUInt32BE(6);
  if (rc !== 0x101) return;
  await new Promise<void>((resolve, reject) => {
    const c = connect({ host: '127.0.0.1', port: port + 1 });
    c.once('error', reject);
    c.once('connect', () => c.write(Buffer.from([0, 0, 0, 2, 0, 0, 0, 0]))); // CMD_INIT, flags 0
    c.once('data', () => { c.destroy(); resolve(); });
  });
  log({ op: 'power-on' });
}

// ------------------------------------------------------------------------------------------------
// FUSE

function attr(node: bigint): Buffer {
  const a = Buffer.alloc(88);
  a.writeBigUInt64LE(node, 0); // ino
  a.writeUInt32LE(node === ROOT ? 0o40755 : 0o100666, 60); // mode
  a.writeUInt32LE(node === ROOT ? 2 : 1, 64); // nlink
  a.writeUInt32LE(4096, 80); // blksize
  return a;
}

function reply(fd: number, unique: bigint, error: number, body: Buffer = Buffer.alloc(0)): void {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeInt32LE(error ? -error : 0, 4);
  h.writeBigUInt64LE(unique, 8);
  try {
    writeSync(fd, Buffer.concat([h, body]));
  } catch (e) {
    // ENOENT: the request was interrupted (the caller gave up); nothing to answer.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

interface OpenFile { response: Buffer | null }

async function main(): Promise<void> {
  const tpm = new Swtpm();
  await tpm.connect();
  await powerOnIfNeeded(tpm);

  const fd = openSync('/dev/fuse', 'r+');
  const m = spawnSync('mount', ['-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0,allow_other', 'tollgate-tpmdev', mountpoint!], { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8' });
  if (m.status !== 0) {
    log({ op: 'mount-failed', error: (m.stderr || m.error?.message || `exit ${m.status}`).trim() });
    process.exit(3);
  }
  const unmount = () => { spawnSync('umount', ['-l', mountpoint!], { stdio: 'ignore' }); };
  process.on('SIGTERM', () => { unmount(); process.exit(0); });

  const files = new Map<bigint, OpenFile>();
  let nextFh = 1n;
  const buf = Buffer.alloc(1 << 17);
  for (;;) {
    const n = await new Promise<number>((resolve, reject) => read(fd, buf, 0, buf.length, null, (e, k) => (e ? reject(e) : resolve(k))))
      .catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENODEV') return -1; throw e; });
    if (n < 0) break; // unmounted
    const opcode = buf.readUInt32LE(4);
    const unique = buf.readBigUInt64LE(8);
    const node = buf.readBigUInt64LE(16);
    switch (opcode) {
      case OP.INIT: {
        const o = Buffer.alloc(64);
        o.writeUInt32LE(7, 0);
        o.writeUInt32LE(31, 4);
        o.writeUInt32LE(0, 8); // max_readahead
        o.writeUInt32LE(0, 12); // flags: none (no async read, no writeback cache)
        o.writeUInt16LE(1, 16); // max_background
        o.writeUInt16LE(1, 18);
        o.writeUInt32LE(65536, 20); // max_write
        o.writeUInt32LE(1, 24); // time_gran
        reply(fd, unique, 0, o);
        log({ op: 'ready', path: `${mountpoint}/${FILE_NAME}` });
        break;
      }
      case OP.LOOKUP: {
        const name = buf.subarray(40, n).toString('utf8').replace(/\0.*$/s, '');
        if (node !== ROOT || name !== FILE_NAME) { reply(fd, unique, ENOENT); break; }
        const e = Buffer.alloc(40);
        e.writeBigUInt64LE(FILE, 0);
        reply(fd, unique, 0, Buffer.concat([e, attr(FILE)]));
        break;
      }
      case OP.GETATTR: {
        reply(fd, unique, 0, Buffer.concat([Buffer.alloc(16), attr(node)]));
        break;
      }
      case OP.OPEN: {
        const fh = nextFh++;
        files.set(fh, { response: null });
        const o = Buffer.alloc(16);
        o.writeBigUInt64LE(fh, 0);
        o.writeUInt32LE(1 | 4, 8); // FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE: each syscall is one request
        log({ op: 'open', fh: Number(fh) });
        reply(fd, unique, 0, o);
        break;
      }
      case OP.WRITE: {
        const fh = buf.readBigUInt64LE(40);
        const size = buf.readUInt32LE(56);
        const cmd = Buffer.from(buf.subarray(80, 80 + size));
        const f = files.get(fh);
        if (!f) { reply(fd, unique, EIO); break; }
        const header = size >= 10 ? cmd.readUInt32BE(2) : -1;
        let err = 0;
        if (size > TPM_BUFSIZE) err = E2BIG;
        else if (f.response) err = EBUSY;
        else if (size < 10 || header !== size) err = EINVAL;
        const cc = size >= 10 ? cmd.readUInt32BE(6) : 0;
        log({ op: 'write', fh: Number(fh), len: size, header, cc, error: err });
        if (err) { reply(fd, unique, err); break; }
        try {
          f.response = await tpm.transmit(cmd);
        } catch {
          reply(fd, unique, EIO);
          break;
        }
        const o = Buffer.alloc(8);
        o.writeUInt32LE(size, 0);
        reply(fd, unique, 0, o);
        break;
      }
      case OP.READ: {
        const fh = buf.readBigUInt64LE(40);
        const size = buf.readUInt32LE(56);
        const f = files.get(fh);
        if (!f) { reply(fd, unique, EIO); break; }
        const r = f.response ?? Buffer.alloc(0);
        const out = r.subarray(0, size);
        f.response = out.length < r.length ? Buffer.from(r.subarray(out.length)) : null;
        log({ op: 'read', fh: Number(fh), asked: size, len: out.length, rc: out.length >= 10 ? out.readUInt32BE(6) : null });
        reply(fd, unique, 0, Buffer.from(out));
        break;
      }
      case OP.STATFS: {
        // struct fuse_kstatfs, all zero but bsize and namelen: statfs(2) on the mount must work,
        // it is how the transport recognises a FUSE stand-in (f_type FUSE_SUPER_MAGIC).
        const o = Buffer.alloc(80);
        o.writeUInt32LE(4096, 40); // bsize
        o.writeUInt32LE(255, 44); // namelen
        reply(fd, unique, 0, o);
        break;
      }
      case OP.FLUSH:
        reply(fd, unique, 0);
        break;
      case OP.RELEASE: {
        const fh = buf.readBigUInt64LE(40);
        files.delete(fh);
        log({ op: 'release', fh: Number(fh) });
        reply(fd, unique, 0);
        break;
      }
      case OP.FORGET: case OP.BATCH_FORGET: case OP.INTERRUPT:
        break; // no reply
      case OP.DESTROY:
        reply(fd, unique, 0);
        break;
      default:
        reply(fd, unique, ENOSYS);
    }
  }
  closeSync(fd);
}

main().catch((e: unknown) => {
  log({ op: 'fatal', error: String(e) });
  process.exit(1);
});
