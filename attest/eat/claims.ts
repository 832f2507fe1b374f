// The tollgate EAT profile's claims set (a CWT claims map, RFC 9711 / RFC 8392): typed claims,
// their CBOR form, strict validation, the claims digest the TPM quote binds, and the UEID.
//
// Claim keys (full description in attest/eat/PROFILE.md):
//
//   key          name                       CBOR value
//   6            iat                        uint, seconds since the epoch (never a float)
//   10           nonce (eat_nonce)          bstr, 8..64 bytes: the verifier's challenge
//   256          ueid                       bstr: 0x01 ‖ SHA-256(EK TPMT_PUBLIC)[0..32]
//   265          eat_profile                tstr: EAT_PROFILE
//   270          swname                     tstr (optional): "tollgate"
//   271          swversion                  [tstr] (optional): the agent version
//   -1953459202  tollgate quote             {1: TPMS_ATTEST bstr, 2: TPMT_SIGNATURE bstr}
//   -1953459203  tollgate pcrs              [+ {1: TPM_ALG_ID uint, 2: {+ pcr uint => digest bstr}}]
//   -1953459204  tollgate event logs        [* {1: format tstr, 2: byte offset uint, 3: first event uint, 4: bytes bstr}]
//   -1953459205  tollgate installed sw      [* {1: target tstr, 2: {+ alg tstr => digest bstr}, 3: TUF targets version uint}]
//   -1953459206  tollgate ledger head       {1: seq uint, 2: hash bstr, ? 3: {1: TPMS_ATTEST, 2: TPMT_SIGNATURE}}
//   -1953459207  tollgate key certification {1: TPMS_ATTEST bstr, 2: TPMT_SIGNATURE bstr, 3: AK TPM2B_PUBLIC bstr, 4: device key TPM2B_PUBLIC bstr}
//
// The private keys are in the CWT private-use range (< -65536) and spell "tol" on the wire: the
// CBOR argument of key -1953459202 is 0x746f6c01 ("tol" 0x01), so they are easy to spot in a hex
// dump and unlikely to collide with another profile's private claims.
import { createHash } from 'node:crypto';
import {
  TPM_ST, TPM2BPublic, TPMTPublic, MAX_PCR_INDEX, parseAttest, parseSignature, unmarshal, isTollgateError,
  type TPMSAttest, type TPMTSignature,
} from '../../hardware/index.ts';
import { decodeCBOR, encodeCBOR, isBytes, isCborMap, isUint, type CborKey, type CborMap, type CborValue } from '../cose/index.ts';
import { EatError } from './errors.ts';

/** The tollgate EAT profile (a tag URI, RFC 4151), carried in eat_profile (265). */
export const EAT_PROFILE = 'tag:github.com,2026:tollgate/eat#1';
/** The media type of tollgate evidence (RFC 9782), and the COSE typ header it carries. */
export const EAT_MEDIA_TYPE = 'application/eat+cwt';
/** The HTTP Content-Type of tollgate evidence: the media type with its profile parameter (RFC 9782 §3). */
export const EAT_CONTENT_TYPE = `${EAT_MEDIA_TYPE}; eat_profile="${EAT_PROFILE}"`;

const tol = (n: number): number => -1 - (0x746f6c00 + n);

/** CWT claim keys used by the profile. */
export const CLAIM = {
  iat: 6,
  nonce: 10,
  ueid: 256,
  eatProfile: 265,
  swname: 270,
  swversion: 271,
  quote: tol(1),
  pcrs: tol(2),
  eventLogs: tol(3),
  software: tol(4),
  ledger: tol(5),
  keyCertification: tol(6),
} as const;

/** Claim names for messages and the pretty-printer. */
export const CLAIM_NAMES: ReadonlyMap<number, string> = new Map([
  [CLAIM.iat, 'iat'], [CLAIM.nonce, 'nonce'], [CLAIM.ueid, 'ueid'], [CLAIM.eatProfile, 'eat_profile'],
  [CLAIM.swname, 'swname'], [CLAIM.swversion, 'swversion'], [CLAIM.quote, 'quote'], [CLAIM.pcrs, 'pcrs'],
  [CLAIM.eventLogs, 'eventLogs'], [CLAIM.software, 'software'], [CLAIM.ledger, 'ledger'], [CLAIM.keyCertification, 'keyCertification'],
]);

