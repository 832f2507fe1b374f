// The TPM anchor of tollgate's TUF state: what a local attacker with the disk cannot change.
//
// NV layout (owner hierarchy; handles in the owner range, one tollgate per TPM):
//   0x01500020  anchor  ordinary, 112 bytes, written once at init, then NV_WriteLock'ed. It has
//                       TPMA_NV_WRITEDEFINE, so the lock is permanent (only NV_UndefineSpace with
//                       owner authorization removes the index):
//                         0 'TGTA'  4 u16 layout (1)  6 u16 flags (0)
//                         8 sha256(pinned root.json bytes) [32]
//                        40 u32 handle, u64 baseline      root-version counter
//                        52 epoch 0: sha256(timestamp+snapshot key set of the pinned root) [32]
//                        84 u32 handle, u64 baseline      timestamp-version counter of epoch 0
//                        96 u32 handle, u64 baseline      snapshot-version counter of epoch 0
//                       108 u8 mantissa bits (7)  109..111 reserved
//   0x01500021  counter root version floor
//   0x01500022  counter timestamp version floor, epoch 0
//   0x01500023  counter snapshot version floor, epoch 0
//   0x01500024 + 3(e-1)      epoch e record (e = 1..16), ordinary 64 bytes, write-once + locked:
//                         0 'TGTE'  4 u16 layout (1)  6 u16 e  8 key-set digest [32]
//                        40 u32 handle, u64 baseline (timestamp)  52 u32 handle, u64 baseline (snapshot)
//   0x01500025 + 3(e-1), 0x01500026 + 3(e-1)   epoch e's timestamp / snapshot counters
//
// Why epochs: TUF's fast-forward-attack recovery rotates the timestamp/snapshot keys and restarts
// their versions low. A counter cannot go down, so a floor only applies within the key set it was
// recorded under; a new key set (seen in a verified root) gets fresh counters whose baselines are
// locked in a new epoch record. The root floor has no epochs: root versions never restart.
//
// A new NV counter starts at the TPM-wide maximum of all counters ever defined (not 0), so each
// counter's value after its first increment is its baseline, locked in the anchor/epoch record;
// `value - baseline` is a step count decoded by floor-encoding.ts. Counters are not ORDERLY: an
// orderly (hybrid) counter may jump ahead after an unorderly shutdown, which would raise the floor
// above what we trusted and brick the device. An attacker with owner access can only raise
// counters (denial of service), never lower them; undefine+redefine yields a value >= the old one.
import { createHash } from 'node:crypto';
import { TPMA_NV, TPM_NT } from '../hardware/index.ts';
import { TufError, rollbackError } from './errors.ts';
import { floorOfSteps, stepsForVersion } from './floor-encoding.ts';
import { crashPoint } from './atomic.ts';

export const ANCHOR_HANDLE = 0x01500020;
export const MAX_EPOCHS = 16;
export type FloorRole = 'root' | 'timestamp' | 'snapshot';
export const FLOOR_ROLES: FloorRole[] = ['root', 'timestamp', 'snapshot'];
type EpochRole = 'timestamp' | 'snapshot';
const EPOCH_ROLES: EpochRole[] = ['timestamp', 'snapshot'];

const ANCHOR_MAGIC = Buffer.from('TGTA', 'latin1');
const EPOCH_MAGIC = Buffer.from('TGTE', 'latin1');
const LAYOUT_VERSION = 1;
const MANTISSA_BITS = 7;
export const ANCHOR_SIZE = 112;
export const EPOCH_SIZE = 64;

const NT_MASK = 0xf << 4; // TPM_NT: the index type in TPMA_NV bits 4..7

export const RECORD_ATTRIBUTES = TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.WRITEDEFINE | TPMA_NV.WRITEALL | TPMA_NV.NO_DA;
export const COUNTER_ATTRIBUTES = (TPM_NT.COUNTER << 4) | TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA;

