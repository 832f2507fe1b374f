// swtpm over TCP. Data port: mssim framing, `u32 TPM_SEND_COMMAND(8) | u8 locality | u32 len | cmd`
// answered by `u32 len | response | u32 0`. Control port (data port + 1 unless given):
// `u32 cmd | payload` answered by `u32 result`; INIT=2 (payload u32 flags), SET_LOCALITY=5 (u8).
import { connect, type Socket } from 'node:net';
import { TPMTransportError } from '../tpmerrors.ts';
import { DEFAULT_TIMEOUT_MS, timeoutMessage, type SendOptions, type Transport } from './transport.ts';

const TPM_SEND_COMMAND = 8;
const CMD_INIT = 2;
const CMD_SET_LOCALITY = 5;
/** No TPM response is anywhere near this; a larger length means the stream is out of step. */
const MAX_RESPONSE = 1 << 20;

export interface SwtpmOptions {
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

function connectSocket(host: string, port: number, timeoutMs: number, what: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new TPMTransportError('TPM_CONNECT_FAILED', `Timed out connecting to the swtpm ${what} at ${host}:${port}. Check that swtpm is running and reachable.`));
    }, timeoutMs);
    s.once('connect', () => { clearTimeout(timer); s.setNoDelay(true); resolve(s); });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new TPMTransportError('TPM_CONNECT_FAILED', `Cannot connect to the swtpm ${what} at ${host}:${port} (${e.code ?? e.message}). Check that swtpm is running there, or choose another TPM with --tpm or TOLLGATE_TPM.`, { cause: e }));
    });
  });
}

export class SwtpmTransport implements Transport {
  readonly uri: string;
  private readonly host: string;
  private readonly ctrlPort: number;
  private readonly timeoutMs: number;
  private readonly sock: Socket;
  private rx: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private dead: TPMTransportError | null = null;
  private locality = 0;

  private constructor(host: string, port: number, ctrlPort: number, sock: Socket, timeoutMs: number) {
    this.host = host;
    this.ctrlPort = ctrlPort;
    this.sock = sock;
    this.timeoutMs = timeoutMs;
    this.uri = `swtpm:${host.includes(':') ? `[${host}]` : host}:${port}:${ctrlPort}`;
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', (e) => this.fail(new TPMTransportError('TPM_TRANSPORT_CLOSED', `The connection to swtpm at ${this.uri} failed (${(e as NodeJS.ErrnoException).code ?? e.message}); the TPM may have stopped.`, { cause: e })));
    sock.on('close', () => this.fail(new TPMTransportError('TPM_TRANSPORT_CLOSED', `swtpm at ${this.uri} closed the connection; the TPM may have stopped. Restart it and retry.`)));
  }

