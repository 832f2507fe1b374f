// The verifier's enrolment state in a directory (the offline CLI's; the collector keeps the same
// PendingEnrolment in its database):
//   DIR/pending/<enrolmentId>.json   a challenge waiting for its proof (0600)
//   DIR/used/<enrolmentId>.json      the same file once its proof was accepted (kept until it
//                                    expires, so a replay is named as one)
//   DIR/devices/<deviceId>.json      enrolled-device records
// A proof is spent by renaming pending/ID to used/ID: rename is atomic, so of two finishes at
// once exactly one wins, and the record is moved into place only by the winner. Every file is
// written by write-temp, fsync, rename, fsync-dir; directories are 0700 and files 0600.
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EnrolError } from './errors.ts';
import { fsyncDir, readBoundedFile, writeFileAtomic, InputFileError } from './files.ts';
import { parseJSON } from '../encoding.ts';
import { AttestError } from '../errors.ts';
import { deviceRecordJSON, type DeviceRecord } from './record.ts';
import {
  createEnrolChallenge, finishEnrolment, isExpired, parsePending, pendingJSON,
  type ChallengeOptions, type CreatedChallenge, type PendingEnrolment,
} from './verifier.ts';
import { checkEnrolmentId, type EnrolProof, type EnrolRequest } from './wire.ts';

/** Most challenges waiting at once (expired ones are swept first). */
export const MAX_PENDING = 1024;
const MAX_PENDING_FILE = 4 * 1024 * 1024;
const FILE = /^([0-9a-f]{32})\.json$/;