/** The NV operations the anchor needs (hardware/ adapted in tpm.ts). */
export interface AnchorTPM {
  /** undefined when the index is not defined. */
  nvPublic(index: number): Promise<{ attributes: number; dataSize: number } | undefined>;
  nvDefine(index: number, size: number, attributes: number): Promise<void>;
  nvRead(index: number, size: number): Promise<Uint8Array>;
  nvWrite(index: number, data: Uint8Array): Promise<void>;
  nvWriteLock(index: number): Promise<void>;
  nvIncrement(index: number): Promise<void>;
  /**
   * Increments counter `index` up to `limit` and never beyond, however many writers race: each
   * increment is conditional on the value it was computed from (see tpm.ts). `onStep` runs after
   * each increment. Returns the value it leaves and the increments it made.
   */
  nvRaise(index: number, limit: bigint, onStep?: () => void): Promise<{ value: bigint; increments: number }>;
}

export interface CounterRef { handle: number; baseline: bigint }
export interface Epoch { number: number; keyset: Buffer; counters: Record<EpochRole, CounterRef> }
export interface AnchorRecord { rootDigest: Buffer; root: CounterRef; epoch0: Epoch }
export type Floors = Record<FloorRole, number>;

export function sha256(b: Uint8Array | string): Buffer {
  return createHash('sha256').update(b).digest();
}

export function hex32(n: number): string { return '0x' + n.toString(16).padStart(8, '0'); }

export function epochHandles(e: number, base = ANCHOR_HANDLE): { record: number; timestamp: number; snapshot: number } {
  const record = base + 4 + 3 * (e - 1);
  return { record, timestamp: record + 1, snapshot: record + 2 };
}

function putCounter(b: Buffer, off: number, c: CounterRef): void {
  b.writeUInt32BE(c.handle, off);
  b.writeBigUInt64BE(c.baseline, off + 4);
}
function getCounter(b: Buffer, off: number): CounterRef {
  return { handle: b.readUInt32BE(off), baseline: b.readBigUInt64BE(off + 4) };
}

function invalidRecord(handle: number, why: string): TufError {
  return new TufError('TUF_ANCHOR_INVALID', `NV index ${hex32(handle)} does not hold a valid tollgate record (${why}); it belongs to something else or is damaged.`, 'environment');
}

export function encodeAnchor(r: AnchorRecord): Buffer {
  const b = Buffer.alloc(ANCHOR_SIZE);
  ANCHOR_MAGIC.copy(b, 0);
  b.writeUInt16BE(LAYOUT_VERSION, 4);
  if (r.rootDigest.length !== 32 || r.epoch0.keyset.length !== 32) throw new RangeError('digests must be 32 bytes');
  r.rootDigest.copy(b, 8);
  putCounter(b, 40, r.root);
  r.epoch0.keyset.copy(b, 52);
  putCounter(b, 84, r.epoch0.counters.timestamp);
  putCounter(b, 96, r.epoch0.counters.snapshot);
  b[108] = MANTISSA_BITS;
  return b;
}

export function decodeAnchor(raw: Uint8Array, handle = ANCHOR_HANDLE): AnchorRecord {
  const b = Buffer.from(raw);
  if (b.length !== ANCHOR_SIZE || !b.subarray(0, 4).equals(ANCHOR_MAGIC)) throw invalidRecord(handle, 'bad magic or size');
  if (b.readUInt16BE(4) !== LAYOUT_VERSION || b[108] !== MANTISSA_BITS) throw invalidRecord(handle, `layout ${b.readUInt16BE(4)}/${b[108]} unknown to this tollgate`);
  return {
    rootDigest: Buffer.from(b.subarray(8, 40)),
    root: getCounter(b, 40),
    epoch0: { number: 0, keyset: Buffer.from(b.subarray(52, 84)), counters: { timestamp: getCounter(b, 84), snapshot: getCounter(b, 96) } },
  };
}