/** A TPM-signed attestation: the TPMS_ATTEST bytes as signed and the TPMT_SIGNATURE bytes. */
export interface TpmAttestation {
  attest: Uint8Array;
  signature: Uint8Array;
}

/** One PCR bank: a TPM_ALG_ID hash and the PCRs read from it (ascending PCR index). */
export interface PcrBank {
  hashAlg: number;
  values: Array<{ pcr: number; digest: Uint8Array }>;
}

/** tcg-pc-client: the TCG PC Client crypto-agile event log; ima: the IMA binary_runtime_measurements. */
export const EVENT_LOG_FORMATS = ['tcg-pc-client', 'ima'] as const;
export type EventLogFormat = (typeof EVENT_LOG_FORMATS)[number];

/**
 * A slice of an event log: `data` is the log from byte `offset` on, and its first event is event
 * number `firstEvent` (0-based). A verifier that appraised the log up to some point asks only for
 * the rest (incremental appraisal); offset 0 and firstEvent 0 send the whole log.
 */
export interface EventLogChunk {
  format: EventLogFormat;
  offset: number;
  firstEvent: number;
  data: Uint8Array;
}

/** An installed TUF target: its name, hashes (sha256/sha384/sha512) and the targets metadata version that listed it. */
export interface InstalledSoftware {
  target: string;
  hashes: Record<string, Uint8Array>;
  tufVersion: number;
}

/** The ledger's head record; `nvCertify` is the AK's TPM2_NV_Certify of the ledger NV index. */
export interface LedgerHead {
  seq: number;
  hash: Uint8Array;
  nvCertify?: TpmAttestation;
}

/**
 * The AK's TPM2_Certify of the device key (made at provisioning): the AK is restricted and cannot
 * sign evidence, so the device key signs, and this certification ties it to the AK.
 * `akPublic` and `deviceKeyPublic` are TPM2B_PUBLIC bytes.
 */
export interface KeyCertification extends TpmAttestation {
  akPublic: Uint8Array;
  deviceKeyPublic: Uint8Array;
}

export interface EvidenceClaims {
  profile: string;
  nonce: Uint8Array;
  ueid: Uint8Array;
  /** Seconds since the epoch. */
  iat: number;
  swname?: string;
  swversion?: string;
  /** The TPM quote; attached last, because its extraData binds every other claim. */
  quote?: TpmAttestation;
  pcrs: PcrBank[];
  eventLogs: EventLogChunk[];
  software: InstalledSoftware[];
  ledger?: LedgerHead;
  keyCertification: KeyCertification;
}

/** The TPM structures inside the claims, parsed (their magic and types checked). */
export interface ParsedTpmClaims {
  quote?: { attest: TPMSAttest; signature: TPMTSignature };
  keyCertification: { attest: TPMSAttest; signature: TPMTSignature; akPublic: TPMTPublic; deviceKeyPublic: TPMTPublic };
  ledgerNvCertify?: { attest: TPMSAttest; signature: TPMTSignature };
}

// ------------------------------------------------------------------------------------------------
// Limits (what a well-formed device sends is far below them)

export const NONCE_MIN = 8;
export const NONCE_MAX = 64;
const UEID_MAX = 33;
const MAX_TEXT = 4096;
const MAX_BANKS = 8;
const MAX_LOG_CHUNKS = 8;
const MAX_SOFTWARE = 100_000;
const MAX_TPM_BLOB = 4096;

const PCR_DIGEST_SIZE: ReadonlyMap<number, number> = new Map([[0x0004, 20], [0x000b, 32], [0x000c, 48], [0x000d, 64], [0x0012, 32]]);
const SOFTWARE_HASH_SIZE: Readonly<Record<string, number>> = { sha256: 32, sha384: 48, sha512: 64 };

// ------------------------------------------------------------------------------------------------
// Typed claims → CBOR

