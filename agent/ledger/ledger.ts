// The ledger: an append-only, hash-chained record of every decision and event (record.ts), kept
// in <state>/ledger/ledger.jsonl (store.ts) and anchored in a TPM NV extend index
// (hardware/nvledger.ts; 0x0150005F, or the last handle of the block of the TUF anchor named at
// init: ledgerIndexFor), so the TPM vouches for the head.
//
// Append: read the TPM clock → build the record → write + fdatasync the line → extend its hash
// into the index. A record is durable before the action it records takes effect (the caller acts
// only after append() returns), and the index never holds a hash the disk does not.
//
// Open (every writer, on start) replays the file (replay.ts) against the index value and decides,
// before changing anything:
//   index == nv(n)                 consistent
//   index == nv(n-1)               a crash between sync and extend: extend record n-1 now (roll forward)
//   a torn last line               a crash mid-append: it was never synced whole, so never extended;
//                                  cut it off (ftruncate + fsync)
//   file empty, index unwritten    a crash while creating: write record 0 again
//   anything else                  LEDGER_TAMPERED (the file's own problem, or 'unanchored' when the
//                                  index matches an earlier record, or 'truncated' when it matches
//                                  none), LEDGER_NV_RESET (records but the index was removed or never
//                                  written), LEDGER_NV_FOREIGN; nothing is changed then.
// Every repair is then recorded in a `ledger.recovered` record (a crash inside the repair itself
// can lose that note; the repair is redone and recorded on the next open). Record 0 is
// `ledger.created`: which index anchors the ledger, its Name, and whether the ledger defined it.
//
// One writer at a time: the CALLER must hold the state directory's lock (tuf's withStateLock) for
// as long as a Ledger is open. Two writers would fork the chain, which the next open reports as
// tampering. Within one process, appends are queued.
//
// Known limit (see hardware/nvledger.ts): with owner authorization, someone can undefine and
// redefine the index, rewrite the file and extend the forged chain. Locally that is undetectable;
// remote verifiers catch it (records they acknowledged are gone; NV_Certify by the AK shows the
// value). Likewise someone who can write the file but not the TPM can append one unextended record
// that the next open rolls forward; the `ledger.recovered` record right after it says so.
import { join } from 'node:path';
import {
  hex32, inspectLedgerIndex, defineLedgerIndex, readLedgerIndex, extendLedgerIndex, nvExtendValue, ledgerIndexName, LEDGER_NV_INDEX, LEDGER_NV_OFFSET,
  type TPM, type Authorization,
} from '../../hardware/index.ts';
import { readConfig, statePaths, TufError } from '../../tuf/index.ts';
import { LedgerError, tampered } from './errors.ts';
import { makeRecord, LEDGER_FORMAT, ZERO_HASH, type LedgerRecord, type LedgerTime } from './record.ts';
import { replay, type Replay, type TornTail } from './replay.ts';
import { LedgerFile } from './store.ts';
import { crashPoint } from './crash.ts';

export interface LedgerOptions {
  /** The state directory; the ledger lives in <stateRoot>/ledger/. */
  stateRoot: string;
  tpm: TPM;
  /** Owner authorization for extends and for defining the index (default TOLLGATE_OWNER_AUTH, else empty). */
  ownerAuth?: Authorization;
  /** The NV index (default ledgerIndexFor(stateRoot): 0x0150005F for the default TUF anchor). */
  index?: number;
  /** Create the ledger (and define the index) when there is none. Default true. */
  create?: boolean;
  /** Host wall clock (default Date.now). */
  now?: () => number;
}

/** What open() repaired. */
export type Recovery =
  | { action: 'torn-tail-dropped'; offset: number; length: number; sha256: string }
  | { action: 'rolled-forward'; seq: number; hash: string }
  | { action: 'genesis-rewritten' };

/** The decision open() takes from a replay, before anything is changed. */
export interface LedgerPlan {
  replay: Replay;
  tail: TornTail | undefined;
  rollForward: LedgerRecord | undefined;
  /** No record 0 yet (an empty or just-created file). */
  needGenesis: boolean;
}

