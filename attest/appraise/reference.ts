// Reference values: the verifier's "acceptable set of machines" as one JSON file. Every section is
// optional; a section that is present is a requirement (its evidence must be there). Parsing is
// strict: an unknown key, a digest of the wrong size or a misspelt bank is an
// APPRAISE_REFERENCE_INVALID error naming the JSON path, never ignored (a typo must not turn a
// requirement off). Documented in attest/appraise/REFERENCE.md and the README.
//
//   {
//     "version": 1,
//     "policyId": "fleet-a/2026-01",                         → ear.appraisal-policy-id
//     "ekRoots": ["Infineon", "sha256:3f2a…"],                 vendor names or CA fingerprints
//     "pcrs": {"sha256:7": ["hex", …], "sha256:0": […]},       allowed values per PCR
//     "eventLog": {
//       "secureBoot": "required",                              or "any"
//       "db": {"allow": ["hex", …]},                           every db entry must be listed
//       "dbx": {"mustContain": ["hex", …]},                    revocations that must be present
//       "bootApplications": {"allow": ["hex", …]}              Authenticode SHA-256 of each EFI app
//     },
//     "ima": {
//       "allow": [{"digest": "sha256:hex", "path": "/usr/bin/x"}, …],   path optional
//       "deny": [{"digest": "sha256:hex"}, {"path": "/tmp/x"}, …],
//       "unknown": "contraindicated"                           or "warning": a file not in allow
//     },
//     "software": {
//       "mustInclude": [{"target": "app.tar.gz", "sha256": "hex"}],     sha256 optional
//       "mustNotInclude": [{"target": "old.tar.gz"}, {"sha256": "hex"}]
//     }
//   }
import { TPM_ALG } from '../../hardware/index.ts';
import { AppraiseError } from './errors.ts';

export const REFERENCE_VERSION = 1;

/** PCR banks by the names tpm2-tools uses. */
const BANK: Readonly<Record<string, { alg: number; size: number }>> = {
  sha1: { alg: TPM_ALG.SHA1, size: 20 }, sha256: { alg: TPM_ALG.SHA256, size: 32 }, sha384: { alg: TPM_ALG.SHA384, size: 48 }, sha512: { alg: TPM_ALG.SHA512, size: 64 },
};
/** File digest algorithms as IMA names them, and their sizes. */
const IMA_ALGS: Readonly<Record<string, number>> = { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64, sm3: 32 };

export interface ImaRule {
  path?: string;
  /** "alg:hex", lower case. */
  digest?: string;
}

/** Reference values, parsed and normalised (hex lower case, digests as sets). */
export interface ReferenceValues {
  version: 1;
  policyId?: string;
  /** Vendor names (lower case) and CA fingerprints (hex, no colons). */
  ekRoots?: { vendors: Set<string>; fingerprints: Set<string>; entries: string[] };
  /** "sha256:7" → allowed values (hex). */
  pcrs?: Map<string, { alg: number; pcr: number; allowed: string[] }>;
  eventLog?: {
    secureBoot: 'required' | 'any';
    db?: Set<string>;
    dbx?: string[];
    bootApplications?: Set<string>;
  };
  ima?: {
    allow?: { digests: Map<string, Array<string | undefined>> };
    deny?: ImaRule[];
    unknown: 'contraindicated' | 'warning';
  };
  software?: {
    mustInclude: Array<{ target: string; sha256?: string }>;
    mustNotInclude: Array<{ target?: string; sha256?: string }>;
  };
}

const MAX_REFERENCE_BYTES = 64 * 1024 * 1024;
const MAX_LIST = 1_000_000;

function bad(path: string, why: string): AppraiseError {
  return new AppraiseError('APPRAISE_REFERENCE_INVALID', `reference values ${path}: ${why}.`, { details: { path } });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isObj(v)) throw bad(path, 'must be an object');
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw bad(`${path}.${k}`, `is not a known key (known here: ${allowed.join(', ')})`);
  }
  return v;
}

function list(v: unknown, path: string, min = 0): unknown[] {
  if (!Array.isArray(v)) throw bad(path, 'must be an array');
  if (v.length < min) throw bad(path, `must hold at least ${min} entr${min === 1 ? 'y' : 'ies'}`);
  if (v.length > MAX_LIST) throw bad(path, `holds more than ${MAX_LIST} entries`);
  return v;
}

