// Replaying the ledger file: checks every record (canonical form, hash, sequence, link to the
// record before) and computes the value the TPM's extend index must hold after each record,
//   nv(0) = 32 zero bytes,  nv(k+1) = SHA-256(nv(k) ‖ hash(record k)).
// Pure: reads the file, changes nothing. One pass with bounded memory; after the first problem it
// only reads on far enough to tell a reordered record from a removed one.
//
// The first problem is named by the sequence number where the file departs from a valid chain:
//   altered    the record at that place fails its hash, is not a record, or does not link to the
//              record before (one of the two was edited and re-hashed)
//   removed    the record with that seq is missing and later ones are present
//   reordered  the record with that seq comes later in the file
//   inserted   a record with an earlier seq appears again where that seq belongs
// A line longer than any record counts as altered (a torn append is at most one record long).
import { createHash } from 'node:crypto';
import { nvExtendValue } from '../../hardware/index.ts';
import { tampered, type LedgerError } from './errors.ts';
import { parseRecordLine, seqOf, ZERO_HASH, MAX_RECORD_BYTES, type LedgerRecord } from './record.ts';
import type { LedgerFile } from './store.ts';

export interface TornTail {
  offset: number;
  length: number;
  sha256: string;
}

export interface Replay {
  /** Valid records, seq 0 … count-1. */
  count: number;
  /** The last valid record's hash (ZERO_HASH when there is none). */
  head: string;
  /** nv(count): what the TPM index must hold when every record was extended. */
  nvHead: Buffer;
  /** nv(count-1), when count > 0. */
  nvPrev: Buffer | undefined;
  genesis: LedgerRecord | undefined;
  last: LedgerRecord | undefined;
  /** Byte offset just after the last valid record. */
  validEnd: number;
  /** Bytes after the last '\n' (never synced whole, so never extended). */
  tail: TornTail | undefined;
  /** The first problem in the file itself. */
  problem: LedgerError | undefined;
  /** The smallest k with nv(k) equal to the `nv` given to replay, if any. */
  nvMatch: number | undefined;
}

export interface ReplayOptions {
  /** The TPM index value to look for among nv(0) … nv(count). */
  nv?: Uint8Array;
  /** Called for each valid record, in order. */
  onRecord?: (r: LedgerRecord) => void;
}

const ZEROS = Buffer.alloc(32);

export function replay(file: LedgerFile, opts: ReplayOptions = {}): Replay {
  const nv = opts.nv ? Buffer.from(opts.nv) : undefined;
  const out: Replay = {
    count: 0, head: ZERO_HASH, nvHead: ZEROS, nvPrev: undefined, genesis: undefined, last: undefined,
    validEnd: 0, tail: undefined, problem: undefined, nvMatch: nv?.equals(ZEROS) ? 0 : undefined,
  };
  const it = file.scan();
  /** Reads on to see whether a record with `seq` appears later (reordered) or not (removed). */
  const appearsLater = (seq: number): boolean => {
    for (const item of it) if (item.kind === 'line' && seqOf(item.bytes) === seq) return true;
    return false;
  };
  for (const item of it) {
    const i = out.count;
    if (item.kind === 'oversize') {
      out.problem = tampered('altered', i, `The ledger has a line of more than ${MAX_RECORD_BYTES} bytes at byte ${item.offset} where record ${i} belongs: tollgate never writes one.`, { offset: item.offset });
      break;
    }
    if (item.kind === 'tail') {
      out.tail = { offset: item.offset, length: item.bytes.length, sha256: createHash('sha256').update(item.bytes).digest('hex') };
      break;
    }
    const p = parseRecordLine(item.bytes);
    if ('problem' in p) {
      out.problem = tampered('altered', i, `Ledger record ${i} (byte ${item.offset}) is not valid: ${p.problem}.`, { offset: item.offset });
      break;
    }
    const r = p.record;
    if (r.seq !== i) {
      if (r.seq < i) {
        out.problem = tampered('inserted', i, `A second record with seq ${r.seq} appears where record ${i} belongs (byte ${item.offset}).`, { offset: item.offset, found: r.seq });
      } else if (appearsLater(i)) {
        out.problem = tampered('reordered', i, `Ledger records are out of order: record ${r.seq} comes where record ${i} belongs (byte ${item.offset}), and record ${i} comes later.`, { offset: item.offset, found: r.seq });
      } else {
        out.problem = tampered('removed', i, `Ledger record ${i}${r.seq > i + 1 ? `–${r.seq - 1}` : ''} ${r.seq > i + 1 ? 'are' : 'is'} missing: record ${r.seq} follows record ${i - 1} (byte ${item.offset}).`, { offset: item.offset, found: r.seq });
      }
      break;
    }
    if (createHash('sha256').update(p.unsigned).digest('hex') !== r.hash) {
      out.problem = tampered('altered', i, `Ledger record ${i} (byte ${item.offset}) was altered: its content does not match its hash.`, { offset: item.offset });
      break;
    }
    if (r.prevHash !== out.head) {
      out.problem = tampered('altered', i, `Ledger record ${i} (byte ${item.offset}) does not follow record ${i - 1}: its prevHash differs. One of them was altered and re-hashed.`, { offset: item.offset });
      break;
    }
    out.nvPrev = out.nvHead;
    out.nvHead = nvExtendValue(out.nvHead, Buffer.from(r.hash, 'hex'));
    out.head = r.hash;
    out.count = i + 1;
    out.validEnd = item.offset + item.bytes.length + 1;
    if (i === 0) out.genesis = r;
    out.last = r;
    if (nv && out.nvMatch === undefined && out.nvHead.equals(nv)) out.nvMatch = out.count;
    opts.onRecord?.(r);
  }
  it.return(undefined);
  return out;
}
