// TPM latency on a private swtpm: quote, sign and PCR read through our API against the raw floor
// (the same bare command bytes, framed by hand, sent on the same connection with TPM.sendRaw),
// and a quote against tpm2_quote's wall time (the peer a user would otherwise run).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTPM, TPM_ALG, TPM_RH, TPM_ST, type TPM } from '../hardware/index.ts';
import { provision, AK_HANDLE, DEVICE_KEY_HANDLE } from '../hardware/provision.ts';
import { quote } from '../hardware/quote.ts';
import { parsePCRList } from '../hardware/tpm2tools.ts';
import { startSwtpm } from '../test/swtpm.ts';
import { median, result, timeIt, wallTime, type BenchResult } from './lib.ts';

const ROOT = join(import.meta.dirname, '..');
const ITER = 300;
const NONCE = Buffer.alloc(32, 0x42);
const SELECTION = parsePCRList('sha256:0,1,2,3,4,5,6,7');

/** header (tag, size, cc) + handles + [password authorization] + parameters, by hand. */
export function command(cc: number, handles: number[], auth: boolean, params: Buffer): Buffer {
  const authArea = auth ? Buffer.from([0, 0, 0, 9, 0x40, 0, 0, 0x09, 0, 0, 0x01, 0, 0]) : Buffer.alloc(0);
  const h = Buffer.alloc(4 * handles.length);
  handles.forEach((x, i) => h.writeUInt32BE(x >>> 0, 4 * i));
  const body = Buffer.concat([h, authArea, params]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(auth ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS, 0);
  head.writeUInt32BE(10 + body.length, 2);
  head.writeUInt32BE(cc, 6);
  return Buffer.concat([head, body]);
}

export const u16 = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
export const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
export const tpm2b = (b: Buffer) => Buffer.concat([u16(b.length), b]);
const SEL_BYTES = Buffer.concat([u32(1), u16(TPM_ALG.SHA256), Buffer.from([3, 0xff, 0, 0])]);

const RAW_QUOTE = command(0x158, [AK_HANDLE], true, Buffer.concat([tpm2b(NONCE), u16(TPM_ALG.NULL), SEL_BYTES]));
const DIGEST = Buffer.alloc(32, 0x17);
const RAW_SIGN = command(0x15d, [DEVICE_KEY_HANDLE], true, Buffer.concat([tpm2b(DIGEST), u16(TPM_ALG.NULL), u16(TPM_ST.HASHCHECK), u32(TPM_RH.NULL), u16(0)]));
const RAW_PCR_READ = command(0x17e, [], false, SEL_BYTES);

export async function raw(tpm: TPM, cmd: Buffer): Promise<void> {
  const r = await tpm.sendRaw(cmd);
  if (r.readUInt32BE(6) !== 0) throw new Error(`raw command 0x${cmd.readUInt32BE(6).toString(16)} failed: rc 0x${r.readUInt32BE(6).toString(16)}`);
}

export async function run(): Promise<BenchResult[]> {
  const sw = await startSwtpm();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-tpm-'));
  try {
    const tpm = await openTPM(sw.uri);
    const rows: BenchResult[] = [];
    try {
      await provision(tpm, { eks: [] });
      // Alternate ours/raw in blocks so drift on a shared machine hits both alike.
      const pairs: Array<[string, () => Promise<unknown>, Buffer, { text: string; limit: number } | undefined]> = [
        ['quote (TPM.quote, sha256:0-7, 32-byte nonce)', () => tpm.quote(AK_HANDLE, NONCE, SELECTION), RAW_QUOTE, { text: 'within 1.2x of the raw floor', limit: 1.2 }],
        ['sign P-256 (TPM.sign, device key)', () => tpm.sign(DEVICE_KEY_HANDLE, DIGEST), RAW_SIGN, undefined],
        ['PCR read (TPM.pcrReadRaw, sha256:0-7)', () => tpm.pcrReadRaw(SELECTION), RAW_PCR_READ, undefined],
      ];
      for (const [name, ours, cmd, target] of pairs) {
        const o: number[] = [];
        const f: number[] = [];
        for (let block = 0; block < 6; block++) {
          o.push(...(await timeIt(ours, { warmup: 5, iterations: ITER / 6 })).samples);
          f.push(...(await timeIt(() => raw(tpm, cmd), { warmup: 5, iterations: ITER / 6 })).samples);
        }
        const mo = median(o);
        const mf = median(f);
        rows.push(result(name, mo, mf, 'raw floor (same bytes, same connection)', 'ms', target ? { text: target.text, met: mo / mf <= target.limit } : undefined));
      }
      const full = await timeIt(() => quote(tpm, { akHandle: AK_HANDLE, nonce: NONCE, selection: SELECTION }), { warmup: 5, iterations: 100 });
      const floor = await timeIt(() => raw(tpm, RAW_QUOTE), { warmup: 5, iterations: 100 });
      rows.push(result('quote with PCR values (hardware/quote.ts: PCR read + quote + digest check)', full.median, floor.median, 'raw quote floor', 'ms'));
    } finally {
      await tpm.close();
    }
    // Peers run as processes: our connection is closed so tpm2-tools can connect.
    const env = { ...process.env, TPM2TOOLS_TCTI: sw.tcti };
    const inproc = rows[0]!.ours;
    const tools = wallTime('tpm2_quote', ['-c', `0x${AK_HANDLE.toString(16)}`, '-l', 'sha256:0,1,2,3,4,5,6,7', '-q', NONCE.toString('hex'),
      '-m', join(dir, 'q.msg'), '-s', join(dir, 'q.sig'), '-o', join(dir, 'q.pcrs'), '-g', 'sha256'], 20, { env });
    rows.push(result('quote in-process (TPM.quote) vs tpm2_quote process', inproc, tools.median, 'tpm2_quote wall time', 'ms'));
    const bin = join(ROOT, 'dist', 'tollgate');
    if (existsSync(bin)) {
      const ours = wallTime(bin, ['tpm', 'quote', '--nonce', NONCE.toString('hex'), '--pcrs', 'sha256:0,1,2,3,4,5,6,7', '--out', join(dir, 'ours')], 20,
        { env: { PATH: process.env.PATH ?? '', TOLLGATE_TPM: sw.uri } });
      rows.push(result('quote as a process: dist/tollgate tpm quote (writes 4 files)', ours.median, tools.median, 'tpm2_quote wall time', 'ms'));
    }
    return rows;
  } finally {
    await sw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
