// A Linux TPM character device (/dev/tpmrm0 with the kernel resource manager, or /dev/tpm0): one
// whole command per write (at most 4096 bytes), then one read returns the whole response.
//
// Only a character device is opened for writing: the first command would otherwise overwrite the
// start of whatever file `device:PATH` names (a typo, a config file, a FIFO that never answers).
// The path is checked with stat before it is opened, and the opened descriptor again with fstat
// (the path may have been swapped in between), both before the first write.
import { constants, type Stats } from 'node:fs';
import { open, stat, statfs, type FileHandle } from 'node:fs/promises';
import { TPMTransportError } from '../tpmerrors.ts';
import { TPMUsageError } from '../tpmerrors.ts';
import { DEFAULT_TIMEOUT_MS, timeoutMessage, type SendOptions, type Transport } from './transport.ts';

const MAX_COMMAND = 4096;
/** statfs f_type of a FUSE file system. */
const FUSE_SUPER_MAGIC = 0x65735546;

export interface DeviceOptions {
  timeoutMs?: number;
  /**
   * Also accept a regular file on a FUSE file system: a test rig that stands in for the kernel's
   * TPM device where there is neither CUSE nor vtpm_proxy. Never set by the CLI.
   */
  allowFuseStandIn?: boolean;
}

function kindOf(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a character device';
}

function notADevice(path: string, what: string): TPMUsageError {
  return new TPMUsageError('TPM_NOT_A_DEVICE',
    `${path} is ${what}, not a TPM character device; nothing was written to it. Use device:/dev/tpmrm0 (or device:/dev/tpm0), or swtpm:HOST:PORT for a software TPM.`,
    { details: { path, kind: what } });
}

function openError(path: string, e: unknown): TPMTransportError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new TPMTransportError('TPM_NOT_FOUND', `No TPM device at ${path}. Choose a TPM with --tpm or TOLLGATE_TPM (device:/dev/tpmrm0 or swtpm:HOST:PORT).`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') return new TPMTransportError('TPM_DEVICE_ERROR', `Permission denied opening ${path}. Run as a member of the group that owns it (usually "tss") or as root.`, { cause: e });
  if (code === 'EBUSY') return new TPMTransportError('TPM_DEVICE_ERROR', `${path} is busy (another process has it open). Use /dev/tpmrm0, which the kernel shares between processes.`, { cause: e });
  return new TPMTransportError('TPM_DEVICE_ERROR', `Cannot open ${path} (${code ?? (e as Error).message}).`, { cause: e });
}

/** Throws TPM_NOT_A_DEVICE unless `st` is a character device (or an allowed FUSE stand-in). */
async function checkDevice(path: string, st: Stats, opts: DeviceOptions): Promise<void> {
  if (st.isCharacterDevice()) return;
  if (opts.allowFuseStandIn && st.isFile() && (await statfs(path).catch(() => undefined))?.type === FUSE_SUPER_MAGIC) return;
  throw notADevice(path, kindOf(st));
}

export class DeviceTransport implements Transport {
  readonly uri: string;
  private readonly path: string;
  private fh: FileHandle | null;
  private readonly timeoutMs: number;
  private dead: TPMTransportError | null = null;
  private busy = false;

  private constructor(path: string, fh: FileHandle, timeoutMs: number) {
    this.path = path;
    this.fh = fh;
    this.timeoutMs = timeoutMs;
    this.uri = `device:${path}`;
  }

  static async open(path: string, opts: DeviceOptions = {}): Promise<DeviceTransport> {
    let st: Stats;
    try {
      st = await stat(path);
    } catch (e) {
      throw openError(path, e);
    }
    await checkDevice(path, st, opts);
    let fh: FileHandle;
    try {
      // O_NOCTTY: a terminal named by mistake must not become our controlling terminal.
      fh = await open(path, constants.O_RDWR | constants.O_NOCTTY);
    } catch (e) {
      throw openError(path, e);
    }
    try {
      const now = await fh.stat();
      if (now.ino !== st.ino || now.dev !== st.dev) throw notADevice(path, 'a different file than the one checked (it was replaced while being opened)');
      await checkDevice(path, now, opts);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    return new DeviceTransport(path, fh, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  async send(command: Uint8Array, opts: SendOptions = {}): Promise<Buffer> {
    if (this.dead || !this.fh) throw this.dead ?? new TPMTransportError('TPM_TRANSPORT_CLOSED', `${this.uri} is closed.`);
    if (this.busy) throw new TPMTransportError('TPM_TRANSPORT_PROTOCOL', 'A second TPM command was sent before the first one was answered; commands must be serialized.');
    if (command.length > MAX_COMMAND) throw new TPMUsageError('TPM_BAD_ARGUMENT', `A ${command.length}-byte TPM command is larger than the ${MAX_COMMAND} bytes a TPM device accepts; send the data in smaller pieces.`);
    const fh = this.fh;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    this.busy = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.dead = new TPMTransportError('TPM_TIMEOUT', timeoutMessage(this.uri, timeoutMs, opts.command, 'The device was closed.'), { details: { timeoutMs, ...(opts.command ? { command: opts.command } : {}) } });
        void fh.close().catch(() => undefined);
        this.fh = null;
        reject(this.dead);
      }, timeoutMs);
    });
    const io = (async () => {
      const w = await fh.write(command, 0, command.length, null);
      if (w.bytesWritten !== command.length) throw new TPMTransportError('TPM_DEVICE_ERROR', `Short write to ${this.path} (${w.bytesWritten} of ${command.length} bytes).`);
      const buf = Buffer.alloc(8192);
      const r = await fh.read(buf, 0, buf.length, null);
      if (r.bytesRead === 0) throw new TPMTransportError('TPM_TRANSPORT_CLOSED', `${this.path} returned no response.`);
      return Buffer.from(buf.subarray(0, r.bytesRead));
    })().catch((e: unknown) => {
      if (e instanceof TPMTransportError) throw e;
      throw new TPMTransportError('TPM_DEVICE_ERROR', `I/O error on ${this.path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, { cause: e });
    });
    io.catch(() => undefined); // a late failure after a timeout must not become an unhandled rejection
    try {
      return await Promise.race([io, timeout]);
    } finally {
      clearTimeout(timer);
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    if (!this.dead) this.dead = new TPMTransportError('TPM_TRANSPORT_CLOSED', `${this.uri} was closed.`);
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close().catch(() => undefined);
  }
}
