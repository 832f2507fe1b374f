// EAR, the EAT Attestation Result (draft-ietf-rats-ear-02, the profile Veraison's verifier and
// libraries implement): the claims set, AR4SI trust tiers and trustworthiness vectors, worst-of
// status derivation, tollgate's per-claim reasons, and the JSON (JWT) and CBOR (CWT) claims forms.
//
//   JSON claim                     CBOR key   value
//   eat_profile                    265        "tag:github.com,2023:veraison/ear"
//   iat                            6          int
//   ear.verifier-id                1004       {developer (0): text, build (1): text}
//   ear.raw-evidence               1002       bytes (base64url in JSON), optional
//   eat_nonce                      10         bytes 8..64 (base64url in JSON), optional
//   submods                        266        {+ text => appraisal}
//   appraisal:
//   ear.status                     1000       tier: "affirming" 2 / "warning" 32 / "contraindicated" 96 / "none" 0
//   ear.trustworthiness-vector     1001       {category (0..7 in CBOR) => -128..127}, optional, non-empty
//   ear.appraisal-policy-id        1003       text, optional
//   ear.tollgate.reasons           -1953459217 (CBOR argument "tol" 0x10), optional:
//                                             [+ {claim (0), status (1), ? category (2), ? value (3),
//                                                 ? expected (4), ? actual (5), message (6)}]
//
// Later drafts rename the claims (ear_status …) and the profile; one table below maps names.
import { isBytes, isCborMap, type CborKey, type CborMap, type CborValue } from '../cose/index.ts';
import { EarError } from './errors.ts';

export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear';

export const TRUST_TIERS = ['none', 'affirming', 'warning', 'contraindicated'] as const;
export type TrustTier = (typeof TRUST_TIERS)[number];
/** The CBOR code of each tier (also the AR4SI claim value a tier stands for by default). */
export const TIER_CODE: Readonly<Record<TrustTier, number>> = { none: 0, affirming: 2, warning: 32, contraindicated: 96 };

/** The eight AR4SI appraisal categories, in their CBOR key order (0..7). */
export const TRUST_CLAIMS = ['instance-identity', 'configuration', 'executables', 'file-system', 'hardware', 'runtime-opaque', 'storage-opaque', 'sourced-data'] as const;
export type TrustClaim = (typeof TRUST_CLAIMS)[number];
export type TrustVector = Partial<Record<TrustClaim, number>>;

/** A per-claim appraisal result, tollgate's extension: what was checked, what was expected, what was found. */
export interface ClaimReason {
  /** The evidence claim (or check) this is about, e.g. "pcrs.sha256.7", "software[app.tar.gz]". */
  claim: string;
  status: TrustTier;
  /** The AR4SI category it feeds into the trustworthiness vector. */
  category?: TrustClaim;
  /** The AR4SI claim value (-128..127); default: the tier's code. */
  value?: number;
  expected?: string;
  actual?: string;
  message: string;
}

export interface Appraisal {
  status: TrustTier;
  trustVector?: TrustVector;
  policyId?: string;
  reasons?: ClaimReason[];
}

export interface VerifierId {
  developer: string;
  build: string;
}

export interface EAR {
  profile: typeof EAR_PROFILE;
  /** Seconds since the epoch. */
  iat: number;
  verifierId: VerifierId;
  rawEvidence?: Uint8Array;
  nonce?: Uint8Array;
  submods: Record<string, Appraisal>;
}

// ------------------------------------------------------------------------------------------------
// Tiers and status derivation

/** The tier of an AR4SI claim value (AR4SI §2.3.2): -1..1 none, 2..31 / -2..-32 affirming, 32..95 / -33..-96 warning, the rest contraindicated. */
export function tierOf(value: number): TrustTier {
  if (!Number.isInteger(value) || value < -128 || value > 127) throw new EarError('EAR_INPUT_INVALID', `${value} is not an AR4SI claim value (an integer in -128..127).`);
  const v = value < 0 ? -value - 1 : value; // -2..-32 mirror 1..31 (shifted by one), and so on
  if (value >= -1 && value <= 1) return 'none';
  if (v <= 31) return 'affirming';
  if (v <= 95) return 'warning';
  return 'contraindicated';
}

/** The worst of some tiers (none < affirming < warning < contraindicated); 'none' when there are none. */
export function worstTier(tiers: Iterable<TrustTier>): TrustTier {
  let worst: TrustTier = 'none';
  for (const t of tiers) if (TIER_CODE[t] > TIER_CODE[worst]) worst = t;
  return worst;
}

