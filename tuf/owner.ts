// Who made a staging file or directory, and is that process still running?
//
// Staging next to a destination (download .part files, the gate's private staging directory) is
// named after its owner, so a later run removes only what a dead run left behind, never the staging
// of a run that is still going (another state dir, another container fetching to the same --out).
// A PID alone is not an identity: PIDs are reused, and a device that boots the same way every time
// hands the same PID to the same service at the same tick. So an owner is
//   boot     the first 8 hex digits of /proc/sys/kernel/random/boot_id (new on every boot)
//   ns       the inode of the owner's PID namespace (/proc/self/ns/pid): a PID means nothing in
//            another container
//   pid      its PID, and
//   start    its start time in clock ticks since boot (/proc/PID/stat field 22), which a reused
//            PID cannot share (that would take the whole PID space wrapping within one tick).
// An owner is dead when it ran in an earlier boot, or in our boot and namespace but /proc/PID is
// gone or started at another tick. From another PID namespace of this boot we cannot tell, so it
// counts as alive: a leftover is kept rather than a live run's staging deleted.
import { readFileSync, readlinkSync } from 'node:fs';

export interface Owner { boot: string; ns: string; pid: number; start: string }

let self: Owner | undefined;

function bootId(): string {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').replace(/[^0-9a-f]/g, '').slice(0, 8); } catch { return '0'; }
}

function pidNamespace(): string {
  try { return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0'; } catch { return '0'; }
}

/** Start time of `pid` in clock ticks since boot, undefined when there is no such process. */
export function processStart(pid: number): string | undefined {
  let stat: string;
  try { stat = readFileSync(`/proc/${pid}/stat`, 'latin1'); } catch { return undefined; }
  // The command name (field 2) is in parentheses and may contain anything; count after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = rest[19]; // field 22
  return start !== undefined && /^\d+$/.test(start) ? start : undefined;
}

export function selfOwner(): Owner {
  self ??= { boot: bootId(), ns: pidNamespace(), pid: process.pid, start: processStart(process.pid) ?? '0' };
  return self;
}

/** This process as a name fragment: `boot.ns.pid.start` (digits, dots and hex only). */
export function ownerTag(o: Owner = selfOwner()): string {
  return `${o.boot}.${o.ns}.${o.pid}.${o.start}`;
}

const TAG = /^([0-9a-f]{1,8})\.(\d+)\.(\d+)\.(\d+)$/;

export function parseOwnerTag(tag: string): Owner | undefined {
  const m = TAG.exec(tag);
  return m ? { boot: m[1]!, ns: m[2]!, pid: Number(m[3]), start: m[4]! } : undefined;
}

/** False only when `o` is certainly gone (see the header). */
export function ownerAlive(o: Owner): boolean {
  const me = selfOwner();
  if (o.boot !== me.boot && o.boot !== '0' && me.boot !== '0') return false;
  if (o.ns !== me.ns) return true;
  if (!Number.isSafeInteger(o.pid) || o.pid <= 0) return false;
  const start = processStart(o.pid);
  if (start !== undefined) return start === o.start;
  // No /proc entry: gone, unless /proc itself is missing (then ask the kernel about the PID).
  if (me.start !== '0') return false;
  try { process.kill(o.pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Whether a staging name's owner tag belongs to a process that is gone. */
export function tagIsStale(tag: string): boolean {
  const o = parseOwnerTag(tag);
  return o !== undefined && !ownerAlive(o);
}