function text(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096) throw bad(path, 'must be a non-empty string');
  return v;
}

/** Hex of `size` bytes (an optional "sha256:" prefix when the size is 32), lower-cased. */
function hexOf(v: unknown, path: string, size: number): string {
  if (typeof v !== 'string') throw bad(path, `must be a string of ${2 * size} hex digits`);
  const h = (size === 32 ? v.replace(/^sha256:/i, '') : v).toLowerCase();
  if (!/^[0-9a-f]*$/.test(h) || h.length !== 2 * size) throw bad(path, `must be ${2 * size} hex digits (a ${size}-byte digest), not ${JSON.stringify(v.slice(0, 80))}`);
  return h;
}

/** "alg:hex" as IMA logs file digests. */
function imaDigest(v: unknown, path: string): string {
  if (typeof v !== 'string') throw bad(path, 'must be "alg:hex", e.g. "sha256:…"');
  const m = /^([a-z0-9]+):([0-9a-fA-F]+)$/.exec(v);
  const size = m ? IMA_ALGS[m[1]!] : undefined;
  if (!m || size === undefined) throw bad(path, `must be "alg:hex" with alg one of ${Object.keys(IMA_ALGS).join(', ')}, not ${JSON.stringify(v.slice(0, 80))}`);
  if (m[2]!.length !== 2 * size) throw bad(path, `a ${m[1]} digest is ${2 * size} hex digits, not ${m[2]!.length}`);
  return `${m[1]}:${m[2]!.toLowerCase()}`;
}

function hexSet(v: unknown, path: string, min = 0): Set<string> {
  return new Set(list(v, path, min).map((x, i) => hexOf(x, `${path}[${i}]`, 32)));
}

