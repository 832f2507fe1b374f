// One writer at a time on a state directory.
//
// Every command that writes state (init, update, fetch, install) holds `<state>/lock` for its whole
// run. The lock is a POSIX record lock (fcntl F_SETLK) that the kernel drops when the holder exits
// in any way, kill -9 included, so there is no stale lock to detect, break or race over, and PID
// reuse cannot fool it. Node has no fcntl/flock of its own; SQLite, built into Node as node:sqlite
// (no native add-on, so it works inside the single binary), takes exactly that lock: an empty
// database whose EXCLUSIVE transaction stays open while we run. Nothing is ever written to it (no
// journal is created), so it holds no state. The alternatives were worse: an O_EXCL/mkdir lock file
// survives kill -9 and needs a PID + start-time liveness check, and two waiters breaking the same
// stale lock at once can both win; a lock-holder child process (flock(1)) needs a tool the device
// may not have. Caveat of POSIX locks: closing ANY descriptor of the lock file drops the process's
// lock, so nothing in tollgate may open `<state>/lock` except this module (SQLite itself keeps its
// descriptors open while a lock is held for that reason).
//
// `<state>/lock.owner` names the holder (PID, command, since) for the waiter's message; it is
// informative only and never decides anything.
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatabaseSync } from 'node:sqlite';
import { TollgateError } from '../hardware/index.ts';
import { writeFileAtomic } from './atomic.ts';
import { TufError } from './errors.ts';
import { ownerAlive, selfOwner, type Owner } from './owner.ts';
import { removeStaleTemps } from './metadata-store.ts';

/**
 * Default bounded wait for a held lock (CLI --lock-wait): long enough to queue behind an ordinary
 * update (about a second here, a few on a slow discrete TPM), short enough that a stuck holder is
 * reported instead of silently stalling a service; longer waits are the caller's choice.
 */
export const DEFAULT_LOCK_WAIT_MS = 5_000;
const POLL_MS = 50;
const SQLITE_BUSY = 5;

export interface LockHolder { pid: number; command: string; since: string }

/**
 * The state directory is locked by another tollgate. Exit 3 ('environment'): nothing is wrong
 * with the flags (2) and nothing was refused (1); the state is busy, and the same command
 * succeeds once the holder is done, which is what a script or service manager retries on.
 */
export class StateLockedError extends TollgateError {
  constructor(dir: string, holder: LockHolder | undefined, waitedMs: number) {
    const who = holder ? `tollgate ${holder.command} (PID ${holder.pid}, since ${holder.since})` : 'another tollgate process';
    super('STATE_LOCKED',
      `The state directory ${dir} is in use by ${who}; waited ${(waitedMs / 1000).toFixed(1)} s. Retry when it has finished, or wait longer with --lock-wait SECONDS.`,
      'environment', { details: { stateDir: dir, waitedMs, ...(holder ? { holder } : {}) } });
    this.name = 'StateLockedError';
  }
}

export interface StateLock {
  readonly dir: string;
  /** Releases the lock (idempotent). Exiting releases it too. */
  release(): void;
}

export interface LockOptions {
  /** Longest wait for a held lock, in ms (0: fail at once). */
  waitMs?: number;
  /** The command taking the lock, named to waiters. */
  command: string;
  /** Create the state directory if missing (init); otherwise a missing one is TUF_NOT_INITIALIZED. */
  create?: boolean;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (holder: LockHolder | undefined) => void;
}

function readHolder(dir: string): LockHolder | undefined {
  let o: Partial<LockHolder & Owner>;
  try { o = JSON.parse(readFileSync(join(dir, 'lock.owner'), 'utf8')) as Partial<LockHolder & Owner>; } catch { return undefined; }
  if (typeof o.pid !== 'number' || typeof o.start !== 'string' || typeof o.boot !== 'string' || typeof o.ns !== 'string') return undefined;
  // A record left by a holder that died is stale: the lock itself was released with it.
  if (!ownerAlive({ pid: o.pid, start: o.start, boot: o.boot, ns: o.ns })) return undefined;
  return { pid: o.pid, command: String(o.command ?? '?'), since: String(o.since ?? '?') };
}

function isBusy(e: unknown): boolean {
  return (e as { errcode?: number }).errcode === SQLITE_BUSY;
}

function stateError(dir: string, e: unknown): TufError {
  return new TufError('TUF_STATE', `Cannot lock the state directory ${dir}: ${(e as Error).message}. Check that it exists and is writable.`, 'environment', { cause: e });
}

/** Takes the state directory's lock, waiting up to `waitMs`; throws StateLockedError after that. */
export async function lockState(dir: string, o: LockOptions): Promise<StateLock> {
  const waitMs = Math.max(0, o.waitMs ?? DEFAULT_LOCK_WAIT_MS);
  try {
    if (o.create) mkdirSync(dir, { recursive: true, mode: 0o755 });
    else if (!statSync(dir).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    if (!o.create && (e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TufError('TUF_NOT_INITIALIZED', `No tollgate state in ${dir}; run \`tollgate init --repo URL --root FILE\` first.`, 'usage');
    }
    throw stateError(dir, e);
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(join(dir, 'lock'), { timeout: 0 });
  } catch (e) {
    throw stateError(dir, e);
  }
  const started = Date.now();
  let waiting = false;
  for (;;) {
    try {
      db.exec('BEGIN EXCLUSIVE');
      break;
    } catch (e) {
      if (!isBusy(e)) { db.close(); throw stateError(dir, e); }
    }
    const waited = Date.now() - started;
    if (waited >= waitMs) {
      db.close();
      throw new StateLockedError(dir, readHolder(dir), waited);
    }
    if (!waiting) { waiting = true; o.onWait?.(readHolder(dir)); }
    await sleep(Math.min(POLL_MS, waitMs - waited));
  }
  const me = selfOwner();
  try {
    // Under the lock: temp files here belong to writers that died (all writers hold the lock).
    removeStaleTemps(dir);
    writeFileAtomic(join(dir, 'lock.owner'), JSON.stringify({ ...me, command: o.command, since: new Date().toISOString() }) + '\n');
  } catch (e) {
    db.close();
    throw stateError(dir, e);
  }
  let held = true;
  return {
    dir,
    release() {
      if (!held) return;
      held = false;
      rmSync(join(dir, 'lock.owner'), { force: true });
      try { db.exec('ROLLBACK'); } finally { db.close(); } // drops the lock
    },
  };
}

/** Runs `fn` holding the state directory's lock. */
export async function withStateLock<T>(dir: string, o: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await lockState(dir, o);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
