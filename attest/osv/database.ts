import { decodeUTF8, jsonTextLimits } from '../encoding.ts';
import { MAX_OSV_BYTES, MAX_OSV_VALUES } from '../limits.ts';
import { formatCap } from '../../hardware/index.ts';
import { OSVError } from './errors.ts';
import { validateOSVRecord, type OSVAffected, type OSVRecord } from './record.ts';
import { normalizePackageName, splitEcosystem } from './ecosystem.ts';

// An OSV database file (a TUF target): a JSON array of OSV records, or JSON lines (one record per
// line). Records are indexed by (ecosystem base, normalised package name); version strings are
// parsed only when a component actually hits a record.

export interface OSVEntry {
  readonly record: OSVRecord;
  readonly affected: OSVAffected;
  /** Full ecosystem string of the affected package ("Debian:12"). */
  readonly ecosystem: string;
  /** Release part of the ecosystem for distro ecosystems, else undefined. */
  readonly release: string | undefined;
}

export interface OSVDatabase {
  readonly recordCount: number;
  /** Entries for a package; `name` must already be normalised with normalizePackageName. */
  lookup(base: string, name: string): readonly OSVEntry[];
  /** Records by id or alias (for policy/VEX reporting). */
  byId(id: string): OSVRecord | undefined;
}

export interface OSVLoadOptions {
  /** Largest accepted file (default MAX_OSV_BYTES, 64 MiB). */
  maxBytes?: number;
  /** Most JSON values in the whole file (default MAX_OSV_VALUES); bounds the memory parsing takes. */
  maxValues?: number;
  /** Deepest accepted JSON nesting (default 32; OSV records nest about 6 levels). */
  maxDepth?: number;
}

const EMPTY: readonly OSVEntry[] = Object.freeze([]);

class Index implements OSVDatabase {
  readonly recordCount: number;
  readonly #records: readonly OSVRecord[];
  // ecosystem base → normalised package name → entries. Nested maps avoid building a key string per entry.
  readonly #byBase = new Map<string, Map<string, OSVEntry[]>>();
  #byId: Map<string, OSVRecord> | undefined;
  constructor(records: readonly OSVRecord[]) {
    this.recordCount = records.length;
    this.#records = records;
    let lastBase = '';
    let names: Map<string, OSVEntry[]> | undefined;
    for (let r = 0; r < records.length; r++) {
      const record = records[r]!;
      const affectedList = record.affected;
      if (!affectedList) continue;
      for (let a = 0; a < affectedList.length; a++) {
        const affected = affectedList[a]!;
        const pkg = affected.package;
        if (!pkg) continue;
        const ecosystem = pkg.ecosystem;
        const colon = ecosystem.indexOf(':');
        const base = colon < 0 ? ecosystem : ecosystem.slice(0, colon);
        const release = colon < 0 ? undefined : splitEcosystem(ecosystem).release;
        if (base !== lastBase || !names) {
          names = this.#byBase.get(base);
          if (!names) this.#byBase.set(base, (names = new Map()));
          lastBase = base;
        }
        const name = normalizePackageName(base, pkg.name);
        const entry: OSVEntry = { record, affected, ecosystem, release };
        const list = names.get(name);
        if (list) list.push(entry);
        else names.set(name, [entry]);
      }
    }
  }
  lookup(base: string, name: string): readonly OSVEntry[] {
    return this.#byBase.get(base)?.get(name) ?? EMPTY;
  }
  byId(id: string): OSVRecord | undefined {
    // Built on first use: matching never needs it, reporting rarely does.
    if (!this.#byId) {
      const m = new Map<string, OSVRecord>();
      for (const record of this.#records) {
        m.set(record.id, record);
        for (const alias of record.aliases ?? []) if (!m.has(alias)) m.set(alias, record);
      }
      this.#byId = m;
    }
    return this.#byId.get(id);
  }
}

/** Builds the index from already-parsed records (each is shape-checked). */
export function buildOSVDatabase(records: readonly unknown[]): OSVDatabase {
  const out: OSVRecord[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) out[i] = validateOSVRecord(records[i], `#${i}`);
  return new Index(out);
}

/** Loads an OSV database from the bytes (or text) of a JSON array or JSON-lines file. */
export function loadOSVDatabase(input: Uint8Array | string, options: OSVLoadOptions = {}): OSVDatabase {
  const maxBytes = options.maxBytes ?? MAX_OSV_BYTES;
  const maxDepth = options.maxDepth ?? 32;
  const maxValues = options.maxValues ?? MAX_OSV_VALUES;
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size > maxBytes) throw new OSVError('OSV_DATABASE_INVALID', `The OSV database is ${size} bytes, more than the ${formatCap(maxBytes)} limit; keep only the ecosystems you use.`, { size, maxBytes });
  const text = typeof input === 'string' ? input : decodeUTF8(input, 'OSV database');
  if (jsonTextLimits(text, Infinity, maxValues) === 'values') {
    throw new OSVError('OSV_DATABASE_INVALID', `The OSV database holds more than ${maxValues} JSON values (arrays, objects and their elements), the limit that keeps memory bounded; keep only the ecosystems you use.`, { maxValues });
  }
  let i = 0;
  while (i < text.length && (text.charCodeAt(i) <= 32 || text.charCodeAt(i) === 0xfeff)) i++;
  if (i === text.length) throw new OSVError('OSV_DATABASE_INVALID', 'The OSV database file is empty.');
  if (text[i] === '[') {
    const all = wrap(() => parseGuarded(text, maxDepth), 'the JSON array');
    if (!Array.isArray(all)) throw new OSVError('OSV_DATABASE_INVALID', 'The OSV database must be a JSON array of records.');
    return buildOSVDatabase(all);
  }
  if (text[i] !== '{') throw new OSVError('OSV_DATABASE_INVALID', 'The OSV database must be a JSON array of records or JSON lines of records.');
  const records: unknown[] = [];
  let line = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    const l = text.slice(start, end).trim();
    if (l !== '') records.push(wrap(() => parseGuarded(l, maxDepth), `line ${line}`));
    start = end + 1;
  }
  return buildOSVDatabase(records);
}

/** Nesting-depth guard run before JSON.parse (strings jumped over; see attest/encoding.ts). */
export function jsonTextDepthExceeds(s: string, max: number): boolean {
  return jsonTextLimits(s, max, Infinity) === 'depth';
}

function parseGuarded(text: string, maxDepth: number): unknown {
  if (jsonTextDepthExceeds(text, maxDepth)) throw new Error(`nests arrays/objects deeper than ${maxDepth} levels`);
  return JSON.parse(text);
}

function wrap<T>(f: () => T, where: string): T {
  try {
    return f();
  } catch (e) {
    const msg = (e as Error).message;
    throw new OSVError('OSV_DATABASE_INVALID', `The OSV database is not valid at ${where}: ${msg}`);
  }
}
