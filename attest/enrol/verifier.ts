// The verifier's two steps, without I/O (the CLI keeps the pending enrolment in a state directory,
// state.ts; the collector will keep it in its database):
//   1. createEnrolChallenge: check the request (checks.ts), then MakeCredential of a fresh 32-byte
//      secret to the EK, bound to the AK Name. The pending enrolment keeps SHA-256 of the proof the
//      device must send, not the secret: whoever reads the verifier's state cannot answer for a
//      device.
//   2. finishEnrolment: the proof HMAC-SHA256(secret, enrolmentId ‖ akName) proves that the TPM
//      holding the EK released the secret to the AK with that Name — so the AK is in that TPM —
//      and answers this enrolment (the id is in the MAC) and no other; then the enrolled-device
//      record is made. Spending the pending enrolment once (replay) is the store's job.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { makeCredential, tpmPublicKey } from '../../hardware/index.ts';
import { checkEnrolRequest, type CheckOptions, type CheckedEnrolRequest } from './checks.ts';
import { EnrolError } from './errors.ts';
import { isRecord } from '../encoding.ts';
import { checkEnrolmentId, enrolRequestJSON, parseEnrolRequest, parseISOTime, type EnrolChallenge, type EnrolProof, type EnrolRequest } from './wire.ts';
import { makeDeviceRecord, type DeviceRecord, type EKChainSummary } from './record.ts';

/** How long a device has to answer a challenge, by default. */
export const DEFAULT_ENROL_TTL_SECONDS = 600;
const MAX_TTL_SECONDS = 7 * 24 * 3600;
const SECRET_BYTES = 32;

/** proof = HMAC-SHA256(secret, UTF-8(enrolmentId) ‖ akName). */
export function enrolProof(secret: Uint8Array, enrolmentId: string, akName: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(enrolmentId, 'utf8').update(akName).digest();
}

function sha256(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest();
}

export interface PendingEnrolment {
  enrolmentId: string;
  createdAt: string;
  expiresAt: string;
  /** SHA-256 of the expected proof. */
  proofDigest: Buffer;
  request: EnrolRequest;
  /** DER of the EK certificates to record (the one for ekPublic first). */
  ekCertificates: Buffer[];
  ekChain: EKChainSummary;
  deviceId: string;
}

export interface ChallengeOptions extends CheckOptions {
  /** Seconds until the challenge expires (default 600). */
  ttlSeconds?: number;
}

export interface CreatedChallenge {
  challenge: EnrolChallenge;
  pending: PendingEnrolment;
  checked: CheckedEnrolRequest;
}

/** Summary of the EK chain for the record: vendor from the SAN, SHA-256 fingerprints leaf first, root subject. */
export function chainSummary(checked: CheckedEnrolRequest): EKChainSummary {
  const v = checked.chain.vendor;
  const path = checked.chain.path;
  return { vendor: v ? v.name ?? v.id : null, path: path.map((c) => c.fingerprint256), root: path[path.length - 1]!.subject.text };
}

/** Checks the request and answers it with MakeCredential (no I/O; keep `pending` until the proof comes). */
export function createEnrolChallenge(request: EnrolRequest, opts: ChallengeOptions): CreatedChallenge {
  const now = opts.now ?? new Date();
  const ttl = opts.ttlSeconds ?? DEFAULT_ENROL_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) throw new EnrolError('ENROL_OPTIONS_INVALID', `The challenge lifetime must be 1 to ${MAX_TTL_SECONDS} whole seconds, not ${ttl}.`);
  const checked = checkEnrolRequest(request, { ...opts, now });
  const enrolmentId = randomBytes(16).toString('hex');
  const secret = randomBytes(SECRET_BYTES);
  const cred = makeCredential(tpmPublicKey(checked.ek), request.akName, secret);
  const expiresAt = new Date(now.getTime() + ttl * 1000).toISOString();
  const pending: PendingEnrolment = {
    enrolmentId, createdAt: now.toISOString(), expiresAt,
    proofDigest: sha256(enrolProof(secret, enrolmentId, request.akName)),
    request, ekCertificates: checked.ekCertificates.map((c) => c.der), ekChain: chainSummary(checked), deviceId: checked.deviceId,
  };
  secret.fill(0);
  return {
    challenge: { enrolmentId, credentialBlob: Buffer.from(cred.credentialBlob), encryptedSecret: Buffer.from(cred.secret), expiresAt },
    pending, checked,
  };
}

