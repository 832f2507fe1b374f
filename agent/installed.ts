// What the gate installed, `<state>/installed.json`: one entry per install location, written by
// `tollgate fetch` after an allowed install (replacing the entry for that location) and read by
// `tollgate attest` for the evidence's installed-software claim. Written atomically (temp, fsync,
// rename, fsync dir), so a crash leaves the old record or the new one. The state directory has one
// writer at a time (ARCHITECTURE.md): two fetches into it at once could each keep only their own entry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../tuf/index.ts';
import type { eat } from '../attest/index.ts';
import { GateError } from './errors.ts';

export interface InstalledEntry {
  target: string;
  /** Where it was installed (absolute). */
  path: string;
  /** TUF hashes as hex (sha256, sha512, …). */
  hashes: Record<string, string>;
  /** Version of the top-level targets metadata of the refresh that installed it. */
  tufVersion: number;
  installedAt: string;
}

export const installedPath = (stateRoot: string): string => join(stateRoot, 'installed.json');

const MAX_BYTES = 64 * 1024 * 1024;

function corrupt(p: string, why: string): GateError {
  return new GateError('GATE_CONFIG', `${p} is not tollgate's install record (${why}); fetch the installed targets again to rebuild it, or remove it.`, 'usage', { details: { path: p } });
}

/** The recorded installs; an empty list when nothing was ever installed. */
export function readInstalled(stateRoot: string): InstalledEntry[] {
  const p = installedPath(stateRoot);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new GateError('GATE_CONFIG', `Cannot read ${p}: ${(e as Error).message}.`, 'environment', { cause: e });
  }
  if (text.length > MAX_BYTES) throw corrupt(p, 'too large');
  let v: unknown;
  try { v = JSON.parse(text); } catch { throw corrupt(p, 'not JSON'); }
  const o = v as { version?: unknown; installed?: unknown };
  if (typeof v !== 'object' || v === null || o.version !== 1 || !Array.isArray(o.installed)) throw corrupt(p, 'no version 1 list');
  return o.installed.map((x, i) => {
    const e = x as Record<string, unknown>;
    const ok = typeof x === 'object' && x !== null && typeof e.target === 'string' && typeof e.path === 'string' && typeof e.installedAt === 'string'
      && Number.isSafeInteger(e.tufVersion) && (e.tufVersion as number) >= 1 && typeof e.hashes === 'object' && e.hashes !== null
      && Object.values(e.hashes).every((h) => typeof h === 'string' && /^([0-9a-f]{2})+$/.test(h));
    if (!ok) throw corrupt(p, `entry ${i} is malformed`);
    return { target: e.target as string, path: e.path as string, hashes: e.hashes as Record<string, string>, tufVersion: e.tufVersion as number, installedAt: e.installedAt as string };
  });
}

/** Records an install at `entry.path`, replacing what was recorded there before. */
export function recordInstalled(stateRoot: string, entry: InstalledEntry): void {
  const list = readInstalled(stateRoot).filter((e) => e.path !== entry.path);
  list.push(entry);
  list.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  try {
    writeFileAtomic(installedPath(stateRoot), JSON.stringify({ version: 1, installed: list }, null, 2) + '\n');
  } catch (e) {
    throw new GateError('GATE_STAGING', `${entry.target} was installed at ${entry.path} but could not be recorded in ${installedPath(stateRoot)}: ${(e as Error).message}. Run the fetch again once the disk is writable.`, 'environment', { cause: e });
  }
}

const EAT_HASHES = ['sha256', 'sha384', 'sha512'];

/** The records as the evidence's installed-software claim (the hashes the profile carries). */
export function installedSoftware(entries: readonly InstalledEntry[]): eat.InstalledSoftware[] {
  return entries.map((e) => ({
    target: e.target,
    hashes: Object.fromEntries(Object.entries(e.hashes).filter(([k]) => EAT_HASHES.includes(k)).map(([k, h]) => [k, Buffer.from(h, 'hex')])),
    tufVersion: e.tufVersion,
  })).filter((s) => Object.keys(s.hashes).length > 0);
}