/** Parses reference values (JSON bytes, text or a parsed object); APPRAISE_REFERENCE_INVALID otherwise. */
export function parseReferenceValues(input: Uint8Array | string | unknown): ReferenceValues {
  let v: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    if (input.length > MAX_REFERENCE_BYTES) throw bad('$', `the file is larger than ${MAX_REFERENCE_BYTES} bytes`);
    try {
      v = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
    } catch (e) {
      throw bad('$', `the file is not JSON (${(e as Error).message})`);
    }
  }
  const o = obj(v, '$', ['version', 'policyId', 'ekRoots', 'pcrs', 'eventLog', 'ima', 'software']);
  if (o.version !== REFERENCE_VERSION) throw bad('$.version', `must be ${REFERENCE_VERSION}`);
  const r: ReferenceValues = { version: 1 };
  if (o.policyId !== undefined) r.policyId = text(o.policyId, '$.policyId');

  if (o.ekRoots !== undefined) {
    const entries = list(o.ekRoots, '$.ekRoots', 1).map((x, i) => text(x, `$.ekRoots[${i}]`));
    const vendors = new Set<string>();
    const fingerprints = new Set<string>();
    entries.forEach((e, i) => {
      if (/^sha256:/i.test(e)) fingerprints.add(hexOf(e.replace(/:/g, '').replace(/^sha256/i, ''), `$.ekRoots[${i}]`, 32));
      else vendors.add(e.toLowerCase());
    });
    r.ekRoots = { vendors, fingerprints, entries };
  }

  if (o.pcrs !== undefined) {
    if (!isObj(o.pcrs)) throw bad('$.pcrs', 'must be an object of "bank:pcr": [allowed values]');
    r.pcrs = new Map();
    for (const [k, vals] of Object.entries(o.pcrs)) {
      const m = /^([a-z0-9_]+):(\d{1,2})$/.exec(k);
      const bank = m ? BANK[m[1]!] : undefined;
      if (!m || !bank || Number(m[2]) > 23) throw bad(`$.pcrs.${k}`, 'is not "bank:pcr" with bank sha1, sha256, sha384 or sha512 and pcr 0..23');
      const key = `${m[1]}:${Number(m[2])}`;
      if (r.pcrs.has(key)) throw bad(`$.pcrs.${k}`, `names ${key} twice`);
      r.pcrs.set(key, { alg: bank.alg, pcr: Number(m[2]), allowed: list(vals, `$.pcrs.${k}`, 1).map((x, i) => hexOf(x, `$.pcrs.${k}[${i}]`, bank.size)) });
    }
    if (r.pcrs.size === 0) throw bad('$.pcrs', 'names no PCR (leave it out instead)');
  }

  if (o.eventLog !== undefined) {
    const e = obj(o.eventLog, '$.eventLog', ['secureBoot', 'db', 'dbx', 'bootApplications']);
    const sb = e.secureBoot ?? 'any';
    if (sb !== 'required' && sb !== 'any') throw bad('$.eventLog.secureBoot', 'must be "required" or "any"');
    r.eventLog = { secureBoot: sb };
    if (e.db !== undefined) r.eventLog.db = hexSet(obj(e.db, '$.eventLog.db', ['allow']).allow, '$.eventLog.db.allow', 1);
    if (e.dbx !== undefined) r.eventLog.dbx = [...hexSet(obj(e.dbx, '$.eventLog.dbx', ['mustContain']).mustContain, '$.eventLog.dbx.mustContain', 1)];
    if (e.bootApplications !== undefined) r.eventLog.bootApplications = hexSet(obj(e.bootApplications, '$.eventLog.bootApplications', ['allow']).allow, '$.eventLog.bootApplications.allow', 1);
  }

  if (o.ima !== undefined) {
    const m = obj(o.ima, '$.ima', ['allow', 'deny', 'unknown']);
    const unknown = m.unknown ?? 'contraindicated';
    if (unknown !== 'contraindicated' && unknown !== 'warning') throw bad('$.ima.unknown', 'must be "contraindicated" or "warning"');
    r.ima = { unknown };
    if (m.allow !== undefined) {
      const digests = new Map<string, Array<string | undefined>>();
      list(m.allow, '$.ima.allow').forEach((x, i) => {
        const p = `$.ima.allow[${i}]`;
        const a = obj(x, p, ['path', 'digest']);
        if (a.digest === undefined) throw bad(`${p}.digest`, 'is missing (an allowed file is known by its digest)');
        const d = imaDigest(a.digest, `${p}.digest`);
        const paths = digests.get(d) ?? [];
        paths.push(a.path === undefined ? undefined : text(a.path, `${p}.path`));
        digests.set(d, paths);
      });
      r.ima.allow = { digests };
    }
    if (m.deny !== undefined) {
      r.ima.deny = list(m.deny, '$.ima.deny').map((x, i) => {
        const p = `$.ima.deny[${i}]`;
        const a = obj(x, p, ['path', 'digest']);
        if (a.path === undefined && a.digest === undefined) throw bad(p, 'needs a path, a digest or both');
        return { ...(a.path !== undefined ? { path: text(a.path, `${p}.path`) } : {}), ...(a.digest !== undefined ? { digest: imaDigest(a.digest, `${p}.digest`) } : {}) };
      });
    }
    if (!r.ima.allow && !r.ima.deny) throw bad('$.ima', 'needs allow, deny or both');
  }

  if (o.software !== undefined) {
    const s = obj(o.software, '$.software', ['mustInclude', 'mustNotInclude']);
    const mustInclude = s.mustInclude === undefined ? [] : list(s.mustInclude, '$.software.mustInclude').map((x, i) => {
      const p = `$.software.mustInclude[${i}]`;
      const a = obj(x, p, ['target', 'sha256']);
      return { target: text(a.target, `${p}.target`), ...(a.sha256 !== undefined ? { sha256: hexOf(a.sha256, `${p}.sha256`, 32) } : {}) };
    });
    const mustNotInclude = s.mustNotInclude === undefined ? [] : list(s.mustNotInclude, '$.software.mustNotInclude').map((x, i) => {
      const p = `$.software.mustNotInclude[${i}]`;
      const a = obj(x, p, ['target', 'sha256']);
      if (a.target === undefined && a.sha256 === undefined) throw bad(p, 'needs a target, a sha256 or both');
      return { ...(a.target !== undefined ? { target: text(a.target, `${p}.target`) } : {}), ...(a.sha256 !== undefined ? { sha256: hexOf(a.sha256, `${p}.sha256`, 32) } : {}) };
    });
    if (mustInclude.length === 0 && mustNotInclude.length === 0) throw bad('$.software', 'needs mustInclude, mustNotInclude or both');
    r.software = { mustInclude, mustNotInclude };
  }
  return r;
}
