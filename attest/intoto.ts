// in-toto Statements (v1; v0.1 read for older producers) carried in DSSE envelopes, and matching
// an artifact against their subjects: EVERY subject and EVERY digest algorithm offered is
// considered, never only the first; a subject that agrees on one algorithm but disagrees on
// another is a mismatch, not a match.
import { AttestError } from './errors.ts';
import { isRecord, parseJSON, type JSONLimits } from './encoding.ts';
import { isDigestAlgorithm, isHexDigest, type DigestAlgorithm, type DigestSet } from './digest.ts';
import type { Envelope } from './dsse.ts';

export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';
/** Bounds the matching work one statement can ask for. */
export const MAX_SUBJECTS = 100_000;

export interface Subject {
  name?: string;
  /** Algorithm → digest as given (hex for sha2; other algorithms such as gitCommit kept verbatim). */
  digest: Record<string, string>;
}

export interface Statement {
  _type: string;
  subject: Subject[];
  predicateType: string;
  predicate?: Record<string, unknown>;
}

/** Parses and validates a Statement from JSON bytes/text or a parsed value. */
export function parseStatement(input: string | Uint8Array | unknown, what = 'in-toto statement', limits?: JSONLimits): Statement {
  const v = typeof input === 'string' || input instanceof Uint8Array ? parseJSON(input, what, limits) : input;
  if (!isRecord(v)) throw new AttestError('INTOTO_MALFORMED', `${what} must be a JSON object.`);
  if (v._type !== STATEMENT_V1 && v._type !== STATEMENT_V01) {
    throw new AttestError('INTOTO_STATEMENT_TYPE', `${what} has _type ${JSON.stringify(v._type)}; expected ${STATEMENT_V1} (or ${STATEMENT_V01}).`);
  }
  if (typeof v.predicateType !== 'string' || v.predicateType === '') throw new AttestError('INTOTO_MALFORMED', `${what} has no predicateType.`);
  if (!Array.isArray(v.subject) || v.subject.length === 0) throw new AttestError('INTOTO_MALFORMED', `${what} has no subject.`);
  if (v.subject.length > MAX_SUBJECTS) throw new AttestError('INTOTO_MALFORMED', `${what} has ${v.subject.length} subjects, more than the ${MAX_SUBJECTS} accepted.`);
  const subject = v.subject.map((s, i): Subject => {
    if (!isRecord(s)) throw new AttestError('INTOTO_MALFORMED', `${what} subject[${i}] must be an object.`);
    if (s.name !== undefined && typeof s.name !== 'string') throw new AttestError('INTOTO_MALFORMED', `${what} subject[${i}].name must be a string.`);
    if (!isRecord(s.digest) || Object.keys(s.digest).length === 0) throw new AttestError('INTOTO_MALFORMED', `${what} subject[${i}] has no digest.`);
    const digest: Record<string, string> = {};
    for (const [alg, value] of Object.entries(s.digest)) {
      if (typeof value !== 'string') throw new AttestError('INTOTO_MALFORMED', `${what} subject[${i}].digest.${alg} must be a string.`);
      if (isDigestAlgorithm(alg) && !isHexDigest(alg, value)) {
        throw new AttestError('INTOTO_MALFORMED', `${what} subject[${i}].digest.${alg} is not a ${alg} hex digest.`);
      }
      digest[alg] = isDigestAlgorithm(alg) ? value.toLowerCase() : value;
    }
    return s.name !== undefined ? { name: s.name, digest } : { digest };
  });
  if (v.predicate !== undefined && !isRecord(v.predicate)) throw new AttestError('INTOTO_MALFORMED', `${what} predicate must be an object.`);
  return { _type: v._type, subject, predicateType: v.predicateType, ...(v.predicate !== undefined ? { predicate: v.predicate } : {}) };
}

/** The Statement inside a DSSE envelope; the payload type must be in-toto's. */
export function statementFromEnvelope(env: Envelope, what = 'attestation', limits?: JSONLimits): Statement {
  if (env.payloadType !== INTOTO_PAYLOAD_TYPE) {
    throw new AttestError('DSSE_PAYLOAD_TYPE', `${what} has payloadType ${JSON.stringify(env.payloadType)}; expected ${INTOTO_PAYLOAD_TYPE}.`);
  }
  return parseStatement(env.payload, `${what} statement`, limits);
}

/** Every sha2 algorithm any subject offers: what the artifact must be hashed with. */
export function subjectAlgorithms(st: Statement): Set<DigestAlgorithm> {
  const out = new Set<DigestAlgorithm>();
  for (const s of st.subject) for (const alg of Object.keys(s.digest)) if (isDigestAlgorithm(alg)) out.add(alg);
  return out;
}

export interface SubjectMatch {
  matched: boolean;
  /** The matching subject (its index and name) when matched. */
  index?: number;
  name?: string;
  /** Algorithms compared for the matching subject. */
  algorithms?: DigestAlgorithm[];
  reason: string;
}

/**
 * Matches the artifact against every subject. A subject matches when at least one algorithm both
 * sides know agrees and none disagrees. Subjects offering only algorithms the artifact was not
 * hashed with cannot match (a sha512-only subject needs the artifact's sha512).
 */
export function matchSubject(st: Statement, artifact: DigestSet): SubjectMatch {
  const known = (Object.keys(artifact) as DigestAlgorithm[]).filter((a) => artifact[a] !== undefined);
  let comparable = 0;
  const offered = new Set<string>();
  for (let i = 0; i < st.subject.length; i++) {
    const s = st.subject[i]!;
    const algs: DigestAlgorithm[] = [];
    let mismatch = false;
    for (const [alg, value] of Object.entries(s.digest)) {
      offered.add(alg);
      if (!isDigestAlgorithm(alg) || artifact[alg] === undefined) continue;
      if (value === artifact[alg]) algs.push(alg);
      else mismatch = true;
    }
    if (algs.length > 0 || mismatch) comparable++;
    if (algs.length > 0 && !mismatch) {
      return { matched: true, index: i, ...(s.name !== undefined ? { name: s.name } : {}), algorithms: algs, reason: `artifact matches subject ${s.name ?? `#${i}`} by ${algs.join(', ')}` };
    }
  }
  const found = st.subject.slice(0, 3).map((s) => `${s.name ?? '(unnamed)'} {${Object.entries(s.digest).map(([a, v]) => `${a}:${v.slice(0, 16)}…`).join(', ')}}`).join('; ');
  if (comparable === 0) {
    return {
      matched: false,
      reason: `no subject offers a digest the artifact is known by: subjects offer ${[...offered].join(', ')}, the artifact is known by ${known.join(', ')}`,
    };
  }
  return {
    matched: false,
    reason: `expected a subject with ${known.map((a) => `${a}:${artifact[a]}`).join(' or ')}; found ${st.subject.length} subject(s): ${found}${st.subject.length > 3 ? '; …' : ''}`,
  };
}