function attestationMap(a: TpmAttestation): CborMap {
  return new Map<CborKey, CborValue>([[1, a.attest], [2, a.signature]]);
}

/** The claims as a CWT claims map (quote included when present). */
export function claimsToCbor(c: EvidenceClaims): CborMap {
  const m: CborMap = new Map();
  m.set(CLAIM.eatProfile, c.profile);
  m.set(CLAIM.iat, c.iat);
  m.set(CLAIM.nonce, c.nonce);
  m.set(CLAIM.ueid, c.ueid);
  if (c.swname !== undefined) m.set(CLAIM.swname, c.swname);
  if (c.swversion !== undefined) m.set(CLAIM.swversion, [c.swversion]);
  if (c.quote) m.set(CLAIM.quote, attestationMap(c.quote));
  m.set(CLAIM.pcrs, c.pcrs.map((b) => new Map<CborKey, CborValue>([[1, b.hashAlg], [2, new Map<CborKey, CborValue>(b.values.map((v) => [v.pcr, v.digest]))]])));
  m.set(CLAIM.eventLogs, c.eventLogs.map((l) => new Map<CborKey, CborValue>([[1, l.format], [2, l.offset], [3, l.firstEvent], [4, l.data]])));
  m.set(CLAIM.software, c.software.map((s) => new Map<CborKey, CborValue>([[1, s.target], [2, new Map<CborKey, CborValue>(Object.entries(s.hashes))], [3, s.tufVersion]])));
  if (c.ledger) {
    const l = new Map<CborKey, CborValue>([[1, c.ledger.seq], [2, c.ledger.hash]]);
    if (c.ledger.nvCertify) l.set(3, attestationMap(c.ledger.nvCertify));
    m.set(CLAIM.ledger, l);
  }
  const k = c.keyCertification;
  m.set(CLAIM.keyCertification, new Map<CborKey, CborValue>([[1, k.attest], [2, k.signature], [3, k.akPublic], [4, k.deviceKeyPublic]]));
  return m;
}

// ------------------------------------------------------------------------------------------------
// CBOR → typed claims, strictly

class Reader {
  private readonly cls: 'EAT_CLAIM_INVALID' | 'EAT_INPUT_INVALID';
  constructor(cls: 'EAT_CLAIM_INVALID' | 'EAT_INPUT_INVALID') {
    this.cls = cls;
  }

  bad(path: string, why: string, cause?: unknown): EatError {
    return new EatError(this.cls, `The evidence claim ${path} ${why}.`, { details: { claim: path }, ...(cause === undefined ? {} : { cause }) });
  }

  map(v: CborValue | undefined, path: string): CborMap {
    if (!isCborMap(v)) throw this.bad(path, 'must be a map');
    return v;
  }

  /** A map with exactly the given integer keys (optional ones may be absent); anything else is refused. */
  fields(v: CborValue | undefined, path: string, required: number[], optional: number[] = []): CborMap {
    const m = this.map(v, path);
    for (const k of m.keys()) if (!required.includes(k as number) && !optional.includes(k as number)) throw this.bad(`${path}.${String(k)}`, 'is not a field of this claim');
    for (const k of required) if (!m.has(k)) throw this.bad(`${path}.${k}`, 'is missing');
    return m;
  }

  array(v: CborValue | undefined, path: string, max: number): CborValue[] {
    if (!Array.isArray(v)) throw this.bad(path, 'must be an array');
    if (v.length > max) throw this.bad(path, `has ${v.length} entries, more than the ${max} accepted`);
    return v;
  }

  bytes(v: CborValue | undefined, path: string, min: number, max: number): Uint8Array {
    if (!isBytes(v)) throw this.bad(path, 'must be a byte string');
    if (v.length < min || v.length > max) throw this.bad(path, min === max ? `must be ${min} bytes, not ${v.length}` : `must be ${min} to ${max} bytes, not ${v.length}`);
    return v;
  }

