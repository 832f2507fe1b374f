// The verifier's checks of an enrolment request, before it answers with MakeCredential. What they
// establish (the credential activation then proves the rest: that the AK lives in the TPM whose EK
// this is):
//  - ekPublic is a TCG low-range EK (template L-1 RSA-2048 or L-2 ECC P-256, exactly: the same TPM
//    cannot enrol under two identities by varying template fields the key does not depend on);
//  - one of ekCerts certifies exactly that key, and chains to the EK root store (vendor CAs plus
//    operator CAs) through the other CA certificates sent along (the EK chain NV indexes);
//  - the AK is a restricted signing key bound to its TPM (restricted|sign|fixedTPM|fixedParent|
//    sensitiveDataOrigin, optionally userWithAuth and noDA, nothing else: no decrypt), and akName
//    is its Name recomputed from akPublic — the Name is what the credential is bound to;
//  - the device key is an unrestricted signing key bound to the TPM (fixedTPM|fixedParent|
//    sensitiveDataOrigin|sign, optionally userWithAuth and noDA; never restricted or decrypt), and
//    the AK certified it (TPM2_Certify, over the Name recomputed from deviceKeyPublic).
import {
  EKChainError, ProvisionError, TPM_ALG, TPMA_OBJECT, TPMTPublic, X509Error, TpmCryptoError, ekCertMatches, fromKeyObject,
  isTollgateError, marshal, objectName, parseCertificate, publicKeyOf, templateMismatch, unmarshal, verifyCertification, verifyEKChain,
  MAX_INTERMEDIATES, type EKChainResult, type EKRootStore, type PublicKeyBytes, type X509Cert,
} from '../../hardware/index.ts';
import { ueidFromEKPublic } from '../eat/index.ts';
import { EnrolError, type EnrolErrorCode } from './errors.ts';
import type { EnrolRequest } from './wire.ts';

const O = TPMA_OBJECT;

/** Attributes an AK must have (and userWithAuth/noDA it may have; nothing else). */
export const AK_REQUIRED = O.fixedTPM | O.fixedParent | O.sensitiveDataOrigin | O.restricted | O.sign;
/** Attributes a device key must have (and userWithAuth/noDA it may have; nothing else). */
export const DEVICE_KEY_REQUIRED = O.fixedTPM | O.fixedParent | O.sensitiveDataOrigin | O.sign;
const OPTIONAL = O.userWithAuth | O.noDA;

const ATTRIBUTE_NAMES: Array<[number, string]> = Object.entries(O).map(([k, v]) => [v, k]);

function attributeList(bits: number): string {
  const names = ATTRIBUTE_NAMES.filter(([v]) => bits & v).map(([, k]) => k);
  const unknown = bits & ~ATTRIBUTE_NAMES.reduce((a, [v]) => a | v, 0);
  return [...names, ...(unknown ? [`0x${(unknown >>> 0).toString(16)}`] : [])].join('|') || 'none';
}

export interface CheckOptions {
  /** The EK root store (builtinEKRootStore(), plus operator CAs: loadEKRootStore(dir, caFiles)). */
  roots: EKRootStore;
  /** The time the EK chain is checked at (default now). */
  now?: Date;
}

export interface CheckedEnrolRequest {
  request: EnrolRequest;
  /** Which EK template ekPublic follows. */
  ekType: 'rsa' | 'ecc';
  ek: TPMTPublic;
  ak: TPMTPublic;
  deviceKey: TPMTPublic;
  deviceKeyName: Buffer;
  /** The EK certificate that certifies ekPublic (first), then the other EK certificates that also chain. */
  ekCertificates: X509Cert[];
  chain: EKChainResult;
  ueid: Uint8Array;
  /** Hex of the 32 bytes after the UEID type byte. */
  deviceId: string;
  /** Tolerated oddities for the operator (expired CAs, unknown critical extensions, EK certificates left out). */
  warnings: string[];
}

function fail(code: EnrolErrorCode, message: string, cause?: unknown, details?: Record<string, unknown>): never {
  throw new EnrolError(code, message, { ...(cause ? { cause } : {}), ...(details ? { details } : {}) });
}

/** A TPMT_PUBLIC that parses and marshals back to exactly the same bytes (no second encoding of one key). */
function publicArea(bytes: Buffer, what: string, code: EnrolErrorCode): TPMTPublic {
  let pub: TPMTPublic;
  let again: Buffer;
  try {
    pub = unmarshal(TPMTPublic, bytes);
    again = marshal(TPMTPublic, pub);
  } catch (e) {
    if (isTollgateError(e)) fail(code, `The ${what} is not a TPMT_PUBLIC: ${e.message}`, e);
    throw e;
  }
  if (!again.equals(bytes)) fail(code, `The ${what} is not canonically encoded.`);
  return pub;
}

