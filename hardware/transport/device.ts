// A Linux TPM character device (/dev/tpmrm0 with the kernel resource manager, or /dev/tpm0): one
// whole command per write (at most 4096 bytes), then one read returns the whole response.
import { open, type FileHandle } from 'node:fs/promises';
import { TPMTransportError } from '../tpmerrors.ts';
import { TPMUsageError } from '../tpmerrors.ts';
import { DEFAULT_TIMEOUT_MS, type SendOptions, type Transport } from './transport.ts';

const MAX_COMMAND = 4096;

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

  static async open(path: string, opts: { timeoutMs?: number } = {}): Promise<DeviceTransport> {
    try {
      return new DeviceTransport(path, await open(path, 'r+'), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new TPMTransportError('TPM_NOT_FOUND', `No TPM device at ${path}. Choose a TPM with --tpm or TOLLGATE_TPM (device:/dev/tpmrm0 or swtpm:HOST:PORT).`, { cause: e });
      if (code === 'EACCES' || code === 'EPERM') throw new TPMTransportError('TPM_DEVICE_ERROR', `Permission denied opening ${path}. Run as a member of the group that owns it (usually "tss") or as root.`, { cause: e });
      if (code === 'EBUSY') throw new TPMTransportError('TPM_DEVICE_ERROR', `${path} is busy (another process has it open). Use /dev/tpmrm0, which the kernel shares between processes.`, { cause: e });
      throw new TPMTransportError('TPM_DEVICE_ERROR', `Cannot open ${path} (${code ?? (e as Error).message}).`, { cause: e });
    }
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
        this.dead = new TPMTransportError('TPM_TIMEOUT', `The TPM at ${this.uri} did not answer within ${timeoutMs} ms; it may have hung. The device was closed.`);
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