  text(v: CborValue | undefined, path: string): string {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TEXT) throw this.bad(path, `must be a text string of 1 to ${MAX_TEXT} characters`);
    return v;
  }

  uint(v: CborValue | undefined, path: string, min = 0): number {
    if (!isUint(v) || v < min) throw this.bad(path, `must be an integer ≥ ${min}`);
    return v;
  }

  attestation(v: CborValue | undefined, path: string): TpmAttestation {
    const m = this.fields(v, path, [1, 2]);
    return { attest: this.bytes(m.get(1), `${path}.attest`, 1, MAX_TPM_BLOB), signature: this.bytes(m.get(2), `${path}.signature`, 1, MAX_TPM_BLOB) };
  }
}

/**
 * Reads and checks a CWT claims map against the profile. Unknown claims (keys the profile does not
 * define) are allowed and returned in `unknown`; they are covered by the claims digest all the same.
 */
export function claimsFromCbor(m: CborMap, cls: 'EAT_CLAIM_INVALID' | 'EAT_INPUT_INVALID' = 'EAT_CLAIM_INVALID'): { claims: EvidenceClaims; parsed: ParsedTpmClaims; unknown: CborKey[] } {
  const r = new Reader(cls);
  const missing = (k: number) => new EatError(cls === 'EAT_CLAIM_INVALID' ? 'EAT_CLAIM_MISSING' : cls, `The evidence has no ${CLAIM_NAMES.get(k)} claim (key ${k}), which the tollgate profile requires.`, { details: { claim: CLAIM_NAMES.get(k) } });
  for (const k of [CLAIM.eatProfile, CLAIM.iat, CLAIM.nonce, CLAIM.ueid, CLAIM.pcrs, CLAIM.eventLogs, CLAIM.software, CLAIM.keyCertification]) {
    if (!m.has(k)) throw missing(k);
  }
  const profile = m.get(CLAIM.eatProfile);
  if (profile !== EAT_PROFILE) {
    throw new EatError(cls === 'EAT_CLAIM_INVALID' ? 'EAT_PROFILE_MISMATCH' : cls, `The evidence's eat_profile is ${JSON.stringify(typeof profile === 'string' ? profile : String(profile))}, not tollgate's ${EAT_PROFILE}.`);
  }
  const km = r.fields(m.get(CLAIM.keyCertification), 'keyCertification', [1, 2, 3, 4]);
  const keyCertification: KeyCertification = {
    attest: r.bytes(km.get(1), 'keyCertification.attest', 1, MAX_TPM_BLOB),
    signature: r.bytes(km.get(2), 'keyCertification.signature', 1, MAX_TPM_BLOB),
    akPublic: r.bytes(km.get(3), 'keyCertification.akPublic', 1, MAX_TPM_BLOB),
    deviceKeyPublic: r.bytes(km.get(4), 'keyCertification.deviceKeyPublic', 1, MAX_TPM_BLOB),
  };
  const kc = tpmAttestation(r, keyCertification, 'keyCertification', [TPM_ST.ATTEST_CERTIFY]);
  const parsedCertification: ParsedTpmClaims['keyCertification'] = {
    ...kc,
    akPublic: tpmPublic(r, keyCertification.akPublic, 'keyCertification.akPublic'),
    deviceKeyPublic: tpmPublic(r, keyCertification.deviceKeyPublic, 'keyCertification.deviceKeyPublic'),
  };

  const claims: EvidenceClaims = {
    profile,
    iat: r.uint(m.get(CLAIM.iat), 'iat'),
    nonce: r.bytes(m.get(CLAIM.nonce), 'nonce', NONCE_MIN, NONCE_MAX),
    ueid: r.bytes(m.get(CLAIM.ueid), 'ueid', 1, UEID_MAX),
    pcrs: [],
    eventLogs: [],
    software: [],
    keyCertification,
  };
  if (m.has(CLAIM.swname)) claims.swname = r.text(m.get(CLAIM.swname), 'swname');
  if (m.has(CLAIM.swversion)) {
    // RFC 9711 swversion: [version, ? version-scheme]; tollgate sends the version alone.
    const sv = r.array(m.get(CLAIM.swversion), 'swversion', 2);
    if (sv.length < 1) throw r.bad('swversion', 'must hold a version');
    claims.swversion = r.text(sv[0], 'swversion[0]');
  }
  const parsed: ParsedTpmClaims = { keyCertification: parsedCertification };
  if (m.has(CLAIM.quote)) {
    claims.quote = r.attestation(m.get(CLAIM.quote), 'quote');
    parsed.quote = tpmAttestation(r, claims.quote, 'quote', [TPM_ST.ATTEST_QUOTE]);
  }

  const banks = r.array(m.get(CLAIM.pcrs), 'pcrs', MAX_BANKS);
  if (banks.length === 0) throw r.bad('pcrs', 'must name at least one PCR bank');
  const seenAlg = new Set<number>();
  banks.forEach((b, i) => {
    const bm = r.fields(b, `pcrs[${i}]`, [1, 2]);
    const hashAlg = r.uint(bm.get(1), `pcrs[${i}].hashAlg`);
    const size = PCR_DIGEST_SIZE.get(hashAlg);
    if (size === undefined) throw r.bad(`pcrs[${i}].hashAlg`, `is 0x${hashAlg.toString(16)}, not a PCR bank hash (SHA-1, SHA-256, SHA-384, SHA-512, SM3-256)`);
    if (seenAlg.has(hashAlg)) throw r.bad(`pcrs[${i}]`, 'repeats a bank');
    seenAlg.add(hashAlg);
    const vm = r.map(bm.get(2), `pcrs[${i}].values`);
    if (vm.size === 0 || vm.size > MAX_PCR_INDEX + 1) throw r.bad(`pcrs[${i}].values`, `must hold 1 to ${MAX_PCR_INDEX + 1} PCRs`);
    const values: PcrBank['values'] = [];
    for (const [pcr, d] of vm) {
      if (!isUint(pcr as CborValue) || (pcr as number) > MAX_PCR_INDEX) throw r.bad(`pcrs[${i}].values`, `has PCR ${JSON.stringify(pcr)}, not 0..${MAX_PCR_INDEX}`);
      values.push({ pcr: pcr as number, digest: r.bytes(d, `pcrs[${i}].values[${pcr as number}]`, size, size) });
    }
    values.sort((a, b) => a.pcr - b.pcr);
    claims.pcrs.push({ hashAlg, values });
  });

  r.array(m.get(CLAIM.eventLogs), 'eventLogs', MAX_LOG_CHUNKS).forEach((l, i) => {
    const lm = r.fields(l, `eventLogs[${i}]`, [1, 2, 3, 4]);
    const format = lm.get(1);
    if (!(EVENT_LOG_FORMATS as readonly CborValue[]).includes(format as CborValue)) throw r.bad(`eventLogs[${i}].format`, `must be one of ${EVENT_LOG_FORMATS.join(', ')}`);
    if (claims.eventLogs.some((x) => x.format === format)) throw r.bad(`eventLogs[${i}]`, `repeats the ${String(format)} log`);
    const data = lm.get(4);
    if (!isBytes(data)) throw r.bad(`eventLogs[${i}].data`, 'must be a byte string');
    claims.eventLogs.push({ format: format as EventLogFormat, offset: r.uint(lm.get(2), `eventLogs[${i}].offset`), firstEvent: r.uint(lm.get(3), `eventLogs[${i}].firstEvent`), data });
  });

  r.array(m.get(CLAIM.software), 'software', MAX_SOFTWARE).forEach((s, i) => {
    const sm = r.fields(s, `software[${i}]`, [1, 2, 3]);
    const hm = r.map(sm.get(2), `software[${i}].hashes`);
    if (hm.size === 0) throw r.bad(`software[${i}].hashes`, 'must hold at least one hash');
    const hashes: Record<string, Uint8Array> = {};
    for (const [alg, d] of hm) {
      const size = typeof alg === 'string' && Object.hasOwn(SOFTWARE_HASH_SIZE, alg) ? SOFTWARE_HASH_SIZE[alg]! : undefined;
      if (size === undefined) throw r.bad(`software[${i}].hashes`, `names ${JSON.stringify(alg)}; the accepted hashes are ${Object.keys(SOFTWARE_HASH_SIZE).join(', ')}`);
      hashes[alg as string] = r.bytes(d, `software[${i}].hashes.${alg as string}`, size, size);
    }
    claims.software.push({ target: r.text(sm.get(1), `software[${i}].target`), hashes, tufVersion: r.uint(sm.get(3), `software[${i}].tufVersion`, 1) });
  });

  if (m.has(CLAIM.ledger)) {
    const lm = r.fields(m.get(CLAIM.ledger), 'ledger', [1, 2], [3]);
    claims.ledger = { seq: r.uint(lm.get(1), 'ledger.seq'), hash: r.bytes(lm.get(2), 'ledger.hash', 32, 64) };
    if (lm.has(3)) {
      claims.ledger.nvCertify = r.attestation(lm.get(3), 'ledger.nvCertify');
      parsed.ledgerNvCertify = tpmAttestation(r, claims.ledger.nvCertify, 'ledger.nvCertify', [TPM_ST.ATTEST_NV, TPM_ST.ATTEST_NV_DIGEST]);
    }
  }

  const known = new Set<CborKey>(CLAIM_NAMES.keys());
  return { claims, parsed, unknown: [...m.keys()].filter((k) => !known.has(k)) };
}