  static async connect(host: string, port: number, ctrlPort = port + 1, opts: SwtpmOptions = {}): Promise<SwtpmTransport> {
    const sock = await connectSocket(host, port, opts.connectTimeoutMs ?? 10_000, 'data port');
    return new SwtpmTransport(host, port, ctrlPort, sock, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  private fail(e: TPMTransportError): void {
    if (!this.dead) this.dead = e;
    const p = this.pending;
    this.pending = null;
    if (p) { clearTimeout(p.timer); p.reject(e); }
    this.sock.destroy();
  }

  private onData(d: Buffer): void {
    this.rx = this.rx.length ? Buffer.concat([this.rx, d]) : d;
    if (!this.pending) {
      this.fail(new TPMTransportError('TPM_TRANSPORT_PROTOCOL', `swtpm at ${this.uri} sent ${this.rx.length} bytes nobody asked for; the connection is out of step and was closed.`));
      return;
    }
    if (this.rx.length < 4) return;
    const len = this.rx.readUInt32BE(0);
    if (len > MAX_RESPONSE) {
      this.fail(new TPMTransportError('TPM_TRANSPORT_PROTOCOL', `swtpm at ${this.uri} announced a ${len}-byte response; the connection is out of step and was closed.`));
      return;
    }
    if (this.rx.length < 4 + len + 4) return;
    const ack = this.rx.readUInt32BE(4 + len);
    const resp = Buffer.from(this.rx.subarray(4, 4 + len));
    const extra = this.rx.length - (8 + len);
    this.rx = Buffer.alloc(0);
    if (extra !== 0 || ack !== 0) {
      this.fail(new TPMTransportError('TPM_TRANSPORT_PROTOCOL', `swtpm at ${this.uri} answered with a bad frame (acknowledgement ${ack}, ${extra} stray bytes); the connection was closed.`));
      return;
    }
    const p = this.pending;
    this.pending = null;
    clearTimeout(p.timer);
    p.resolve(resp);
  }

  send(command: Uint8Array, opts: SendOptions = {}): Promise<Buffer> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.pending) return Promise.reject(new TPMTransportError('TPM_TRANSPORT_PROTOCOL', 'A second TPM command was sent before the first one was answered; commands must be serialized.'));
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new TPMTransportError('TPM_TIMEOUT', timeoutMessage(this.uri, timeoutMs, opts.command, 'The connection was closed.'), { details: { timeoutMs, ...(opts.command ? { command: opts.command } : {}) } }));
      }, timeoutMs);
      this.pending = { resolve, reject, timer };
      const frame = Buffer.allocUnsafe(9 + command.length);
      frame.writeUInt32BE(TPM_SEND_COMMAND, 0);
      frame.writeUInt8(this.locality, 4);
      frame.writeUInt32BE(command.length, 5);
      frame.set(command, 9);
      this.sock.write(frame);
    });
  }

  /** One control-port command on its own connection: `u32 cmd | payload` → `u32 result`. */
  private async control(cmd: number, payload: Buffer, what: string): Promise<void> {
    const s = await connectSocket(this.host, this.ctrlPort, 10_000, 'control port');
    try {
      const result = await new Promise<number>((resolve, reject) => {
        let got = Buffer.alloc(0);
        // The message quotes the limit actually applied.
        const ms = this.timeoutMs;
        const timer = setTimeout(() => reject(new TPMTransportError('TPM_TIMEOUT', `swtpm's control port (${this.host}:${this.ctrlPort}) did not answer ${what} within ${ms} ms. Check that swtpm is running with its control channel on that port.`, { details: { timeoutMs: ms } })), ms);
        s.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.length >= 4) { clearTimeout(timer); resolve(got.readUInt32BE(0)); }
        });
        s.once('error', (e) => { clearTimeout(timer); reject(new TPMTransportError('TPM_TRANSPORT_CLOSED', `swtpm's control port failed during ${what} (${e.message}).`, { cause: e })); });
        s.once('close', () => { clearTimeout(timer); reject(new TPMTransportError('TPM_TRANSPORT_CLOSED', `swtpm's control port closed during ${what}.`)); });
        const head = Buffer.alloc(4);
        head.writeUInt32BE(cmd, 0);
        s.write(Buffer.concat([head, payload]));
      });
      if (result !== 0) throw new TPMTransportError('TPM_TRANSPORT_PROTOCOL', `swtpm refused ${what} (result ${result}). Check the swtpm log.`);
    } finally {
      s.destroy();
    }
  }

  async powerOn(): Promise<void> {
    await this.control(CMD_INIT, Buffer.alloc(4), 'INIT');
  }

  async setLocality(locality: number): Promise<void> {
    if (!Number.isInteger(locality) || locality < 0 || locality > 4) throw new TPMTransportError('TPM_TRANSPORT_PROTOCOL', `Locality ${locality} is not 0..4.`);
    await this.control(CMD_SET_LOCALITY, Buffer.from([locality]), 'SET_LOCALITY');
    this.locality = locality;
  }

  async close(): Promise<void> {
    if (!this.dead) this.dead = new TPMTransportError('TPM_TRANSPORT_CLOSED', `The connection to ${this.uri} was closed.`);
    const p = this.pending;
    this.pending = null;
    if (p) { clearTimeout(p.timer); p.reject(this.dead); }
    if (this.sock.destroyed) return;
    await new Promise<void>((resolve) => {
      this.sock.once('close', () => resolve());
      this.sock.end();
      setTimeout(() => { this.sock.destroy(); resolve(); }, 1000).unref();
    });
  }
}
