// The enrolled device as appraisal uses it: the keys and names of its record (attest/enrol, which
// parses and cross-checks the record), decoded once into Node keys.
import type { KeyObject } from 'node:crypto';
import { publicKeyOf, toKeyObject, type TPMTPublic } from '../../hardware/index.ts';
import type { DeviceRecord, EKChainSummary } from '../enrol/index.ts';

/** What appraisal uses from an enrolled-device record. */
export interface DeviceKeys {
  kind: 'device-keys';
  ueid: Buffer;
  akPublic: TPMTPublic;
  akName: Buffer;
  akKey: KeyObject;
  deviceKeyPublic: TPMTPublic;
  deviceKeyName: Buffer;
  deviceKeyObject: KeyObject;
  /** The EK chain checked at enrolment (for the ekRoots reference values). */
  ekChain: EKChainSummary | null;
}

/** The keys of a parsed record (parseDeviceRecord from attest/enrol). */
export function deviceKeys(r: DeviceRecord): DeviceKeys {
  return {
    kind: 'device-keys', ueid: Buffer.from(r.ueid), akPublic: r.ak, akName: Buffer.from(r.akName), akKey: toKeyObject(publicKeyOf(r.ak)),
    deviceKeyPublic: r.deviceKey, deviceKeyName: Buffer.from(r.deviceKeyName), deviceKeyObject: toKeyObject(publicKeyOf(r.deviceKey)), ekChain: r.ekChain,
  };
}
