// Test-only: a private swtpm brought up by hand (control-port INIT + tpm2_startup), tpm2-tools
// pointed at it, and a bare mssim-framed command channel — so hardware/crypto can be checked
// against a real TPM without depending on hardware/'s own (separately developed) TPM client.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSwtpm, type Swtpm } from '../swtpm.ts';

export interface ToolsTpm {
  swtpm: Swtpm;
  /** Scratch directory for tool input/output files. */
  dir: string;
  /** Runs a tpm2-tools command against this TPM; throws with its stderr when it fails. */
  tool(cmd: string, args: string[]): string;
  /** Runs a tpm2-tools command and returns its exit status and stderr (for expected failures). */
  toolStatus(cmd: string, args: string[]): { status: number; stderr: string };
  close(): Promise<void>;
}

function ctrlInit(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { s.destroy(); reject(new Error('swtpm control port did not answer INIT')); }, 5000);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4) { clearTimeout(timer); s.destroy(); resolve(buf.readUInt32BE(0)); }
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.write(Buffer.from([0, 0, 0, 2, 0, 0, 0, 0])); // CMD_INIT, flags 0
  });
}

export async function startToolsTpm(): Promise<ToolsTpm> {
  const swtpm = await startSwtpm();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-hwcrypto-'));
  const env = { ...process.env, TPM2TOOLS_TCTI: swtpm.tcti };
  const toolStatus = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { cwd: dir, env, encoding: 'utf8', timeout: 30000 });
    return { status: r.status ?? -1, stderr: r.stderr ?? String(r.error), stdout: r.stdout ?? '' };
  };
  const tool = (cmd: string, args: string[]) => {
    const r = toolStatus(cmd, args);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  try {
    const rc = await ctrlInit(swtpm.ctrlPort);
    if (rc !== 0) throw new Error(`swtpm INIT returned ${rc}`);
    tool('tpm2_startup', ['-c']);
  } catch (e) {
    await swtpm.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    swtpm, dir, tool, toolStatus,
    async close() {
      toolStatus('tpm2_shutdown', ['-c']);
      await swtpm.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One data-port connection with mssim framing: u32 8 | u8 locality | u32 len | cmd → u32 len | rsp | u32 0. */
export class RawTpm {
  private sock: Socket | undefined;
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private readonly port: number;

  constructor(port: number) { this.port = port; }

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: this.port }, () => resolve());
      s.on('error', reject);
      s.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.waiter?.(); });
      this.sock = s;
    });
  }

  async send(cmd: Uint8Array): Promise<Uint8Array> {
    if (!this.sock) throw new Error('not open');
    const hdr = Buffer.alloc(9);
    hdr.writeUInt32BE(8, 0);
    hdr.writeUInt8(0, 4);
    hdr.writeUInt32BE(cmd.length, 5);
    this.sock.write(Buffer.concat([hdr, cmd]));
    const deadline = setTimeout(() => this.sock?.destroy(new Error('TPM response timeout')), 10000);
    try {
      for (;;) {
        if (this.buf.length >= 4) {
          const len = this.buf.readUInt32BE(0);
          if (this.buf.length >= 4 + len + 4) {
            const rsp = new Uint8Array(this.buf.subarray(4, 4 + len));
            this.buf = this.buf.subarray(8 + len);
            return rsp;
          }
        }
        if (this.sock.destroyed) throw new Error('TPM connection closed');
        await new Promise<void>((r) => { this.waiter = r; this.sock!.once('close', r); });
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  close(): void {
    this.sock?.end();
    this.sock?.destroy();
    this.sock = undefined;
  }
}