/** True when the pending enrolment can no longer be answered at `now`. */
export function isExpired(pending: Pick<PendingEnrolment, 'expiresAt'>, now: Date = new Date()): boolean {
  const t = parseISOTime(pending.expiresAt);
  return !t || now.getTime() > t.getTime();
}

/**
 * Checks the proof against the pending enrolment (not expired, the right MAC for this enrolment
 * id and AK Name) and returns the enrolled-device record. Does not spend the pending enrolment.
 */
export function finishEnrolment(pending: PendingEnrolment, proof: EnrolProof, opts: { now?: Date } = {}): DeviceRecord {
  const now = opts.now ?? new Date();
  if (isExpired(pending, now)) {
    throw new EnrolError('ENROL_EXPIRED', `Enrolment ${pending.enrolmentId} expired at ${pending.expiresAt}; the device must start again with a new request.`, { details: { enrolmentId: pending.enrolmentId, expiresAt: pending.expiresAt } });
  }
  const got = sha256(proof.proof);
  if (got.length !== pending.proofDigest.length || !timingSafeEqual(got, pending.proofDigest)) {
    throw new EnrolError('ENROL_PROOF_WRONG', `The proof does not answer enrolment ${pending.enrolmentId}: the device did not recover its credential (the AK is not in the TPM of that EK, or the proof belongs to another enrolment).`, { details: { enrolmentId: pending.enrolmentId } });
  }
  return makeDeviceRecord(pending, now);
}

// ------------------------------------------------------------------------------------------------
// The pending enrolment as JSON (the verifier's own state; parsed strictly all the same)

export function pendingJSON(p: PendingEnrolment): Record<string, unknown> {
  return {
    version: 1, enrolmentId: p.enrolmentId, createdAt: p.createdAt, expiresAt: p.expiresAt, proofDigest: p.proofDigest.toString('hex'),
    deviceId: p.deviceId, ekCertificates: p.ekCertificates.map((c) => c.toString('base64')), ekChain: p.ekChain, request: enrolRequestJSON(p.request),
  };
}

const HEX64 = /^[0-9a-f]{64}$/;

export function parsePending(v: unknown, where: string): PendingEnrolment {
  const bad = (why: string): never => {
    throw new EnrolError('ENROL_STATE_INVALID', `The pending enrolment ${where} is damaged (${why}); remove it and have the device enrol again.`, { details: { path: where } });
  };
  if (!isRecord(v) || v.version !== 1) return bad('not a version 1 pending enrolment');
  const o = v;
  try {
    checkEnrolmentId(o.enrolmentId);
  } catch {
    bad('enrolmentId');
  }
  if (!parseISOTime(o.createdAt) || !parseISOTime(o.expiresAt)) bad('times');
  if (typeof o.proofDigest !== 'string' || !HEX64.test(o.proofDigest)) bad('proofDigest');
  if (typeof o.deviceId !== 'string' || !HEX64.test(o.deviceId)) bad('deviceId');
  if (!Array.isArray(o.ekCertificates) || o.ekCertificates.length === 0 || o.ekCertificates.some((c) => typeof c !== 'string')) bad('ekCertificates');
  const ch = o.ekChain;
  if (!isRecord(ch) || !(ch.vendor === null || typeof ch.vendor === 'string') || typeof ch.root !== 'string'
    || !Array.isArray(ch.path) || ch.path.length === 0 || ch.path.some((x) => typeof x !== 'string' || !HEX64.test(x))) bad('ekChain');
  let request: EnrolRequest;
  try {
    request = parseEnrolRequest(o.request);
  } catch (e) {
    if (e instanceof EnrolError) return bad(e.message);
    throw e;
  }
  const chain = ch as Record<string, unknown>;
  return {
    enrolmentId: o.enrolmentId as string, createdAt: o.createdAt as string, expiresAt: o.expiresAt as string,
    proofDigest: Buffer.from(o.proofDigest as string, 'hex'), deviceId: o.deviceId as string,
    ekCertificates: (o.ekCertificates as string[]).map((c) => Buffer.from(c, 'base64')),
    ekChain: { vendor: chain.vendor as string | null, path: chain.path as string[], root: chain.root as string },
    request,
  };
}