/**
 * An appraisal from per-claim reasons: each category of the vector gets the value of its worst
 * reason, and the status is the worst of all reasons (worst-of).
 */
export function appraisalFromReasons(reasons: ClaimReason[], options: { policyId?: string } = {}): Appraisal {
  const vector: TrustVector = {};
  for (const r of reasons) {
    if (!r.category) continue;
    const value = r.value ?? TIER_CODE[r.status];
    const cur = vector[r.category];
    if (cur === undefined || TIER_CODE[tierOf(value)] > TIER_CODE[tierOf(cur)]) vector[r.category] = value;
  }
  const status = worstTier([...reasons.map((r) => r.status), ...Object.values(vector).map(tierOf)]);
  return { status, ...(Object.keys(vector).length ? { trustVector: vector } : {}), ...(options.policyId ? { policyId: options.policyId } : {}), reasons };
}

/** The overall status of an EAR: the worst of its submods. */
export function earStatus(ear: EAR): TrustTier {
  return worstTier(Object.values(ear.submods).map((a) => a.status));
}

// ------------------------------------------------------------------------------------------------
// Building

export interface EARInput {
  verifierId: VerifierId;
  submods: Record<string, Appraisal>;
  /** Default: now. */
  iat?: number | Date;
  nonce?: Uint8Array;
  rawEvidence?: Uint8Array;
}

/** Builds an EAR, checking it as a verifier would (EAR_INPUT_INVALID otherwise). */
export function buildEAR(input: EARInput): EAR {
  const iat = input.iat === undefined ? Math.floor(Date.now() / 1000) : input.iat instanceof Date ? Math.floor(input.iat.getTime() / 1000) : input.iat;
  const ear: EAR = {
    profile: EAR_PROFILE,
    iat,
    verifierId: input.verifierId,
    ...(input.rawEvidence ? { rawEvidence: input.rawEvidence } : {}),
    ...(input.nonce ? { nonce: input.nonce } : {}),
    submods: input.submods,
  };
  return earFromCbor(earToCbor(ear), 'EAR_INPUT_INVALID');
}

// ------------------------------------------------------------------------------------------------
// Claim names: JSON (JWT) and CBOR (CWT)

const K = {
  profile: { json: 'eat_profile', cbor: 265 },
  iat: { json: 'iat', cbor: 6 },
  verifierId: { json: 'ear.verifier-id', cbor: 1004 },
  rawEvidence: { json: 'ear.raw-evidence', cbor: 1002 },
  nonce: { json: 'eat_nonce', cbor: 10 },
  submods: { json: 'submods', cbor: 266 },
  status: { json: 'ear.status', cbor: 1000 },
  trustVector: { json: 'ear.trustworthiness-vector', cbor: 1001 },
  policyId: { json: 'ear.appraisal-policy-id', cbor: 1003 },
  reasons: { json: 'ear.tollgate.reasons', cbor: -1 - 0x746f6c10 },
} as const;

const VERIFIER_ID = { developer: 0, build: 1 } as const;
const REASON = { claim: 0, status: 1, category: 2, value: 3, expected: 4, actual: 5, message: 6 } as const;
type ReasonField = keyof typeof REASON;

const MAX_TEXT = 4096;
const MAX_SUBMODS = 64;
const MAX_REASONS = 10_000;

class Reader {
  private readonly code: 'EAR_CLAIM_INVALID' | 'EAR_INPUT_INVALID';
  constructor(code: 'EAR_CLAIM_INVALID' | 'EAR_INPUT_INVALID') {
    this.code = code;
  }
  bad(path: string, why: string): EarError {
    return new EarError(this.code, `The EAR claim ${path} ${why}.`, { details: { claim: path } });
  }
  text(v: unknown, path: string): string {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TEXT) throw this.bad(path, `must be a text string of 1 to ${MAX_TEXT} characters`);
    return v;
  }
  tier(v: unknown, path: string, form: 'json' | 'cbor'): TrustTier {
    const t = form === 'json' ? TRUST_TIERS.find((x) => x === v) : TRUST_TIERS.find((x) => TIER_CODE[x] === v);
    if (t === undefined) throw this.bad(path, `must be a trust tier (${form === 'json' ? TRUST_TIERS.join(', ') : Object.values(TIER_CODE).join(', ')})`);
    return t;
  }
  claimValue(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -128 || v > 127) throw this.bad(path, 'must be an AR4SI claim value (an integer in -128..127)');
    return v;
  }
  bytes(v: Uint8Array, path: string, min: number, max: number): Uint8Array {
    if (v.length < min || v.length > max) throw this.bad(path, `must be ${min} to ${max} bytes`);
    return v;
  }
}

