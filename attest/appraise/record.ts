// The enrolled-device record (I9-CONTRACT.md) as appraisal reads it: a strict parser, and the keys
// and names appraisal needs, decoded once. The record is written by `tollgate appraise enroll
// --finish` (attest/enrol). Until attest/enrol/record.ts is on this branch this module parses the
// contract's shape itself; parseDeviceRecord is its public name either way.
import {
  TPMTPublic, publicName, publicKeyOf, toKeyObject, unmarshal, isTollgateError, type TPMTPublic as TPMTPublicT,
} from '../../hardware/index.ts';
import type { KeyObject } from 'node:crypto';
import { ueidFromEKPublic } from '../eat/index.ts';
import { AppraiseError } from './errors.ts';

export interface DeviceRecord {
  version: 1;
  /** Hex: the 32 bytes after the UEID type byte. */
  deviceId: string;
  /** Hex of ueidFromEKPublic(ekPublic). */
  ueid: string;
  /** Base64 of the EK's TPMT_PUBLIC. */
  ekPublic: string;
  /** Base64 DER. */
  ekCertificates: string[];
  ekChain: { vendor: string | null; path: string[]; root: string } | null;
  akPublic: string;
  akName: string;
  deviceKeyPublic: string;
  deviceKeyName: string;
  deviceKeyCertify: { attest: string; signature: string };
  enrolledAt: string;
  facts: { hostname: string; version: string };
}

/** What appraisal uses from a record, decoded and cross-checked. */
export interface DeviceKeys {
  record: DeviceRecord;
  ueid: Buffer;
  ekPublic: TPMTPublicT;
  akPublic: TPMTPublicT;
  akName: Buffer;
  ak: KeyObject;
  deviceKeyPublic: TPMTPublicT;
  deviceKeyName: Buffer;
  deviceKey: KeyObject;
}

const MAX_RECORD_BYTES = 1024 * 1024;
const KEYS = ['version', 'deviceId', 'ueid', 'ekPublic', 'ekCertificates', 'ekChain', 'akPublic', 'akName', 'deviceKeyPublic', 'deviceKeyName', 'deviceKeyCertify', 'enrolledAt', 'facts'];

function bad(path: string, why: string): AppraiseError {
  return new AppraiseError('APPRAISE_RECORD_INVALID', `The device record's ${path} ${why}; use the record that 'tollgate appraise enroll --finish' wrote.`, { details: { path } });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fields(v: unknown, path: string, required: string[], optional: string[] = []): Record<string, unknown> {
  if (!isObj(v)) throw bad(path, 'is not a JSON object');
  for (const k of Object.keys(v)) if (!required.includes(k) && !optional.includes(k)) throw bad(`${path}.${k}`, 'is not a field of the record');
  for (const k of required) if (!(k in v)) throw bad(`${path}.${k}`, 'is missing');
  return v;
}

function hexField(v: unknown, path: string, bytes?: number): string {
  if (typeof v !== 'string' || !/^([0-9a-f]{2})+$/.test(v) || (bytes !== undefined && v.length !== 2 * bytes)) throw bad(path, `is not ${bytes ?? 'some'} bytes of lower-case hex`);
  return v;
}

function b64Field(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || Buffer.from(v, 'base64').toString('base64') !== v) throw bad(path, 'is not canonical base64');
  return v;
}

function textField(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length > 4096) throw bad(path, 'is not a text string');
  return v;
}

function tpmPublic(b64: string, path: string): TPMTPublicT {
  try {
    return unmarshal(TPMTPublic, Buffer.from(b64, 'base64'));
  } catch (e) {
    if (isTollgateError(e)) throw bad(path, `is not a TPMT_PUBLIC (${e.message})`);
    throw e;
  }
}

