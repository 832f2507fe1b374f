// The enrolled-device record (I9-CONTRACT.md): what the verifier knows about a device once it has
// enrolled, and what appraisal checks evidence against. JSON, bytes in base64 except the Names and
// ids in hex. parseDeviceRecord re-checks everything that can be checked without the EK root
// store (the chain was checked at enrolment): the UEID and device id are those of ekPublic, the
// first EK certificate certifies ekPublic, the Names are those of the public areas, the key
// attributes are an AK's and a device key's, and the AK's certification of the device key holds.
// So a record edited at rest is refused, not half-trusted.
import { readBoundedFile, writeFileAtomic } from './files.ts';
import { isRecord, parseJSON, decodeBase64 } from '../encoding.ts';
import { AttestError } from '../errors.ts';
import { ueidFromEKPublic } from '../eat/index.ts';
import type { TPMTPublic } from '../../hardware/index.ts';
import {
  certifiesEK, checkAKPublic, checkDeviceKeyCertification, checkDeviceKeyPublic, checkEKPublic, parseCertificatesOf,
} from './checks.ts';
import { EnrolError } from './errors.ts';
import { MAX_ATTEST_BYTES, MAX_CERT_BYTES, MAX_EK_CERTS, MAX_PUBLIC_BYTES, parseISOTime, type EnrolFacts } from './wire.ts';
import type { PendingEnrolment } from './verifier.ts';

export const DEVICE_RECORD_VERSION = 1;
/** Largest record file read. */
export const MAX_RECORD_BYTES = 1024 * 1024;

export interface EKChainSummary {
  /** The TPM vendor from the EK certificate's SAN (registry name, else its id), or null. */
  vendor: string | null;
  /** SHA-256 fingerprints (lower-case hex) of the chain, EK certificate first. */
  path: string[];
  /** Subject of the last certificate of the chain. */
  root: string;
}

export interface DeviceRecord {
  version: 1;
  /** Hex of the 32 bytes after the UEID type byte. */
  deviceId: string;
  ueid: Buffer;
  /** The EK's TPMT_PUBLIC bytes. */
  ekPublic: Buffer;
  /** DER; the certificate of ekPublic first. */
  ekCertificates: Buffer[];
  ekChain: EKChainSummary;
  akPublic: Buffer;
  akName: Buffer;
  deviceKeyPublic: Buffer;
  deviceKeyName: Buffer;
  deviceKeyCertify: { attest: Buffer; signature: Buffer };
  enrolledAt: string;
  facts: EnrolFacts;
  /** The public areas, parsed. */
  ek: TPMTPublic;
  ak: TPMTPublic;
  deviceKey: TPMTPublic;
}