export interface LedgerState {
  path: string;
  index: number;
  /** Records in the ledger. */
  count: number;
  /** Hash of the last record (ZERO_HASH when empty). */
  head: string;
  /** What the TPM index holds (nv(count)). */
  nv: string;
}

/**
 * The ledger's NV index for a state directory: TOLLGATE_LEDGER_INDEX when set (an owner-range NV
 * handle), else the last handle (+0x3F) of the 0x40-handle block that starts at the TUF anchor
 * named at init (the anchor uses +0x00..+0x33), so two state directories whose anchors are 0x40
 * apart on one TPM never share a ledger index; 0x0150005F when TUF is not initialised (the default
 * anchor). Near the top of the owner range, where +0x3F would leave it, the handle just below the
 * anchor.
 */
export function ledgerIndexFor(stateRoot: string, env: NodeJS.ProcessEnv = process.env): number {
  const v = env.TOLLGATE_LEDGER_INDEX;
  if (v !== undefined && v !== '') {
    const n = /^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!Number.isInteger(n) || n < 0x01000000 || n > 0x01bfffff) {
      throw new LedgerError('LEDGER_CONFIG', `TOLLGATE_LEDGER_INDEX=${v} is not an NV index handle in the owner range (0x01000000 to 0x01bfffff), e.g. 0x0150005f.`);
    }
    return n;
  }
  let anchor: number;
  try {
    anchor = readConfig(statePaths(join(stateRoot, 'tuf'))).anchorHandle;
  } catch (e) {
    if (e instanceof TufError && e.code === 'TUF_NOT_INITIALIZED') return LEDGER_NV_INDEX;
    throw e;
  }
  return anchor + LEDGER_NV_OFFSET <= 0x01bfffff ? anchor + LEDGER_NV_OFFSET : anchor - 1;
}

const RESET_HINT = 'If that was done on purpose, move the ledger directory aside (keep it: it is the record of what happened before) and run again to start a new ledger.';

function envOwnerAuth(): string {
  return process.env.TOLLGATE_OWNER_AUTH ?? '';
}

/**
 * Judges a replay against the index (read-only). `indexWritten` false means the index holds no
 * extend yet. Throws the typed error for a ledger that is not just a crash away from consistent.
 */
export function planRecovery(r: Replay, index: number, indexWritten: boolean): LedgerPlan {
  if (r.problem) throw r.problem;
  const n = r.count;
  if (r.genesis && (r.genesis.type !== 'ledger.created' || r.genesis.data.nvIndex !== hex32(index))) {
    throw tampered('altered', 0, `Ledger record 0 is not the start of a ledger anchored in NV index ${hex32(index)}.`);
  }
  const base = { replay: r, tail: r.tail, needGenesis: n === 0 };
  if (r.nvMatch === n) return { ...base, rollForward: undefined };
  if (r.nvMatch === n - 1 && n >= 1) return { ...base, rollForward: r.last };
  if (!indexWritten) {
    throw new LedgerError('LEDGER_NV_RESET', `The TPM's ledger index ${hex32(index)} holds no extend, but the ledger has ${n} records: the index was removed and defined again, or this ledger belongs to another TPM. ${RESET_HINT}`, { details: { records: n } });
  }
  if (r.nvMatch !== undefined) {
    throw tampered('unanchored', r.nvMatch, `Ledger records from ${r.nvMatch} on were never extended into the TPM: someone appended them.`, { records: n });
  }
  throw tampered('truncated', n, `The TPM's ledger index holds a value no prefix of the ledger gives: records from ${n} on were cut off (or the ledger was rewritten).`, { records: n });
}

export class Ledger {
  readonly file: LedgerFile;
  readonly index: number;
  private readonly tpm: TPM;
  private readonly ownerAuth: Authorization;
  private readonly now: () => number;
  private fd: number | undefined;
  private count = 0;
  private head = ZERO_HASH;
  private nv: Buffer = Buffer.alloc(32);
  /** Set when an append failed half-way: the next append first reconciles with the TPM. */
  private unsure = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** What open() repaired. */
  readonly recovered: Recovery[] = [];
  /** Whether open() created the ledger (and whether it defined the index). */
  created: { ledger: boolean; index: boolean } = { ledger: false, index: false };