/** Parses a device record (JSON bytes, text or an object) strictly: APPRAISE_RECORD_INVALID otherwise. */
export function parseDeviceRecord(input: Uint8Array | string | unknown): DeviceRecord {
  let v: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    if (input.length > MAX_RECORD_BYTES) throw bad('file', `is larger than ${MAX_RECORD_BYTES} bytes`);
    try {
      v = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
    } catch {
      throw bad('file', 'is not JSON');
    }
  }
  const o = fields(v, '$', KEYS);
  if (o.version !== 1) throw bad('version', 'is not 1');
  if (!Array.isArray(o.ekCertificates) || o.ekCertificates.length > 16) throw bad('ekCertificates', 'is not a list of at most 16 certificates');
  let ekChain: DeviceRecord['ekChain'] = null;
  if (o.ekChain !== null) {
    const c = fields(o.ekChain, 'ekChain', ['vendor', 'path', 'root']);
    if (c.vendor !== null) textField(c.vendor, 'ekChain.vendor');
    if (!Array.isArray(c.path) || c.path.length > 16) throw bad('ekChain.path', 'is not a list of at most 16 fingerprints');
    ekChain = {
      vendor: c.vendor as string | null,
      path: c.path.map((p, i) => hexField(typeof p === 'string' ? p.replace(/:/g, '').toLowerCase() : p, `ekChain.path[${i}]`, 32)),
      root: textField(c.root, 'ekChain.root'),
    };
  }
  const cert = fields(o.deviceKeyCertify, 'deviceKeyCertify', ['attest', 'signature']);
  const facts = fields(o.facts, 'facts', ['hostname', 'version']);
  const r: DeviceRecord = {
    version: 1,
    deviceId: hexField(o.deviceId, 'deviceId', 32),
    ueid: hexField(o.ueid, 'ueid', 33),
    ekPublic: b64Field(o.ekPublic, 'ekPublic'),
    ekCertificates: o.ekCertificates.map((c, i) => b64Field(c, `ekCertificates[${i}]`)),
    ekChain,
    akPublic: b64Field(o.akPublic, 'akPublic'),
    akName: hexField(o.akName, 'akName'),
    deviceKeyPublic: b64Field(o.deviceKeyPublic, 'deviceKeyPublic'),
    deviceKeyName: hexField(o.deviceKeyName, 'deviceKeyName'),
    deviceKeyCertify: { attest: b64Field(cert.attest, 'deviceKeyCertify.attest'), signature: b64Field(cert.signature, 'deviceKeyCertify.signature') },
    enrolledAt: textField(o.enrolledAt, 'enrolledAt'),
    facts: { hostname: textField(facts.hostname, 'facts.hostname'), version: textField(facts.version, 'facts.version') },
  };
  deviceKeys(r);
  return r;
}

/**
 * The keys and names of a record, each checked against the others: the UEID and device id are the
 * EK's, the Names are those of the public areas, and both keys are ECC or RSA keys Node can use.
 */
export function deviceKeys(r: DeviceRecord): DeviceKeys {
  const ekBytes = Buffer.from(r.ekPublic, 'base64');
  const ekPublic = tpmPublic(r.ekPublic, 'ekPublic');
  const ueid = Buffer.from(ueidFromEKPublic(ekBytes));
  if (ueid.toString('hex') !== r.ueid) throw bad('ueid', 'is not the UEID of its ekPublic');
  if (ueid.subarray(1).toString('hex') !== r.deviceId) throw bad('deviceId', 'is not the device id of its ekPublic');
  const akPublic = tpmPublic(r.akPublic, 'akPublic');
  const deviceKeyPublic = tpmPublic(r.deviceKeyPublic, 'deviceKeyPublic');
  const akName = Buffer.from(publicName(akPublic));
  const deviceKeyName = Buffer.from(publicName(deviceKeyPublic));
  if (akName.toString('hex') !== r.akName) throw bad('akName', 'is not the Name of its akPublic');
  if (deviceKeyName.toString('hex') !== r.deviceKeyName) throw bad('deviceKeyName', 'is not the Name of its deviceKeyPublic');
  const key = (p: TPMTPublicT, path: string): KeyObject => {
    try {
      return toKeyObject(publicKeyOf(p));
    } catch (e) {
      if (isTollgateError(e)) throw bad(path, `is not a usable public key (${e.message})`);
      throw e;
    }
  };
  return { record: r, ueid, ekPublic, akPublic, akName, ak: key(akPublic, 'akPublic'), deviceKeyPublic, deviceKeyName, deviceKey: key(deviceKeyPublic, 'deviceKeyPublic') };
}