export function encodeEpoch(e: Epoch): Buffer {
  const b = Buffer.alloc(EPOCH_SIZE);
  EPOCH_MAGIC.copy(b, 0);
  b.writeUInt16BE(LAYOUT_VERSION, 4);
  b.writeUInt16BE(e.number, 6);
  e.keyset.copy(b, 8);
  putCounter(b, 40, e.counters.timestamp);
  putCounter(b, 52, e.counters.snapshot);
  return b;
}

export function decodeEpoch(raw: Uint8Array, handle: number, expected: number): Epoch {
  const b = Buffer.from(raw);
  if (b.length !== EPOCH_SIZE || !b.subarray(0, 4).equals(EPOCH_MAGIC)) throw invalidRecord(handle, 'bad magic or size');
  if (b.readUInt16BE(4) !== LAYOUT_VERSION || b.readUInt16BE(6) !== expected) throw invalidRecord(handle, 'wrong layout or epoch number');
  return { number: expected, keyset: Buffer.from(b.subarray(8, 40)), counters: { timestamp: getCounter(b, 40), snapshot: getCounter(b, 52) } };
}

async function readCounter(tpm: AnchorTPM, handle: number): Promise<bigint> {
  return Buffer.from(await tpm.nvRead(handle, 8)).readBigUInt64BE(0);
}

function checkAttributes(actual: number, expected: number, size: number, expectedSize: number, handle: number): void {
  // Compare the defining attributes only (not the state bits WRITTEN/WRITELOCKED).
  const mask = TPMA_NV.OWNERWRITE | TPMA_NV.AUTHWRITE | NT_MASK | TPMA_NV.WRITEDEFINE | TPMA_NV.WRITEALL | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.ORDERLY;
  if (((actual >>> 0) & mask) !== ((expected >>> 0) & mask) || size !== expectedSize) {
    throw new TufError('TUF_ANCHOR_INVALID', `NV index ${hex32(handle)} is defined with a size or attributes tollgate does not use; it belongs to something else.`, 'environment');
  }
}

/** Defines (if needed) and initialises a counter; returns its current value. Idempotent. */
async function ensureCounter(tpm: AnchorTPM, handle: number): Promise<bigint> {
  const pub = await tpm.nvPublic(handle);
  if (!pub) {
    await tpm.nvDefine(handle, 8, COUNTER_ATTRIBUTES);
    crashPoint('anchor:counter-defined');
  } else {
    checkAttributes(pub.attributes, COUNTER_ATTRIBUTES, pub.dataSize, 8, handle);
  }
  // A counter cannot be read before its first increment.
  if (!pub || !(pub.attributes & TPMA_NV.WRITTEN)) {
    await tpm.nvIncrement(handle);
    crashPoint('anchor:counter-initialised');
  }
  return readCounter(tpm, handle);
}

/** State of a write-once record index: absent, defined-but-incomplete, or final. */
async function recordState(tpm: AnchorTPM, handle: number, size: number): Promise<'absent' | 'open' | 'locked'> {
  const pub = await tpm.nvPublic(handle);
  if (!pub) return 'absent';
  checkAttributes(pub.attributes, RECORD_ATTRIBUTES, pub.dataSize, size, handle);
  return (pub.attributes & TPMA_NV.WRITTEN) && (pub.attributes & TPMA_NV.WRITELOCKED) ? 'locked' : 'open';
}

async function writeRecord(tpm: AnchorTPM, handle: number, state: 'absent' | 'open', data: Buffer): Promise<void> {
  if (state === 'absent') {
    await tpm.nvDefine(handle, data.length, RECORD_ATTRIBUTES);
    crashPoint('anchor:record-defined');
  }
  await tpm.nvWrite(handle, data);
  crashPoint('anchor:record-written');
  await tpm.nvWriteLock(handle);
}