/** Checks the draft's and tollgate's rules that hold in both forms. */
function checkAppraisal(r: Reader, a: Appraisal, path: string): Appraisal {
  if (a.trustVector) {
    const entries = Object.entries(a.trustVector);
    if (entries.length === 0) throw r.bad(`${path}.trustworthiness-vector`, 'must not be empty');
    const worst = worstTier(entries.map(([, v]) => tierOf(v)));
    // draft-ietf-rats-ear §3.2: the status is no better than the vector's worst claim.
    if (TIER_CODE[a.status] < TIER_CODE[worst]) throw r.bad(`${path}.status`, `is ${a.status}, better than the trustworthiness vector's worst claim (${worst})`);
  }
  if (a.reasons) {
    const worst = worstTier(a.reasons.map((x) => x.status));
    if (TIER_CODE[a.status] < TIER_CODE[worst]) throw r.bad(`${path}.status`, `is ${a.status}, better than its worst reason (${worst})`);
  }
  return a;
}

// ---- CBOR

/** The EAR as a CWT claims map. */
export function earToCbor(ear: EAR): CborMap {
  const m: CborMap = new Map();
  m.set(K.profile.cbor, ear.profile);
  m.set(K.iat.cbor, ear.iat);
  m.set(K.verifierId.cbor, new Map<CborKey, CborValue>([[VERIFIER_ID.developer, ear.verifierId.developer], [VERIFIER_ID.build, ear.verifierId.build]]));
  if (ear.rawEvidence) m.set(K.rawEvidence.cbor, ear.rawEvidence);
  if (ear.nonce) m.set(K.nonce.cbor, ear.nonce);
  const subs: CborMap = new Map();
  for (const [name, a] of Object.entries(ear.submods)) {
    const s: CborMap = new Map();
    s.set(K.status.cbor, TIER_CODE[a.status]);
    if (a.trustVector) s.set(K.trustVector.cbor, new Map(Object.entries(a.trustVector).map(([k, v]) => [TRUST_CLAIMS.indexOf(k as TrustClaim), v])));
    if (a.policyId !== undefined) s.set(K.policyId.cbor, a.policyId);
    if (a.reasons) s.set(K.reasons.cbor, a.reasons.map(reasonToCbor));
    subs.set(name, s);
  }
  m.set(K.submods.cbor, subs);
  return m;
}