function stateError(e: unknown, doing: string, path: string): EnrolError {
  if (e instanceof EnrolError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new EnrolError('ENROL_STATE_WRITE_FAILED', `Cannot ${doing} in the enrolment state directory (${path}: ${code}); check that it is a writable directory.`, { cause: e, details: { path } });
}

export class EnrolStateDir {
  readonly dir: string;
  readonly maxPending: number;
  readonly #pending: string;
  readonly #used: string;
  readonly #devices: string;

  private constructor(dir: string, maxPending: number) {
    this.dir = dir;
    this.maxPending = maxPending;
    this.#pending = join(dir, 'pending');
    this.#used = join(dir, 'used');
    this.#devices = join(dir, 'devices');
  }

  /** Opens (creating, 0700) the state directory. */
  static open(dir: string, opts: { maxPending?: number } = {}): EnrolStateDir {
    const abs = resolve(dir);
    const maxPending = opts.maxPending ?? MAX_PENDING;
    if (!Number.isInteger(maxPending) || maxPending < 1) throw new EnrolError('ENROL_OPTIONS_INVALID', `maxPending must be a positive integer, not ${maxPending}.`);
    try {
      mkdirSync(abs, { recursive: true, mode: 0o700 });
      if (!statSync(abs).isDirectory()) throw new EnrolError('ENROL_STATE_INVALID', `The enrolment state ${abs} is not a directory; give a directory with --state.`, { details: { path: abs } });
      const s = new EnrolStateDir(abs, maxPending);
      for (const d of [s.#pending, s.#used, s.#devices]) {
        mkdirSync(d, { recursive: true, mode: 0o700 });
        if (!lstatSync(d).isDirectory()) throw new EnrolError('ENROL_STATE_INVALID', `${d} is not a directory; the enrolment state directory is damaged.`, { details: { path: d } });
      }
      return s;
    } catch (e) {
      if (e instanceof EnrolError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new EnrolError(code === 'ENOTDIR' || code === 'EEXIST' ? 'ENROL_STATE_INVALID' : 'ENROL_STATE_WRITE_FAILED',
        `Cannot use ${abs} as the enrolment state directory (${code ?? (e as Error).message}); give a writable directory with --state.`, { cause: e, details: { path: abs } });
    }
  }

  /** Where the record of a device is kept. */
  recordPath(deviceId: string): string {
    if (!/^[0-9a-f]{64}$/.test(deviceId)) throw new EnrolError('ENROL_RECORD_INVALID', 'A device id is 64 lower-case hex digits.');
    return join(this.#devices, `${deviceId}.json`);
  }

  async #read(path: string): Promise<PendingEnrolment> {
    let bytes: Buffer;
    try {
      bytes = await readBoundedFile(path, MAX_PENDING_FILE, { what: 'The pending enrolment', tooLargeClass: 'environment' });
    } catch (e) {
      if (e instanceof InputFileError && e.code === 'INPUT_NOT_FOUND') throw e;
      if (e instanceof InputFileError) throw new EnrolError('ENROL_STATE_INVALID', e.message, { cause: e, details: { path } });
      throw e;
    }
    let doc: unknown;
    try {
      doc = parseJSON(bytes, `The pending enrolment ${path}`);
    } catch (e) {
      if (e instanceof AttestError) throw new EnrolError('ENROL_STATE_INVALID', `${e.message} Remove it and have the device enrol again.`, { cause: e, details: { path } });
      throw e;
    }
    return parsePending(doc, path);
  }

  /** Removes pending and used entries that expired; returns how many are still pending. */
  async sweep(now: Date = new Date()): Promise<number> {
    let left = 0;
    for (const [d, isPending] of [[this.#pending, true], [this.#used, false]] as const) {
      for (const name of readdirSync(d)) {
        const m = FILE.exec(name);
        if (!m) continue;
        const path = join(d, name);
        let p: PendingEnrolment;
        try {
          p = await this.#read(path);
        } catch (e) {
          if (e instanceof InputFileError && e.code === 'INPUT_NOT_FOUND') continue; // spent or swept meanwhile
          if (isPending) left++; // a damaged file is left for the operator, and still counts
          continue;
        }
        if (isExpired(p, now)) rmSync(path, { force: true });
        else if (isPending) left++;
      }
    }
    return left;
  }

  /** Keeps a pending enrolment until its proof comes (after sweeping expired ones). */
  async put(p: PendingEnrolment, now: Date = new Date()): Promise<string> {
    checkEnrolmentId(p.enrolmentId);
    try {
      const waiting = await this.sweep(now);
      if (waiting >= this.maxPending) {
        throw new EnrolError('ENROL_STATE_FULL', `${waiting} enrolments are waiting for their proof in ${this.#pending}; refusing more until they finish or expire.`, { details: { waiting } });
      }
      const path = join(this.#pending, `${p.enrolmentId}.json`);
      writeFileAtomic(path, JSON.stringify(pendingJSON(p)) + '\n');
      return path;
    } catch (e) {
      throw stateError(e, 'keep the pending enrolment', this.#pending);
    }
  }

  /** The pending enrolment `id`: ENROL_REPLAYED when its proof was already accepted, ENROL_UNKNOWN when there is none. */
  async load(id: string): Promise<PendingEnrolment> {
    checkEnrolmentId(id);
    try {
      return await this.#read(join(this.#pending, `${id}.json`));
    } catch (e) {
      if (!(e instanceof InputFileError && e.code === 'INPUT_NOT_FOUND')) throw e;
    }
    throw this.#gone(id);
  }

  #gone(id: string): EnrolError {
    try {
      lstatSync(join(this.#used, `${id}.json`));
      return new EnrolError('ENROL_REPLAYED', `Enrolment ${id} was already finished; a proof is accepted once. A device that needs a new record enrols again.`, { details: { enrolmentId: id } });
    } catch {
      return new EnrolError('ENROL_UNKNOWN', `No enrolment ${id} is waiting in ${this.dir} (never issued here, or expired and swept); the device must enrol again.`, { details: { enrolmentId: id } });
    }
  }

  /**
   * Spends the pending enrolment `id` and then, only if this call spent it, moves `commit` into
   * place (the record written beforehand to a temp file). ENROL_REPLAYED when another finish won.
   */
  claim(id: string, commit: () => void, abort: () => void): void {
    checkEnrolmentId(id);
    try {
      renameSync(join(this.#pending, `${id}.json`), join(this.#used, `${id}.json`));
    } catch (e) {
      abort();
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw this.#gone(id);
      throw stateError(e, 'spend the pending enrolment', this.#pending);
    }
    try {
      fsyncDir(this.#pending);
      fsyncDir(this.#used);
      commit();
    } catch (e) {
      abort();
      throw stateError(e, 'write the enrolled-device record', this.#devices);
    }
  }
}

/** Checks a request, answers it with MakeCredential, and keeps the pending enrolment in `state`. */
export async function startEnrolment(state: EnrolStateDir, request: EnrolRequest, opts: ChallengeOptions): Promise<CreatedChallenge & { pendingPath: string }> {
  const now = opts.now ?? new Date();
  const created = createEnrolChallenge(request, { ...opts, now });
  const pendingPath = await state.put(created.pending, now);
  return { ...created, pendingPath };
}

export interface CompletedEnrolment {
  record: DeviceRecord;
  /** Where the record was written. */
  path: string;
  /** True when a record of this device was there before (it is replaced). */
  replaced: boolean;
}

/**
 * Checks the proof for enrolment `id`, spends the pending enrolment (once: a second finish is
 * ENROL_REPLAYED) and writes the enrolled-device record to `out` (default DIR/devices/<deviceId>.json).
 */
export async function completeEnrolment(state: EnrolStateDir, id: string, proof: EnrolProof, opts: { now?: Date; out?: string } = {}): Promise<CompletedEnrolment> {
  const pending = await state.load(id);
  const record = finishEnrolment(pending, proof, opts.now ? { now: opts.now } : {});
  const path = resolve(opts.out ?? state.recordPath(record.deviceId));
  let replaced = false;
  try {
    lstatSync(path);
    replaced = true;
  } catch { /* a new device */ }
  // Written to a temp name first; moved into place only once this finish has spent the enrolment.
  const tmp = `${path}.${randomBytes(6).toString('hex')}.pending`;
  try {
    writeFileAtomic(tmp, JSON.stringify(deviceRecordJSON(record), null, 2) + '\n');
  } catch (e) {
    rmSync(tmp, { force: true });
    throw stateError(e, 'write the enrolled-device record', path);
  }
  state.claim(id, () => {
    renameSync(tmp, path);
    fsyncDir(resolve(path, '..'));
  }, () => rmSync(tmp, { force: true }));
  return { record, path, replaced };
}