function keyOf(pub: TPMTPublic, what: string, code: EnrolErrorCode): PublicKeyBytes {
  if (pub.type !== TPM_ALG.RSA && pub.type !== TPM_ALG.ECC) fail(code, `The ${what} is of type 0x${pub.type.toString(16)}; it must be an RSA or ECC key.`);
  try {
    return publicKeyOf(pub);
  } catch (e) {
    if (e instanceof TpmCryptoError) fail(code, `The ${what} is not a usable key: ${e.message}`, e);
    throw e;
  }
}

function nameOf(bytes: Buffer, pub: TPMTPublic, what: string, code: EnrolErrorCode): Buffer {
  if (pub.nameAlg !== TPM_ALG.SHA256 && pub.nameAlg !== TPM_ALG.SHA384 && pub.nameAlg !== TPM_ALG.SHA512) {
    fail(code, `The ${what} has nameAlg 0x${pub.nameAlg.toString(16)}; its Name must use SHA-256, SHA-384 or SHA-512.`);
  }
  return Buffer.from(objectName(bytes));
}

function checkAttributes(pub: TPMTPublic, required: number, forbiddenNote: string, what: string, code: EnrolErrorCode): void {
  const a = pub.objectAttributes >>> 0;
  const missing = required & ~a;
  const extra = a & ~(required | OPTIONAL);
  if (missing || extra) {
    fail(code, `The ${what} has attributes ${attributeList(a)}: ${[
      missing ? `it lacks ${attributeList(missing)}` : '', extra ? `it must not have ${attributeList(extra)}` : '',
    ].filter(Boolean).join(' and ')} (${forbiddenNote}).`, undefined, { attributes: `0x${a.toString(16).padStart(8, '0')}` });
  }
}

function certKey(c: X509Cert): PublicKeyBytes | undefined {
  try {
    return c.publicKey.keyObject ? fromKeyObject(c.publicKey.keyObject) : undefined;
  } catch (e) {
    if (e instanceof TpmCryptoError) return undefined; // a key TPM crypto does not model: it certifies no EK of ours
    throw e;
  }
}

function chainError(e: unknown, what: string): never {
  if (e instanceof EKChainError) fail('ENROL_EK_CHAIN_INVALID', `The ${what} is not trusted: ${e.message}`, e, { reason: e.code, ...e.details });
  throw e;
}

/** The EK public area: a TCG low-range EK template, exactly. */
export function checkEKPublic(bytes: Buffer): { ek: TPMTPublic; ekType: 'rsa' | 'ecc' } {
  const ek = publicArea(bytes, 'EK public area', 'ENROL_EK_PUBLIC_INVALID');
  const ekType = templateMismatch('ek-rsa', ek) === undefined ? 'rsa' : templateMismatch('ek-ecc', ek) === undefined ? 'ecc' : undefined;
  if (!ekType) {
    fail('ENROL_EK_PUBLIC_INVALID', `The EK public area is not a TCG low-range EK (template L-1 RSA-2048 or L-2 ECC P-256): ${ek.type === TPM_ALG.ECC ? templateMismatch('ek-ecc', ek) : templateMismatch('ek-rsa', ek)}.`);
  }
  return { ek, ekType };
}

/** The AK public area (attributes, key) and its Name, which must equal `claimedName`. */
export function checkAKPublic(bytes: Buffer, claimedName: Uint8Array): { ak: TPMTPublic; akKey: PublicKeyBytes; akName: Buffer } {
  const ak = publicArea(bytes, 'AK public area', 'ENROL_AK_INVALID');
  checkAttributes(ak, AK_REQUIRED, 'an AK is a restricted signing key that cannot leave its TPM and never decrypts', 'AK', 'ENROL_AK_INVALID');
  const akKey = keyOf(ak, 'AK', 'ENROL_AK_INVALID');
  const akName = nameOf(bytes, ak, 'AK', 'ENROL_AK_INVALID');
  if (!akName.equals(Buffer.from(claimedName))) {
    fail('ENROL_AK_NAME_MISMATCH', `The AK Name sent (${Buffer.from(claimedName).toString('hex')}) is not the Name of the AK public area sent (${akName.toString('hex')}); the credential would be bound to another key.`);
  }
  return { ak, akKey, akName };
}

/** The device key public area (attributes, key) and its Name. */
export function checkDeviceKeyPublic(bytes: Buffer): { deviceKey: TPMTPublic; deviceKeyName: Buffer } {
  const deviceKey = publicArea(bytes, 'device key public area', 'ENROL_DEVICE_KEY_INVALID');
  checkAttributes(deviceKey, DEVICE_KEY_REQUIRED, 'the device key signs evidence with any digest, so it is unrestricted, never decrypts, and cannot leave its TPM', 'device key', 'ENROL_DEVICE_KEY_INVALID');
  keyOf(deviceKey, 'device key', 'ENROL_DEVICE_KEY_INVALID');
  return { deviceKey, deviceKeyName: nameOf(bytes, deviceKey, 'device key', 'ENROL_DEVICE_KEY_INVALID') };
}

