// Where tuf-js reads and writes its "local metadata". tuf-js 6 reads `<dir>/<role>.json` with
// readFileSync and persists with a bare writeFileSync (no temp file, no fsync), so we take both
// over (tufjs.ts hooks loadLocalMetadata/persistMetadata):
//  - 'deferred' (device mode): reads come from our trusted dir (after our own checks); writes are
//    held in memory and only committed — temp+fsync+rename, then one dir fsync — after the whole
//    refresh verified and the TPM floors were checked. An attack therefore writes nothing.
//  - 'immediate' (conformance mode): each verified file is written at once, atomically, which is
//    what the tuf-conformance suite observes in METADATA_DIR.
// A file that cannot be read or fails tuf-js's checks is simply not trusted: tuf-js then fetches
// the role again, so a corrupted local file never bricks the client.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeFilesAtomic } from './atomic.ts';
import { TufError } from './errors.ts';

export function roleFileName(role: string): string {
  return `${encodeURIComponent(role)}.json`;
}

export interface LocalFilter {
  /** Return a reason to ignore a local file (e.g. below the TPM floor), or undefined to use it. */
  (role: string, bytes: Buffer): string | undefined;
}

export class MetadataStore {
  readonly dir: string;
  readonly mode: 'deferred' | 'immediate';
  /** Role → bytes verified by tuf-js in this run, in the order tuf-js persisted them. */
  readonly pending = new Map<string, Buffer>();
  /** Every root tuf-js accepted in this run (in order): kept as versioned history. */
  readonly newRoots: Buffer[] = [];
  /** Local files ignored and why (reported to the user). */
  readonly ignored: Array<{ role: string; reason: string }> = [];
  private readonly rootBytes: Buffer;
  private readonly filter: LocalFilter | undefined;
  private readonly onRoot: ((bytes: Buffer) => void) | undefined;

  constructor(opts: { dir: string; mode: 'deferred' | 'immediate'; rootBytes: Buffer; filter?: LocalFilter; onRoot?: (bytes: Buffer) => void }) {
    this.dir = opts.dir;
    this.mode = opts.mode;
    this.rootBytes = opts.rootBytes;
    this.filter = opts.filter;
    this.onRoot = opts.onRoot;
  }

  /** tuf-js loadLocalMetadata: throws when there is nothing usable (tuf-js then goes remote). */
  read(role: string): Buffer {
    const p = this.pending.get(role);
    if (p) return p;
    if (role === 'root') return this.rootBytes;
    const bytes = readFileSync(join(this.dir, roleFileName(role)));
    const reason = this.filter?.(role, bytes);
    if (reason) {
      this.ignored.push({ role, reason });
      throw new Error(reason);
    }
    return bytes;
  }

  /** tuf-js persistMetadata: called only with bytes tuf-js has just verified. */
  write(role: string, bytes: Buffer): void {
    const b = Buffer.from(bytes);
    // A delegated targets role named "root" would otherwise be kept as a root (history and all).
    if (role === 'root' && typeOf(b) !== 'root') {
      throw new TufError('TUF_METADATA_INVALID', 'A delegated role is named "root"; refusing to store it as the root.', 'denied');
    }
    if (role === 'root') this.newRoots.push(b);
    if (this.mode === 'immediate') {
      if (role === 'root') this.onRoot?.(b);
      writeFileAtomic(join(this.dir, roleFileName(role)), b);
      return;
    }
    this.pending.delete(role); // keep insertion order = persist order
    this.pending.set(role, b);
  }

  /** Deferred mode: make everything tuf-js verified durable. Roots go first (with history). */
  async commit(): Promise<string[]> {
    if (this.pending.size === 0) return [];
    for (const r of this.newRoots) this.onRoot?.(r);
    const order = [...this.pending.keys()].sort((a, b) => rank(a) - rank(b));
    await writeFilesAtomic(this.dir, order.map((role) => [roleFileName(role), this.pending.get(role)!]));
    this.pending.clear();
    this.newRoots.length = 0;
    return order;
  }
}

// Root first, then delegated/targets, then snapshot, then timestamp: each file on disk is complete
// on its own, and tuf-js re-checks the combination on the next run anyway.
function rank(role: string): number {
  if (role === 'root') return 0;
  if (role === 'timestamp') return 3;
  if (role === 'snapshot') return 2;
  return 1;
}

function typeOf(b: Buffer): unknown {
  try { return (JSON.parse(b.toString('utf8')) as { signed?: { _type?: unknown } }).signed?._type; } catch { return undefined; }
}

/** Removes temp files a crash left behind (names made by atomic.ts). */
export function removeStaleTemps(dir: string): number {
  let n = 0;
  let names: string[];
  try { names = readdirSync(dir); } catch { return 0; }
  for (const name of names) {
    if (/^\..+\.[0-9a-f]{12}\.tmp$/.test(name)) { rmSync(join(dir, name), { force: true }); n++; }
  }
  return n;
}
