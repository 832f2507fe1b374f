// Shared bits of the enrolment suites: the operator CA files of a test swtpm, and requests changed
// the way an attacker would change them (public areas re-marshalled after an edit, Names recomputed).
import { join } from 'node:path';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  TPMTPublic, TPMTSignature, TPM_ALG, akTemplate, fromKeyObject, marshal, objectName, unmarshal, type TPMSECCPoint,
} from '../../hardware/index.ts';
import type { EnrolRequest } from '../../attest/enrol/index.ts';
import type { Swtpm } from '../swtpm.ts';

/** swtpm-localca's issuer and root, as an operator passes them with --ek-ca. */
export function localCAFiles(sw: Swtpm): string[] {
  return [join(sw.caDir, 'issuercert.pem'), join(sw.caDir, 'swtpm-localca-rootca-cert.pem')];
}

/** A deep copy of a request (Buffers copied, so edits never leak into the original). */
export function copyRequest(q: EnrolRequest): EnrolRequest {
  return {
    ekCerts: q.ekCerts.map((c) => Buffer.from(c)), ekPublic: Buffer.from(q.ekPublic), akPublic: Buffer.from(q.akPublic), akName: Buffer.from(q.akName),
    deviceKeyPublic: Buffer.from(q.deviceKeyPublic),
    deviceKeyCertify: { attest: Buffer.from(q.deviceKeyCertify.attest), signature: Buffer.from(q.deviceKeyCertify.signature) },
    facts: { ...q.facts },
  };
}

/** A public area edited and re-marshalled. */
export function editPublic(bytes: Buffer, edit: (p: TPMTPublic) => void): Buffer {
  const p = unmarshal(TPMTPublic, bytes);
  edit(p);
  return marshal(TPMTPublic, p);
}

export const nameOf = (pub: Uint8Array): Buffer => Buffer.from(objectName(pub));

/**
 * An "AK" that is a software key: its public area claims every AK attribute (they are just bits),
 * and it signs the TPM's real certification of the device key as if it had made it.
 */
export function softwareAK(realAttest: Buffer): { akPublic: Buffer; akName: Buffer; signature: Buffer; privateKey: KeyObject } {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const k = fromKeyObject(kp.publicKey);
  if (k.type !== 'ecc') throw new Error('not an EC key');
  const t = akTemplate();
  (t.unique as TPMSECCPoint) = { x: k.x, y: k.y };
  const akPublic = marshal(TPMTPublic, t);
  const rs = sign('sha256', realAttest, { key: kp.privateKey, dsaEncoding: 'ieee-p1363' });
  const signature = marshal(TPMTSignature, { sigAlg: TPM_ALG.ECDSA, signature: { hash: TPM_ALG.SHA256, signatureR: rs.subarray(0, 32), signatureS: rs.subarray(32) } });
  return { akPublic, akName: nameOf(akPublic), signature, privateKey: kp.privateKey };
}