export class TpmAnchor {
  readonly tpm: AnchorTPM;
  readonly record: AnchorRecord;
  readonly base: number;
  /** Epoch 0 (from the anchor) followed by every completed epoch record. */
  readonly epochs: Epoch[];
  private constructor(tpm: AnchorTPM, record: AnchorRecord, base: number, epochs: Epoch[]) {
    this.tpm = tpm; this.record = record; this.base = base; this.epochs = epochs;
  }

  get activeEpoch(): Epoch { return this.epochs[this.epochs.length - 1]!; }

  /**
   * Pins `rootDigest` (and the pinned root's timestamp/snapshot key set) in the TPM. Idempotent for
   * the same root; crash-safe: every step can be repeated until the anchor is written and locked.
   */
  static async provision(tpm: AnchorTPM, rootDigest: Buffer, keyset: Buffer, base = ANCHOR_HANDLE): Promise<{ anchor: TpmAnchor; created: boolean }> {
    const state = await recordState(tpm, base, ANCHOR_SIZE);
    if (state === 'locked') {
      const rec = decodeAnchor(await tpm.nvRead(base, ANCHOR_SIZE), base);
      if (!rec.rootDigest.equals(rootDigest)) {
        throw new TufError('TUF_ANCHOR_CONFLICT',
          `This TPM already pins a different TUF root (sha256 ${rec.rootDigest.toString('hex')}); to re-provision, an operator must undefine NV index ${hex32(base)} with owner authorization.`,
          'denied', { details: { pinned: rec.rootDigest.toString('hex'), requested: rootDigest.toString('hex') } });
      }
      return { anchor: await TpmAnchor.load(tpm, base), created: false };
    }
    const root = { handle: base + 1, baseline: await ensureCounter(tpm, base + 1) };
    const ts = { handle: base + 2, baseline: await ensureCounter(tpm, base + 2) };
    const snap = { handle: base + 3, baseline: await ensureCounter(tpm, base + 3) };
    const record: AnchorRecord = { rootDigest, root, epoch0: { number: 0, keyset, counters: { timestamp: ts, snapshot: snap } } };
    await writeRecord(tpm, base, state, encodeAnchor(record));
    return { anchor: new TpmAnchor(tpm, record, base, [record.epoch0]), created: true };
  }

  /** Loads the anchor and its epochs; refuses an index that is missing, foreign or not locked. */
  static async load(tpm: AnchorTPM, base = ANCHOR_HANDLE): Promise<TpmAnchor> {
    const state = await recordState(tpm, base, ANCHOR_SIZE);
    if (state === 'absent') {
      throw new TufError('TUF_NOT_INITIALIZED', `The TPM holds no tollgate anchor at NV ${hex32(base)}; run \`tollgate init\` first.`, 'environment');
    }
    if (state === 'open') {
      throw new TufError('TUF_NOT_INITIALIZED', `The TPM anchor at NV ${hex32(base)} was never completed (init was interrupted); run \`tollgate init\` again.`, 'environment');
    }
    const record = decodeAnchor(await tpm.nvRead(base, ANCHOR_SIZE), base);
    const epochs: Epoch[] = [record.epoch0];
    for (let e = 1; e <= MAX_EPOCHS; e++) {
      const h = epochHandles(e, base);
      if ((await recordState(tpm, h.record, EPOCH_SIZE)) !== 'locked') break;
      epochs.push(decodeEpoch(await tpm.nvRead(h.record, EPOCH_SIZE), h.record, e));
    }
    return new TpmAnchor(tpm, record, base, epochs);
  }

  /** Refuses a pinned root whose bytes do not hash to the digest locked in the TPM. */
  checkPinnedRoot(rootBytes: Uint8Array): void {
    const d = sha256(rootBytes);
    if (!d.equals(this.record.rootDigest)) {
      throw new TufError('TUF_ROOT_MISMATCH',
        `The pinned root on disk (sha256 ${d.toString('hex')}) is not the one locked in the TPM (sha256 ${this.record.rootDigest.toString('hex')}); it was replaced — restore it or re-provision the device.`,
        'denied', { details: { onDisk: d.toString('hex'), pinned: this.record.rootDigest.toString('hex') } });
    }
  }