/** The AK's TPM2_Certify of the device key (signature, type, certified Name). */
export function checkDeviceKeyCertification(akKey: PublicKeyBytes, certify: { attest: Uint8Array; signature: Uint8Array }, deviceKeyName: Uint8Array): void {
  try {
    verifyCertification({ ak: akKey, attest: certify.attest, signature: certify.signature, objectName: deviceKeyName });
  } catch (e) {
    if (e instanceof ProvisionError) fail('ENROL_DEVICE_KEY_CERTIFY_INVALID', `The AK's certification of the device key does not hold: ${e.message}`, e, { reason: e.code });
    throw e;
  }
}

/** Parses the certificates of a request or record; `field` names them in errors. */
export function parseCertificatesOf(ders: readonly Buffer[], field: string, code: EnrolErrorCode): X509Cert[] {
  return ders.map((der, i) => {
    try {
      return parseCertificate(der, { trailing: 'none' });
    } catch (e) {
      if (e instanceof X509Error) fail(code, `${field}[${i}] is not an X.509 certificate: ${e.message}`, e, { field: `${field}[${i}]` });
      throw e;
    }
  });
}

/** True when the certificate certifies exactly the EK public area `ek`. */
export function certifiesEK(c: X509Cert, ek: TPMTPublic): boolean {
  const k = certKey(c);
  return k !== undefined && ekCertMatches({ publicKey: k }, ek);
}

/**
 * Runs every check above on a parsed request. Returns what the challenge and the record need;
 * throws EnrolError naming the first check that failed. The cheap checks of the TPM structures
 * come first, the signature checks of the certification and the EK chain last.
 */
export function checkEnrolRequest(request: EnrolRequest, opts: CheckOptions): CheckedEnrolRequest {
  const now = opts.now ?? new Date();
  const warnings: string[] = [];
  const { ek, ekType } = checkEKPublic(request.ekPublic);
  const { ak, akKey } = checkAKPublic(request.akPublic, request.akName);
  const { deviceKey, deviceKeyName } = checkDeviceKeyPublic(request.deviceKeyPublic);
  checkDeviceKeyCertification(akKey, request.deviceKeyCertify, deviceKeyName);

  // The EK certificate for ekPublic, and its chain through the CA certificates sent along.
  const certs = parseCertificatesOf(request.ekCerts, 'The enrolment request is not valid: request.ekCerts', 'ENROL_REQUEST_INVALID');
  const leaves = certs.filter((c) => certifiesEK(c, ek));
  const others = certs.filter((c) => !leaves.includes(c));
  const intermediates = others.filter((c) => c.basicConstraints?.cA === true);
  const otherLeaves = others.filter((c) => c.basicConstraints?.cA !== true);
  if (leaves.length === 0) {
    fail('ENROL_EK_CERT_MISSING', `None of the ${certs.length} certificate(s) sent certifies the EK public key sent (${ekType.toUpperCase()} EK); the EK is not one a TPM vendor vouches for.`);
  }
  if (intermediates.length > MAX_INTERMEDIATES) {
    fail('ENROL_REQUEST_INVALID', `The enrolment request is not valid: it carries ${intermediates.length} CA certificates; at most ${MAX_INTERMEDIATES} are considered.`, undefined, { field: 'request.ekCerts' });
  }
  let chain: EKChainResult | undefined;
  let leaf: X509Cert | undefined;
  let firstError: unknown;
  for (const l of leaves) {
    try {
      chain = verifyEKChain(l, intermediates, opts.roots, { at: now });
      leaf = l;
      break;
    } catch (e) {
      firstError ??= e;
    }
  }
  if (!chain || !leaf) chainError(firstError, 'EK certificate');
  for (const x of chain.expired) warnings.push(`${x.subject || 'a certificate'} on the EK chain expired at ${x.notAfter} (EK chains are not refused for that)`);
  warnings.push(...chain.warnings);

  // Other EK certificates (other key types and ranges) are recorded only when they chain too.
  const recorded = [leaf];
  for (const c of otherLeaves) {
    try {
      verifyEKChain(c, intermediates, opts.roots, { at: now });
      recorded.push(c);
    } catch (e) {
      if (!(e instanceof EKChainError)) throw e;
      warnings.push(`an EK certificate for another key (serial ${c.serialHex}) was left out of the record: ${e.message}`);
    }
  }

  const ueid = ueidFromEKPublic(request.ekPublic);
  return {
    request, ekType, ek, ak, deviceKey, deviceKeyName, ekCertificates: recorded, chain, ueid,
    deviceId: Buffer.from(ueid.subarray(1)).toString('hex'), warnings,
  };
}
