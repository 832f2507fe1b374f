// `tollgate ledger verify | show`. (--tpm and --json are global options of the dispatcher.) The
// ledger logic lives in agent/ledger/ and the TPM parts in hardware/; this module parses flags,
// opens the TPM and formats results.
//
// verify opens the ledger the way every writer does, holding the state directory's lock, so it
// repairs what a crash left (a torn last line, a record synced but not yet extended) and says so; a
// ledger that is not a crash away from consistent is reported (exit 1) and left as it is. show
// reads the file only (no TPM, no lock): it checks the chain but not the TPM anchor, and a line a
// writer is appending at that moment shows as a torn tail.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext, CommandSpec, OptionSpec } from '../command.ts';
import { optString, outputDir } from '../options.ts';
import { STATE, stateRoot } from '../state-root.ts';
import {
  TollgateError, hex32, parseNonce, publicPem, certifyLedgerIndex, inspectLedgerIndex,
  type TPM,
} from '../../hardware/index.ts';
import { writeFileAtomic, withStateLock, DEFAULT_LOCK_WAIT_MS } from '../../tuf/index.ts';
import { openCommandTPM } from '../tpm-state.ts';
import { Ledger, LedgerError, ledgerIndexFor, showLedger, type LedgerRecord, type Recovery } from '../ledger/index.ts';

function usageError(message: string): TollgateError {
  return new TollgateError('CLI_OPTION_VALUE', message, 'usage');
}

const LOCK_WAIT: OptionSpec = { type: 'string', description: `how long to wait while another tollgate holds the state directory (default ${DEFAULT_LOCK_WAIT_MS / 1000}; then exit 3, STATE_LOCKED)`, valueName: 'SECONDS' };

/** Runs fn holding the state directory's lock (tuf/state-lock.ts), taken before the TPM is opened. */
async function withLock<T>(ctx: CommandContext, root: string, fn: () => Promise<T>): Promise<T> {
  const v = optString(ctx, 'lock-wait');
  const seconds = v === undefined ? DEFAULT_LOCK_WAIT_MS / 1000 : /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isFinite(seconds) || seconds > 86_400) throw usageError(`--lock-wait ${v} is not a number of seconds between 0 and 86400.`);
  if (!existsSync(root)) throw new LedgerError('LEDGER_NOT_FOUND', `There is no tollgate state in ${root}; check --state.`);
  return withStateLock(root, {
    command: 'ledger verify', waitMs: Math.round(seconds * 1000),
    onWait: (h) => ctx.info(`tollgate: the state directory is in use by ${h ? `tollgate ${h.command} (PID ${h.pid})` : 'another tollgate process'}; waiting up to ${seconds} s`),
  }, fn);
}

// With the SRK pin `tollgate tpm provision` recorded in the state root (tpm-state.ts): the ledger
// index is read and extended through sessions salted only to that SRK.
async function withTPM<T>(ctx: CommandContext, root: string, fn: (tpm: TPM) => Promise<T>): Promise<T> {
  const tpm = await openCommandTPM(ctx, { pinFrom: root });
  try {
    return await fn(tpm);
  } finally {
    await tpm.close();
  }
}

function recoveryText(a: Recovery): string {
  if (a.action === 'torn-tail-dropped') return `dropped a torn last line (${a.length} bytes at byte ${a.offset}, sha256 ${a.sha256}): a crash mid-append`;
  if (a.action === 'rolled-forward') return `extended record ${a.seq} into the TPM: a crash between writing it and extending it`;
  return 'wrote record 0 again: a crash while the ledger was created';
}

// ------------------------------------------------------------------------------------------------
// ledger verify

interface CertifyOutput {
  verified: true;
  nonce: string;
  /** The TPMS_ATTEST (TPM_ST_ATTEST_NV) and TPMT_SIGNATURE, hex. */
  attest: string;
  signature: string;
  indexName: string;
  contents: string;
  akHandle: string;
  akName: string;
  akPublicKey: string;
}

interface VerifyOutput {
  verified: true;
  path: string;
  records: number;
  head: string;
  nvIndex: { handle: string; name: string | null; value: string };
  recovered: Recovery[];
  certify?: CertifyOutput;
}