  private async steps(c: CounterRef): Promise<bigint> {
    const v = await readCounter(this.tpm, c.handle);
    if (v < c.baseline) {
      throw new TufError('TUF_ANCHOR_INVALID', `TPM counter ${hex32(c.handle)} is below its recorded baseline; the TPM state does not match the anchor.`, 'environment');
    }
    return v - c.baseline;
  }

  private counter(role: FloorRole, epoch: Epoch): CounterRef {
    return role === 'root' ? this.record.root : epoch.counters[role];
  }

  /** Floors recorded in the TPM; timestamp/snapshot floors are those of `keyset`'s epoch, and 0
   * when `keyset` is newer than the active epoch (a key rotation: versions may restart). */
  async floors(keyset?: Buffer): Promise<Floors> {
    const active = this.activeEpoch;
    const same = keyset === undefined || keyset.equals(active.keyset);
    const out: Floors = { root: Number(floorOfSteps(await this.steps(this.record.root))), timestamp: 0, snapshot: 0 };
    if (same) for (const r of EPOCH_ROLES) out[r] = Number(floorOfSteps(await this.steps(active.counters[r])));
    return out;
  }

  /** Throws TUF_ROLLBACK when a trusted version is below its TPM floor. */
  static check(floors: Floors, versions: Floors): void {
    for (const role of FLOOR_ROLES) {
      if (versions[role] < floors[role]) throw rollbackError(role, versions[role], floors[role], 'TPM floor');
    }
  }

  /** Opens a new epoch for `keyset` (idempotent if it is already the active one). */
  async ensureEpoch(keyset: Buffer): Promise<{ epoch: Epoch; created: boolean }> {
    if (this.activeEpoch.keyset.equals(keyset)) return { epoch: this.activeEpoch, created: false };
    const e = this.epochs.length;
    if (e > MAX_EPOCHS) {
      throw new TufError('TUF_ANCHOR_INVALID', `All ${MAX_EPOCHS} TPM key epochs are used up (timestamp/snapshot keys rotated that often); re-provision the device.`, 'environment');
    }
    const h = epochHandles(e, this.base);
    const state = await recordState(this.tpm, h.record, EPOCH_SIZE);
    if (state === 'locked') throw new TufError('TUF_ANCHOR_INVALID', `Epoch record ${hex32(h.record)} appeared concurrently; retry.`, 'environment');
    const epoch: Epoch = {
      number: e, keyset,
      counters: {
        timestamp: { handle: h.timestamp, baseline: await ensureCounter(this.tpm, h.timestamp) },
        snapshot: { handle: h.snapshot, baseline: await ensureCounter(this.tpm, h.snapshot) },
      },
    };
    await writeRecord(this.tpm, h.record, state, encodeEpoch(epoch));
    this.epochs.push(epoch);
    return { epoch, created: true };
  }

  /**
   * Raises the counters (root, and the active epoch's) to represent the trusted versions. Every
   * increment is conditional on the counter still being below its target (nvRaise), so a writer
   * that races another one (two processes, two state dirs on one TPM) or repeats a raise after a
   * crash never pushes the floor above the version it trusted.
   */
  async raise(versions: Floors): Promise<{ floors: Floors; increments: number }> {
    let increments = 0;
    const floors = {} as Floors;
    for (const role of FLOOR_ROLES) {
      const c = this.counter(role, this.activeEpoch);
      const limit = c.baseline + stepsForVersion(BigInt(versions[role]));
      let value = c.baseline + (await this.steps(c));
      if (value < limit) {
        const r = await this.tpm.nvRaise(c.handle, limit, () => crashPoint('anchor:increment'));
        value = r.value;
        increments += r.increments;
      }
      floors[role] = Number(floorOfSteps(value - c.baseline));
    }
    return { floors, increments };
  }
}