function tpmAttestation(r: Reader, a: TpmAttestation, path: string, types: number[]): { attest: TPMSAttest; signature: TPMTSignature } {
  try {
    const attest = parseAttest(a.attest);
    if (!types.includes(attest.type)) throw r.bad(`${path}.attest`, `is a TPMS_ATTEST of type 0x${attest.type.toString(16)}, not ${types.map((t) => `0x${t.toString(16)}`).join(' or ')}`);
    return { attest, signature: parseSignature(a.signature) };
  } catch (e) {
    if (e instanceof EatError) throw e;
    if (isTollgateError(e)) throw r.bad(path, `is not a TPM attestation: ${e.message}`, e);
    throw e;
  }
}

function tpmPublic(r: Reader, bytes: Uint8Array, path: string): TPMTPublic {
  try {
    return unmarshal(TPM2BPublic, bytes);
  } catch (e) {
    if (isTollgateError(e)) throw r.bad(path, `is not a TPM2B_PUBLIC: ${e.message}`, e);
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------
// Building claims

export interface ClaimsInput {
  nonce: Uint8Array;
  ueid: Uint8Array;
  /** Default: now. */
  iat?: number | Date;
  swname?: string;
  swversion?: string;
  pcrs: PcrBank[];
  eventLogs?: EventLogChunk[];
  software?: InstalledSoftware[];
  ledger?: LedgerHead;
  keyCertification: KeyCertification;
}

/**
 * Builds the claims set without the quote (EAT_INPUT_INVALID when a part does not fit the profile).
 * Then: quote with qualifyingData = quoteExtraData(claims), attach it with withQuote(), encode.
 */
export function buildClaims(input: ClaimsInput): EvidenceClaims {
  const iat = input.iat === undefined ? Math.floor(Date.now() / 1000) : input.iat instanceof Date ? Math.floor(input.iat.getTime() / 1000) : input.iat;
  const c: EvidenceClaims = {
    profile: EAT_PROFILE,
    iat,
    nonce: input.nonce,
    ueid: input.ueid,
    ...(input.swname !== undefined ? { swname: input.swname } : {}),
    ...(input.swversion !== undefined ? { swversion: input.swversion } : {}),
    pcrs: input.pcrs,
    eventLogs: input.eventLogs ?? [],
    software: input.software ?? [],
    ...(input.ledger ? { ledger: input.ledger } : {}),
    keyCertification: input.keyCertification,
  };
  return checkedClaims(c);
}

/** The claims with the quote attached (checked: a TPMS_ATTEST of type quote whose extraData binds the claims). */
export function withQuote(claims: EvidenceClaims, quote: TpmAttestation): EvidenceClaims {
  return sealClaims(claims, quote).claims;
}

/**
 * withQuote, also returning the claims' deterministic CBOR encoding (the evidence payload), so
 * encodeEvidence need not encode the claims once more.
 */
export function sealClaims(claims: EvidenceClaims, quote: TpmAttestation): { claims: EvidenceClaims; payload: Uint8Array } {
  const { claims: c, map, bytes } = checkedEncoding({ ...claims, quote });
  const got = parseAttest(quote.attest).extraData;
  if (!Buffer.from(got).equals(quoteExtraData(c.nonce, claimsDigest(map)))) {
    throw new EatError('EAT_INPUT_INVALID', "The quote's extraData is not quoteExtraData(claims): quote with qualifyingData = quoteExtraData(claims) after the claims are final.");
  }
  return { claims: c, payload: bytes };
}

/** Round-trips the claims through their CBOR form under the decoder's checks; returns the normalised claims. */
function checkedClaims(c: EvidenceClaims): EvidenceClaims {
  return checkedEncoding(c).claims;
}

/** The claims' deterministic encoding, decoded back and checked: the result is exactly what a verifier will decode. */
function checkedEncoding(c: EvidenceClaims): { claims: EvidenceClaims; map: CborMap; bytes: Uint8Array } {
  let m: CborMap;
  let bytes: Uint8Array;
  try {
    bytes = encodeCBOR(claimsToCbor(c));
    m = decodeCBOR(bytes, { maxBytes: Infinity, maxDepth: 8, maxItems: Infinity }) as CborMap;
  } catch (e) {
    throw new EatError('EAT_INPUT_INVALID', `The evidence claims cannot be encoded: ${(e as Error).message}`, { cause: e });
  }
  return { claims: claimsFromCbor(m, 'EAT_INPUT_INVALID').claims, map: m, bytes };
}

// ------------------------------------------------------------------------------------------------
// The quote binding

/**
 * claimsDigest = SHA-256 of the deterministic CBOR encoding of the claims map without the quote
 * claim. Given typed claims, the map is claimsToCbor(claims); given a decoded map (a verifier),
 * it is that map as received, unknown claims included.
 */
export function claimsDigest(claims: EvidenceClaims | CborMap): Uint8Array {
  const m = new Map(claims instanceof Map ? claims : claimsToCbor(claims));
  m.delete(CLAIM.quote);
  return createHash('sha256').update(encodeCBOR(m)).digest();
}

/** extraData = SHA-256(nonce ‖ claimsDigest): the TPM quote's qualifyingData. */
export function quoteExtraData(nonce: Uint8Array, digest: Uint8Array): Uint8Array {
  return createHash('sha256').update(nonce).update(digest).digest();
}

/** The extraData a quote over these claims must carry. */
export function expectedQuoteExtraData(claims: EvidenceClaims | CborMap): Uint8Array {
  const nonce = claims instanceof Map ? claims.get(CLAIM.nonce) : claims.nonce;
  if (!isBytes(nonce)) throw new EatError('EAT_CLAIM_MISSING', 'The claims have no nonce, which the quote binding needs.');
  return quoteExtraData(nonce, claimsDigest(claims));
}

// ------------------------------------------------------------------------------------------------
// UEID

/**
 * The UEID (RFC 9711 §4.2.1) of a TPM: type 0x01 (RAND) followed by the first 32 bytes of
 * SHA-256 over the EK's public area (TPMT_PUBLIC bytes, without the TPM2B size). RFC 9711 lets a
 * RAND UEID be made by hashing identifiers that are unique to the entity; the EK public area is
 * unique per TPM and as permanent as its endorsement seed. 33 bytes is the size every EAT
 * consumer must accept.
 */
export function ueidFromEKPublic(ekPublicArea: Uint8Array): Uint8Array {
  try {
    unmarshal(TPMTPublic, ekPublicArea);
  } catch (e) {
    if (isTollgateError(e)) throw new EatError('EAT_INPUT_INVALID', `The EK public area is not a TPMT_PUBLIC: ${e.message}`, { cause: e });
    throw e;
  }
  const out = new Uint8Array(33);
  out[0] = 0x01;
  out.set(createHash('sha256').update(ekPublicArea).digest().subarray(0, 32), 1);
  return out;
}