  private constructor(file: LedgerFile, o: LedgerOptions) {
    this.file = file;
    this.tpm = o.tpm;
    this.index = o.index ?? ledgerIndexFor(o.stateRoot);
    this.ownerAuth = o.ownerAuth ?? envOwnerAuth();
    this.now = o.now ?? Date.now;
  }

  /**
   * Opens (and on first use creates) the ledger, repairing what a crash left (see the file
   * comment). The caller holds the state directory lock until close().
   */
  static async open(o: LedgerOptions): Promise<Ledger> {
    const l = new Ledger(LedgerFile.inState(o.stateRoot), o);
    try {
      await l.recover(o.create !== false);
    } catch (e) {
      l.closeFd();
      throw e;
    }
    return l;
  }

  private async recover(create: boolean): Promise<void> {
    const status = await inspectLedgerIndex(this.tpm, this.index);
    if (status.state === 'foreign') {
      throw new LedgerError('LEDGER_NV_FOREIGN', `NV index ${hex32(this.index)}, where tollgate anchors its ledger, holds another index: ${status.reason}. Remove it (tpm2_nvundefine ${hex32(this.index)} -C o) if nothing needs it.`, { details: { index: hex32(this.index) } });
    }
    if (!this.file.exists()) {
      if (status.written) {
        throw tampered('truncated', 0, `The ledger file ${this.file.path} is missing, but the TPM's ledger index ${hex32(this.index)} holds extends: the ledger was deleted. (To start a new ledger on purpose, undefine the index with owner authorization: tpm2_nvundefine ${hex32(this.index)} -C o. Remote verifiers will see that.)`);
      }
      if (!create) throw new LedgerError('LEDGER_NOT_FOUND', `There is no ledger at ${this.file.path}; check --state. tollgate creates it with the first decision it records.`);
    }
    let plan: LedgerPlan;
    if (status.state === 'absent') {
      // No index: fine for a ledger that has no record yet; otherwise the anchor was removed.
      const r = this.file.exists() ? replay(this.file) : undefined;
      if (r?.problem) throw r.problem;
      if (r && r.count > 0) {
        throw new LedgerError('LEDGER_NV_RESET', `The TPM has no ledger index at ${hex32(this.index)}, but the ledger has ${r.count} records: the index was removed (a TPM clear removes it), or this ledger belongs to another TPM. ${RESET_HINT}`, { details: { records: r.count } });
      }
      if (!create) throw new LedgerError('LEDGER_NOT_FOUND', `The ledger at ${this.file.path} has no records and the TPM no ledger index; tollgate creates both with the first decision it records.`);
      this.created.index = (await defineLedgerIndex(this.tpm, { index: this.index, ownerAuth: this.ownerAuth })).created;
      plan = { replay: r ?? emptyReplay(), tail: r?.tail, rollForward: undefined, needGenesis: true };
    } else {
      const { written, value } = await readLedgerIndex(this.tpm, this.index);
      const r = this.file.exists() ? replay(this.file, { nv: value }) : undefined;
      plan = r ? planRecovery(r, this.index, written) : { replay: emptyReplay(), tail: undefined, rollForward: undefined, needGenesis: true };
    }
    if (plan.needGenesis && !create) throw new LedgerError('LEDGER_NOT_FOUND', `The ledger at ${this.file.path} has no records yet.`);
    await this.repair(plan);
  }

  /** Opening: apply the plan, write record 0 if there is none, and record what was repaired. */
  private async repair(plan: LedgerPlan): Promise<void> {
    const acts = await this.apply(plan);
    if (plan.needGenesis) {
      this.created.ledger = true;
      if (plan.tail) acts.push({ action: 'genesis-rewritten' });
      await this.write('ledger.created', {
        format: LEDGER_FORMAT, nvIndex: hex32(this.index), nvName: ledgerIndexName(this.index, false).toString('hex'), indexDefinedByLedger: this.created.index,
      });
    }
    await this.noteRecovery(acts);
  }