const verify: CommandSpec = {
  path: ['ledger', 'verify'],
  summary: "Replay the ledger's hash chain and compare it with the TPM's ledger index; exit 0 consistent, 1 tampered.",
  usage: [
    'tollgate ledger verify [--certify [--nonce HEX] [--out DIR]] [--state DIR] [--lock-wait SECONDS] [--tpm URI] [--json]',
    '',
    'A crash leftover (a torn last line, a record written but not yet extended into the TPM) is repaired',
    'and reported, as every tollgate command that writes the ledger does. A removed, altered, reordered or',
    'cut-off record is named (seq and kind) and nothing is changed. With --certify the AK signs the index',
    'value (TPM2_NV_Certify) over a nonce, so a remote party holding the AK public key can check the head.',
  ].join('\n'),
  options: {
    certify: { type: 'boolean', description: 'Also have the AK certify the index value (TPM2_NV_Certify) and verify that certification.' },
    nonce: { type: 'string', valueName: 'HEX', description: "The remote verifier's nonce for --certify, 1 to 64 bytes as hex (default 32 random bytes)." },
    out: { type: 'string', valueName: 'DIR', description: 'With --certify, also write nvcertify.msg, nvcertify.sig and ak.pub.pem here.' },
    state: STATE,
    'lock-wait': LOCK_WAIT,
  },
  async run(ctx) {
    const certify = ctx.values['certify'] === true;
    const nonceHex = optString(ctx, 'nonce');
    const out = optString(ctx, 'out');
    if (!certify && (nonceHex !== undefined || out !== undefined)) throw usageError('--nonce and --out go with --certify.');
    // Refused before the TPM is touched, like every --out DIR.
    const outDir = out === undefined ? undefined : outputDir(ctx, 'out', out);
    const nonce = certify ? (nonceHex !== undefined ? parseNonce(nonceHex) : randomBytes(32)) : undefined;
    const root = stateRoot(ctx);
    const data = await withLock(ctx, root, () => withTPM(ctx, root, async (tpm): Promise<VerifyOutput> => {
      const ledger = await Ledger.open({ stateRoot: root, tpm, index: ledgerIndexFor(root, ctx.env), create: false, ownerAuth: ctx.env.TOLLGATE_OWNER_AUTH ?? '' });
      const s = ledger.state();
      const recovered = [...ledger.recovered];
      await ledger.close();
      const idx = await inspectLedgerIndex(tpm, s.index);
      const result: VerifyOutput = {
        verified: true, path: s.path, records: s.count, head: s.head,
        nvIndex: { handle: hex32(s.index), name: idx.name?.toString('hex') ?? null, value: s.nv },
        recovered,
      };
      if (!nonce) return result;
      const c = await certifyLedgerIndex(tpm, nonce, { index: s.index });
      if (c.contents.toString('hex') !== s.nv) {
        throw new LedgerError('LEDGER_TAMPERED', 'The index value the AK certified differs from the one just replayed: something extended the index meanwhile. Run verify again.', { details: { kind: 'unanchored', seq: s.count } });
      }
      const pem = publicPem(c.ak.public);
      return {
        ...result,
        certify: {
          verified: true, nonce: c.nonce.toString('hex'), attest: c.attestBytes.toString('hex'), signature: c.signatureBytes.toString('hex'),
          indexName: c.indexName.toString('hex'), contents: c.contents.toString('hex'),
          akHandle: hex32(c.ak.handle), akName: c.ak.name.toString('hex'), akPublicKey: pem,
        },
      };
    }));
    let files: Record<string, string> | undefined;
    if (outDir !== undefined && data.certify) {
      const dir = outDir;
      files = {};
      for (const [name, bytes] of [['nvcertify.msg', Buffer.from(data.certify.attest, 'hex')], ['nvcertify.sig', Buffer.from(data.certify.signature, 'hex')], ['ak.pub.pem', data.certify.akPublicKey]] as const) {
        try {
          writeFileAtomic(join(dir, name), bytes);
        } catch (e) {
          throw new TollgateError('CLI_WRITE_FAILED', `Cannot write ${join(dir, name)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that --out is a writable directory.`, 'environment', { cause: e });
        }
        files[name] = join(dir, name);
      }
    }
    const lines = [
      `Ledger verified: ${data.records} records in ${data.path}, head ${data.head},`,
      `matching TPM NV index ${data.nvIndex.handle} (value ${data.nvIndex.value}).`,
      ...data.recovered.map((a) => `Repaired on open: ${recoveryText(a)}.`),
      ...(data.certify ? [
        `NV_Certify by the AK (${data.certify.akHandle}) over nonce ${data.certify.nonce}: verified (index Name ${data.certify.indexName}).`,
        `attest ${data.certify.attest}`, `signature ${data.certify.signature}`, 'AK public key:', data.certify.akPublicKey.trimEnd(),
      ] : []),
      ...(files ? [`Wrote ${Object.keys(files).join(', ')} to ${outDir}.`] : []),
    ];
    ctx.result(files ? { ...data, files } : data, lines.join('\n'));
  },
};

// ------------------------------------------------------------------------------------------------
// ledger show

function summary(r: LedgerRecord): string {
  const d = JSON.stringify(r.data);
  return d.length > 120 ? `${d.slice(0, 117)}...` : d;
}

const show: CommandSpec = {
  path: ['ledger', 'show'],
  summary: 'Print ledger records (all, or from --since SEQ on); the hash chain is checked, the TPM is not used.',
  usage: 'tollgate ledger show [--since SEQ] [--state DIR] [--json]',
  options: {
    since: { type: 'string', valueName: 'SEQ', description: 'Show records from this sequence number on (default 0).' },
    state: STATE,
  },
  async run(ctx) {
    const sinceText = optString(ctx, 'since') ?? '0';
    if (!/^\d{1,15}$/.test(sinceText.trim())) throw usageError(`--since ${sinceText} is not a record sequence number (0, 1, 2, ...).`);
    const since = Number(sinceText.trim());
    const records: LedgerRecord[] = [];
    const text: string[] = [];
    const r = showLedger(stateRoot(ctx), since, (rec) => {
      if (ctx.json) records.push(rec);
      else text.push(`${String(rec.seq).padStart(6)}  ${rec.time.wall}  clock ${rec.time.clock}  ${rec.type}  ${summary(rec)}`);
    });
    const tail = r.tail ? `An incomplete last line (${r.tail.length} bytes at byte ${r.tail.offset}) follows: an append in progress, or a crash mid-append that the next writer drops.` : undefined;
    const data = { path: r.path, count: r.count, head: r.head, since, records, ...(r.tail ? { tail: r.tail } : {}), ...(r.problem ? { error: r.problem } : {}) };
    ctx.result(data, [
      ...text,
      `${r.count} valid records in ${r.path}${since > 0 ? `, shown from seq ${since}` : ''}; head ${r.head}.`,
      ...(tail ? [tail] : []),
    ].join('\n'));
    if (r.problem) ctx.info(`tollgate: ${r.problem.code}: ${r.problem.message}`);
    return r.problem ? 1 : 0;
  },
};

export const commands: CommandSpec[] = [verify, show];
