// The current root is never read as "whatever root.json says": it is re-derived at every start
// from the pinned root (whose digest the TPM holds) through the locally kept N.root.json files,
// each verified by tuf-js's own root-update rules (threshold of the old root, self-signed, version
// N+1). A missing or corrupted link just ends the local chain early; tuf-js then fetches the rest.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { TufError } from './errors.ts';
import { sha256 } from './anchor.ts';
import { newTrustedSet } from './tufjs.ts';

export interface RootInfo { bytes: Buffer; version: number; keyset: Buffer; expires: string }

interface RootJSON { signed: { version: number; expires: string; keys: Record<string, { keytype?: string; scheme?: string; keyval?: { public?: string } }>; roles: Record<string, { keyids: string[]; threshold: number }> } }

/** sha256 over the timestamp and snapshot roles' keys and thresholds: the floor "epoch" key. */
export function keysetDigest(rootBytes: Uint8Array): Buffer {
  const doc = JSON.parse(Buffer.from(rootBytes).toString('utf8')) as RootJSON;
  const part = (role: string) => {
    const r = doc.signed.roles[role];
    if (!r) throw new Error(`root lacks role ${role}`);
    return {
      threshold: r.threshold,
      keys: [...r.keyids].sort().map((id) => {
        const k = doc.signed.keys[id];
        return [id, k?.keytype ?? null, k?.scheme ?? null, k?.keyval?.public ?? null];
      }),
    };
  };
  return sha256(JSON.stringify({ timestamp: part('timestamp'), snapshot: part('snapshot') }));
}

/** Parses and self-verifies a root (tuf-js rules); throws TUF_ROOT_INVALID. */
export function validateRoot(bytes: Buffer, what: string): RootInfo {
  try {
    const store = newTrustedSet(bytes);
    const r = store.root;
    return { bytes, version: r.signed.version, keyset: keysetDigest(bytes), expires: r.signed.expires };
  } catch (e) {
    if (e instanceof TufError) throw e; // the installed tuf-js was refused (checkTufJs), not the root
    throw new TufError('TUF_ROOT_INVALID', `${what} is not a valid self-signed TUF root: ${(e as Error).message}.`, 'denied', { cause: e });
  }
}

export function rootHistoryName(version: number): string {
  return `${version}.root.json`;
}

/** Walks pinned → N+1 → … through `rootsDir`; returns the newest root that verifies. */
export function deriveTrustedRoot(pinned: Buffer, rootsDir: string): RootInfo & { skipped?: string } {
  const store = newTrustedSet(pinned);
  let bytes = pinned;
  let skipped: string | undefined;
  for (;;) {
    const next = store.root.signed.version + 1;
    let b: Buffer;
    try { b = readFileSync(join(rootsDir, rootHistoryName(next))); } catch { break; }
    try {
      store.updateRoot(b);
      bytes = b;
    } catch (e) {
      skipped = `${rootHistoryName(next)}: ${(e as Error).message}`;
      break;
    }
  }
  const r = store.root;
  return { bytes, version: r.signed.version, keyset: keysetDigest(bytes), expires: r.signed.expires, ...(skipped ? { skipped } : {}) };
}

/** Adds a root tuf-js accepted to the history (durably). */
export function saveRootHistory(rootsDir: string, bytes: Buffer): number {
  const version = (JSON.parse(bytes.toString('utf8')) as RootJSON).signed.version;
  writeFileAtomic(join(rootsDir, rootHistoryName(version)), bytes);
  return version;
}