  /** Drops a torn tail, then rolls forward a synced but unextended last record. */
  private async apply(plan: LedgerPlan): Promise<Recovery[]> {
    const r = plan.replay;
    const acts: Recovery[] = [];
    if (plan.tail) {
      this.file.truncate(plan.tail.offset);
      acts.push({ action: 'torn-tail-dropped', ...plan.tail });
    }
    this.count = r.count;
    this.head = r.head;
    this.nv = plan.rollForward ? r.nvPrev! : r.nvHead;
    this.fd ??= this.file.openAppend();
    if (plan.rollForward) {
      // Its writer may have died between write and fdatasync: make it durable before the TPM vouches for it.
      this.file.sync(this.fd);
      crashPoint('ledger:roll-forward');
      await this.extend(plan.rollForward.hash);
      acts.push({ action: 'rolled-forward', seq: plan.rollForward.seq, hash: plan.rollForward.hash });
    }
    return acts;
  }

  private async noteRecovery(acts: Recovery[]): Promise<void> {
    if (acts.length === 0) return;
    this.recovered.push(...acts);
    await this.write('ledger.recovered', { actions: acts.map((a) => ({ ...a })) });
  }

  private async extend(hash: string): Promise<void> {
    const d = Buffer.from(hash, 'hex');
    await extendLedgerIndex(this.tpm, d, { index: this.index, ownerAuth: this.ownerAuth });
    this.nv = nvExtendValue(this.nv, d);
  }

  private async time(): Promise<LedgerTime> {
    const t = await this.tpm.readClock();
    const c = t.clockInfo;
    return { clock: BigInt(c.clock).toString(), resetCount: Number(c.resetCount), restartCount: Number(c.restartCount), safe: Boolean(c.safe), wall: new Date(this.now()).toISOString() };
  }

  /** Append + extend, without the queue. */
  private async write(type: string, data: Record<string, unknown>): Promise<LedgerRecord> {
    if (this.fd === undefined) throw new LedgerError('LEDGER_CLOSED', 'The ledger is closed; open it again.');
    if (this.unsure) await this.reconcile();
    const { record, line } = makeRecord({ v: LEDGER_FORMAT, seq: this.count, time: await this.time(), type, data, prevHash: this.head });
    this.unsure = true;
    this.file.append(this.fd, line);
    this.count++;
    this.head = record.hash;
    crashPoint('ledger:synced');
    await this.extend(record.hash);
    this.unsure = false;
    crashPoint('ledger:extended');
    return record;
  }

  /**
   * After an append that failed half-way (disk error, TPM error, lost connection): find out from
   * the file and the index what happened, and finish it (roll forward) or refuse.
   */
  private async reconcile(): Promise<void> {
    const { written, value } = await readLedgerIndex(this.tpm, this.index);
    const acts = await this.apply(planRecovery(replay(this.file, { nv: value }), this.index, written));
    this.unsure = false;
    await this.noteRecovery(acts);
  }

  /**
   * Appends a record and extends it into the TPM; resolves once both are done. Act on the
   * decision it records only after this resolves.
   */
  append(type: string, data: Record<string, unknown>): Promise<LedgerRecord> {
    const run = this.queue.then(() => this.write(type, data));
    this.queue = run.catch(() => undefined);
    return run;
  }

  state(): LedgerState {
    return { path: this.file.path, index: this.index, count: this.count, head: this.head, nv: this.nv.toString('hex') };
  }

  private closeFd(): void {
    if (this.fd !== undefined) this.file.close(this.fd);
    this.fd = undefined;
  }

  /** Waits for queued appends, then closes the file. The TPM connection stays the caller's. */
  async close(): Promise<void> {
    await this.queue;
    this.closeFd();
  }
}

function emptyReplay(): Replay {
  return { count: 0, head: ZERO_HASH, nvHead: Buffer.alloc(32), nvPrev: undefined, genesis: undefined, last: undefined, validEnd: 0, tail: undefined, problem: undefined, nvMatch: 0 };
}