/** Reads an EAR claims map strictly (unknown claims are ignored, as the draft requires). */
export function earFromCbor(m: CborValue, code: 'EAR_CLAIM_INVALID' | 'EAR_INPUT_INVALID' = 'EAR_CLAIM_INVALID'): EAR {
  const r = new Reader(code);
  if (!isCborMap(m)) throw new EarError(code === 'EAR_CLAIM_INVALID' ? 'EAR_MALFORMED' : code, 'The EAR payload is not a claims map.');
  const profile = m.get(K.profile.cbor);
  if (profile !== EAR_PROFILE) throw new EarError(code === 'EAR_CLAIM_INVALID' ? 'EAR_PROFILE_MISMATCH' : code, `The EAR's eat_profile is ${JSON.stringify(String(profile))}, not ${EAR_PROFILE}.`);
  const iat = m.get(K.iat.cbor);
  if (typeof iat !== 'number' || !Number.isSafeInteger(iat) || iat < 0) throw r.bad('iat', 'must be a non-negative integer');
  const vid = m.get(K.verifierId.cbor);
  if (!isCborMap(vid)) throw r.bad('ear.verifier-id', 'must be a map');
  const ear: EAR = { profile: EAR_PROFILE, iat, verifierId: { developer: r.text(vid.get(VERIFIER_ID.developer), 'ear.verifier-id.developer'), build: r.text(vid.get(VERIFIER_ID.build), 'ear.verifier-id.build') }, submods: {} };
  const raw = m.get(K.rawEvidence.cbor);
  if (raw !== undefined) {
    if (!isBytes(raw)) throw r.bad('ear.raw-evidence', 'must be a byte string');
    ear.rawEvidence = raw;
  }
  const nonce = m.get(K.nonce.cbor);
  if (nonce !== undefined) {
    if (!isBytes(nonce)) throw r.bad('eat_nonce', 'must be a byte string');
    ear.nonce = r.bytes(nonce, 'eat_nonce', 8, 64);
  }
  const subs = m.get(K.submods.cbor);
  if (!isCborMap(subs) || subs.size === 0 || subs.size > MAX_SUBMODS) throw r.bad('submods', `must be a map of 1 to ${MAX_SUBMODS} appraisals`);
  for (const [name, s] of subs) {
    if (typeof name !== 'string' || name.length === 0) throw r.bad('submods', 'must be keyed by non-empty text');
    const p = `submods[${JSON.stringify(name)}]`;
    if (!isCborMap(s)) throw r.bad(p, 'must be a map');
    const a: Appraisal = { status: r.tier(s.get(K.status.cbor), `${p}.ear.status`, 'cbor') };
    const tv = s.get(K.trustVector.cbor);
    if (tv !== undefined) {
      if (!isCborMap(tv)) throw r.bad(`${p}.ear.trustworthiness-vector`, 'must be a map');
      a.trustVector = {};
      for (const [k, v] of tv) {
        const cat = typeof k === 'number' ? TRUST_CLAIMS[k] : undefined;
        if (cat === undefined) throw r.bad(`${p}.ear.trustworthiness-vector`, `has the unknown category ${JSON.stringify(k)}`);
        a.trustVector[cat] = r.claimValue(v, `${p}.ear.trustworthiness-vector.${cat}`);
      }
    }
    const pid = s.get(K.policyId.cbor);
    if (pid !== undefined) a.policyId = r.text(pid, `${p}.ear.appraisal-policy-id`);
    const reasons = s.get(K.reasons.cbor);
    if (reasons !== undefined) {
      if (!Array.isArray(reasons) || reasons.length > MAX_REASONS) throw r.bad(`${p}.ear.tollgate.reasons`, `must be an array of at most ${MAX_REASONS}`);
      a.reasons = reasons.map((x, i) => {
        if (!isCborMap(x)) throw r.bad(`${p}.ear.tollgate.reasons[${i}]`, 'must be a map');
        return readReason(r, (f) => x.get(REASON[f]), `${p}.ear.tollgate.reasons[${i}]`, 'cbor');
      });
    }
    ear.submods[name] = checkAppraisal(r, a, p);
  }
  return ear;
}

function readReason(r: Reader, get: (f: ReasonField) => unknown, path: string, form: 'json' | 'cbor'): ClaimReason {
  const reason: ClaimReason = { claim: r.text(get('claim'), `${path}.claim`), status: r.tier(get('status'), `${path}.status`, form), message: r.text(get('message'), `${path}.message`) };
  const cat = get('category');
  if (cat !== undefined) {
    const c = form === 'json' ? TRUST_CLAIMS.find((x) => x === cat) : typeof cat === 'number' ? TRUST_CLAIMS[cat] : undefined;
    if (c === undefined) throw r.bad(`${path}.category`, `must be one of ${TRUST_CLAIMS.join(', ')}`);
    reason.category = c;
  }
  const value = get('value');
  if (value !== undefined) reason.value = r.claimValue(value, `${path}.value`);
  for (const f of ['expected', 'actual'] as const) {
    const v = get(f);
    if (v !== undefined) {
      if (typeof v !== 'string' || v.length > MAX_TEXT) throw r.bad(`${path}.${f}`, `must be a text string of at most ${MAX_TEXT} characters`);
      reason[f] = v;
    }
  }
  return reason;
}

// ---- JSON

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** Strict base64url (RFC 4648 §5, no padding, canonical final bits). */
export function decodeBase64Url(s: unknown, what: string, code: 'EAR_CLAIM_INVALID' | 'EAR_MALFORMED' = 'EAR_CLAIM_INVALID'): Uint8Array {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) throw new EarError(code, `${what} is not base64url.`);
  const b = Buffer.from(s, 'base64url');
  if (b.toString('base64url') !== s) throw new EarError(code, `${what} is not canonical base64url.`);
  return new Uint8Array(b);
}