/** The record of a finished enrolment (its checks were done when the challenge was made). */
export function makeDeviceRecord(p: PendingEnrolment, now: Date): DeviceRecord {
  const q = p.request;
  const { ek } = checkEKPublic(q.ekPublic);
  const { ak } = checkAKPublic(q.akPublic, q.akName);
  const { deviceKey, deviceKeyName } = checkDeviceKeyPublic(q.deviceKeyPublic);
  return {
    version: 1, deviceId: p.deviceId, ueid: Buffer.from(ueidFromEKPublic(q.ekPublic)), ekPublic: q.ekPublic,
    ekCertificates: p.ekCertificates, ekChain: p.ekChain, akPublic: q.akPublic, akName: q.akName,
    deviceKeyPublic: q.deviceKeyPublic, deviceKeyName, deviceKeyCertify: q.deviceKeyCertify,
    enrolledAt: now.toISOString(), facts: q.facts, ek, ak, deviceKey,
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** The record as the JSON document of the contract (members in its order). */
export function deviceRecordJSON(r: DeviceRecord): Record<string, unknown> {
  return {
    version: DEVICE_RECORD_VERSION, deviceId: r.deviceId, ueid: hex(r.ueid), ekPublic: b64(r.ekPublic),
    ekCertificates: r.ekCertificates.map(b64), ekChain: { vendor: r.ekChain.vendor, path: [...r.ekChain.path], root: r.ekChain.root },
    akPublic: b64(r.akPublic), akName: hex(r.akName), deviceKeyPublic: b64(r.deviceKeyPublic), deviceKeyName: hex(r.deviceKeyName),
    deviceKeyCertify: { attest: b64(r.deviceKeyCertify.attest), signature: b64(r.deviceKeyCertify.signature) },
    enrolledAt: r.enrolledAt, facts: { hostname: r.facts.hostname, version: r.facts.version },
  };
}

const KEYS = ['version', 'deviceId', 'ueid', 'ekPublic', 'ekCertificates', 'ekChain', 'akPublic', 'akName', 'deviceKeyPublic', 'deviceKeyName', 'deviceKeyCertify', 'enrolledAt', 'facts'];
const HEX = /^(?:[0-9a-f]{2})+$/;
const TEXT = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u;

function invalid(why: string, cause?: unknown): never {
  throw new EnrolError('ENROL_RECORD_INVALID', `The enrolled-device record is not valid: ${why}`, cause ? { cause } : undefined);
}

function members(v: unknown, at: string, keys: readonly string[]): Record<string, unknown> {
  if (!isRecord(v)) invalid(`${at} must be a JSON object.`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) invalid(`${at}.${k} is not a member of the record.`);
  for (const k of keys) if (!(k in o)) invalid(`${at}.${k} is missing.`);
  return o;
}

function bytes(v: unknown, at: string, max: number): Buffer {
  let b: Buffer;
  try {
    b = decodeBase64(v, at);
  } catch (e) {
    if (e instanceof AttestError) return invalid(`${at} must be base64.`, e);
    throw e;
  }
  if (b.length === 0 || b.length > max) invalid(`${at} is ${b.length} bytes (1 to ${max}).`);
  return b;
}

function hexBytes(v: unknown, at: string, max: number): Buffer {
  if (typeof v !== 'string' || !HEX.test(v) || v.length > 2 * max) invalid(`${at} must be lower-case hex of at most ${max} bytes.`);
  return Buffer.from(v as string, 'hex');
}

function text(v: unknown, at: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || !TEXT.test(v)) invalid(`${at} must be 1 to ${max} printable characters.`);
  return v as string;
}

/**
 * Parses and re-checks an enrolled-device record (JSON bytes or text, or the parsed object).
 * Throws EnrolError ENROL_RECORD_INVALID.
 */
export function parseDeviceRecord(input: Uint8Array | string | unknown): DeviceRecord {
  let doc = input;
  if (input instanceof Uint8Array || typeof input === 'string') {
    try {
      doc = parseJSON(input, 'The enrolled-device record', { maxBytes: MAX_RECORD_BYTES, maxDepth: 8 });
    } catch (e) {
      if (e instanceof AttestError) invalid(e.message, e);
      throw e;
    }
  }
  const o = members(doc, 'record', KEYS);
  if (o.version !== DEVICE_RECORD_VERSION) invalid(`record.version is ${JSON.stringify(o.version)}; this tollgate reads version ${DEVICE_RECORD_VERSION}.`);
  const ekPublic = bytes(o.ekPublic, 'record.ekPublic', MAX_PUBLIC_BYTES);
  const akPublic = bytes(o.akPublic, 'record.akPublic', MAX_PUBLIC_BYTES);
  const deviceKeyPublic = bytes(o.deviceKeyPublic, 'record.deviceKeyPublic', MAX_PUBLIC_BYTES);
  const akName = hexBytes(o.akName, 'record.akName', 66);
  const deviceKeyName = hexBytes(o.deviceKeyName, 'record.deviceKeyName', 66);
  const ueid = hexBytes(o.ueid, 'record.ueid', 33);
  const deviceId = typeof o.deviceId === 'string' && /^[0-9a-f]{64}$/.test(o.deviceId) ? o.deviceId : invalid('record.deviceId must be 64 lower-case hex digits.');
  if (!Array.isArray(o.ekCertificates) || o.ekCertificates.length === 0 || o.ekCertificates.length > MAX_EK_CERTS) invalid(`record.ekCertificates must be 1 to ${MAX_EK_CERTS} certificates.`);
  const ekCertificates = (o.ekCertificates as unknown[]).map((c, i) => bytes(c, `record.ekCertificates[${i}]`, MAX_CERT_BYTES));
  const ch = members(o.ekChain, 'record.ekChain', ['vendor', 'path', 'root']);
  if (!(ch.vendor === null || (typeof ch.vendor === 'string' && ch.vendor.length <= 128))) invalid('record.ekChain.vendor must be a string or null.');
  if (!Array.isArray(ch.path) || ch.path.length === 0 || ch.path.length > 16 || ch.path.some((x) => typeof x !== 'string' || !/^[0-9a-f]{64}$/.test(x))) {
    invalid('record.ekChain.path must be 1 to 16 SHA-256 fingerprints in lower-case hex.');
  }
  if (typeof ch.root !== 'string' || ch.root.length > 1024) invalid('record.ekChain.root must be a string.');
  const certify = members(o.deviceKeyCertify, 'record.deviceKeyCertify', ['attest', 'signature']);
  const deviceKeyCertify = { attest: bytes(certify.attest, 'record.deviceKeyCertify.attest', MAX_ATTEST_BYTES), signature: bytes(certify.signature, 'record.deviceKeyCertify.signature', MAX_ATTEST_BYTES) };
  if (!parseISOTime(o.enrolledAt)) invalid('record.enrolledAt must be an ISO 8601 UTC time.');
  const f = members(o.facts, 'record.facts', ['hostname', 'version']);
  const facts = { hostname: text(f.hostname, 'record.facts.hostname', 255), version: text(f.version, 'record.facts.version', 64) };

  // Consistency: everything derivable is re-derived and compared.
  let parts;
  try {
    const { ek } = checkEKPublic(ekPublic);
    const { ak, akKey } = checkAKPublic(akPublic, akName);
    const { deviceKey, deviceKeyName: name } = checkDeviceKeyPublic(deviceKeyPublic);
    if (!name.equals(deviceKeyName)) invalid('record.deviceKeyName is not the Name of record.deviceKeyPublic.');
    checkDeviceKeyCertification(akKey, deviceKeyCertify, name);
    const [first] = parseCertificatesOf(ekCertificates, 'record.ekCertificates', 'ENROL_RECORD_INVALID');
    if (!certifiesEK(first!, ek)) invalid('record.ekCertificates[0] does not certify record.ekPublic.');
    parts = { ek, ak, deviceKey };
  } catch (e) {
    if (e instanceof EnrolError && e.code !== 'ENROL_RECORD_INVALID') invalid(e.message, e);
    throw e;
  }
  const expectUeid = Buffer.from(ueidFromEKPublic(ekPublic));
  if (!expectUeid.equals(ueid)) invalid('record.ueid is not the UEID of record.ekPublic.');
  if (deviceId !== expectUeid.subarray(1).toString('hex')) invalid('record.deviceId is not the device id of record.ekPublic.');
  return {
    version: 1, deviceId, ueid, ekPublic, ekCertificates, ekChain: { vendor: ch.vendor as string | null, path: ch.path as string[], root: ch.root as string },
    akPublic, akName, deviceKeyPublic, deviceKeyName, deviceKeyCertify, enrolledAt: o.enrolledAt as string, facts, ...parts,
  };
}

/** Writes the record durably (temp, fsync, rename, fsync dir; mode 0600). */
export function writeDeviceRecord(path: string, record: DeviceRecord): void {
  writeFileAtomic(path, JSON.stringify(deviceRecordJSON(record), null, 2) + '\n');
}

/** Reads a record file (a regular file of at most MAX_RECORD_BYTES) and parses it. */
export async function readDeviceRecord(path: string): Promise<DeviceRecord> {
  return parseDeviceRecord(await readBoundedFile(path, MAX_RECORD_BYTES, { what: 'The enrolled-device record' }));
}