/** The EAR as JWT claims (JSON). */
export function earToJSON(ear: EAR): Record<string, unknown> {
  const submods: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(ear.submods)) {
    submods[name] = {
      [K.status.json]: a.status,
      ...(a.trustVector ? { [K.trustVector.json]: { ...a.trustVector } } : {}),
      ...(a.policyId !== undefined ? { [K.policyId.json]: a.policyId } : {}),
      ...(a.reasons ? { [K.reasons.json]: a.reasons.map((x) => ({ ...x })) } : {}),
    };
  }
  return {
    [K.profile.json]: ear.profile,
    [K.iat.json]: ear.iat,
    [K.verifierId.json]: { developer: ear.verifierId.developer, build: ear.verifierId.build },
    ...(ear.rawEvidence ? { [K.rawEvidence.json]: b64u(ear.rawEvidence) } : {}),
    ...(ear.nonce ? { [K.nonce.json]: b64u(ear.nonce) } : {}),
    [K.submods.json]: submods,
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads EAR JWT claims (JSON) strictly; unknown claims are ignored. */
export function earFromJSON(j: unknown): EAR {
  const r = new Reader('EAR_CLAIM_INVALID');
  if (!isObj(j)) throw new EarError('EAR_MALFORMED', 'The EAR payload is not a JSON object.');
  if (j[K.profile.json] !== EAR_PROFILE) throw new EarError('EAR_PROFILE_MISMATCH', `The EAR's eat_profile is ${JSON.stringify(String(j[K.profile.json]))}, not ${EAR_PROFILE}.`);
  // Rebuild the CBOR form and read that: one set of rules for both forms.
  const m: CborMap = new Map<CborKey, CborValue>([[K.profile.cbor, EAR_PROFILE]]);
  const iat = j[K.iat.json];
  if (typeof iat !== 'number') throw r.bad('iat', 'must be a non-negative integer');
  m.set(K.iat.cbor, iat);
  const vid = j[K.verifierId.json];
  if (!isObj(vid)) throw r.bad('ear.verifier-id', 'must be an object');
  m.set(K.verifierId.cbor, new Map<CborKey, CborValue>([[VERIFIER_ID.developer, vid.developer as CborValue], [VERIFIER_ID.build, vid.build as CborValue]]));
  if (j[K.rawEvidence.json] !== undefined) m.set(K.rawEvidence.cbor, decodeBase64Url(j[K.rawEvidence.json], 'ear.raw-evidence'));
  if (j[K.nonce.json] !== undefined) m.set(K.nonce.cbor, decodeBase64Url(j[K.nonce.json], 'eat_nonce'));
  const subs = j[K.submods.json];
  if (!isObj(subs)) throw r.bad('submods', 'must be an object');
  const cs: CborMap = new Map();
  for (const [name, s] of Object.entries(subs)) {
    const p = `submods[${JSON.stringify(name)}]`;
    if (!isObj(s)) throw r.bad(p, 'must be an object');
    const c: CborMap = new Map<CborKey, CborValue>([[K.status.cbor, TIER_CODE[r.tier(s[K.status.json], `${p}.ear.status`, 'json')]]]);
    const tv = s[K.trustVector.json];
    if (tv !== undefined) {
      if (!isObj(tv)) throw r.bad(`${p}.ear.trustworthiness-vector`, 'must be an object');
      c.set(K.trustVector.cbor, new Map(Object.entries(tv).map(([k, v]) => {
        const i = TRUST_CLAIMS.indexOf(k as TrustClaim);
        if (i < 0) throw r.bad(`${p}.ear.trustworthiness-vector`, `has the unknown category ${JSON.stringify(k)}`);
        return [i, r.claimValue(v, `${p}.ear.trustworthiness-vector.${k}`)];
      })));
    }
    if (s[K.policyId.json] !== undefined) c.set(K.policyId.cbor, r.text(s[K.policyId.json], `${p}.ear.appraisal-policy-id`));
    const reasons = s[K.reasons.json];
    if (reasons !== undefined) {
      if (!Array.isArray(reasons) || reasons.length > MAX_REASONS) throw r.bad(`${p}.ear.tollgate.reasons`, `must be an array of at most ${MAX_REASONS}`);
      c.set(K.reasons.cbor, reasons.map((x, i) => {
        if (!isObj(x)) throw r.bad(`${p}.ear.tollgate.reasons[${i}]`, 'must be an object');
        return reasonToCbor(readReason(r, (f) => x[f], `${p}.ear.tollgate.reasons[${i}]`, 'json'));
      }));
    }
    cs.set(name, c);
  }
  m.set(K.submods.cbor, cs);
  return earFromCbor(m);
}

function reasonToCbor(x: ClaimReason): CborMap {
  const r: CborMap = new Map<CborKey, CborValue>([[REASON.claim, x.claim], [REASON.status, TIER_CODE[x.status]], [REASON.message, x.message]]);
  if (x.category) r.set(REASON.category, TRUST_CLAIMS.indexOf(x.category));
  if (x.value !== undefined) r.set(REASON.value, x.value);
  if (x.expected !== undefined) r.set(REASON.expected, x.expected);
  if (x.actual !== undefined) r.set(REASON.actual, x.actual);
  return r;
}
