// Key templates (TPMT_PUBLIC) for the keys tollgate provisions, and the checks that decide whether
// an object found in the TPM is "ours" (made from one of these templates) or foreign.
//
// EK templates: TCG EK Credential Profile for TPM Family 2.0 (v2.5), Annex B, low range:
//   L-1 RSA-2048 and L-2 ECC NIST P-256 — restricted decrypt, fixedTPM|fixedParent|
//   sensitiveDataOrigin|adminWithPolicy (userWithAuth CLEAR: the EK is used only through its
//   policy), authPolicy = PolicyA = PolicySecret(TPM_RH_ENDORSEMENT), AES-128-CFB, scheme NULL,
//   unique = zeros of the key size (256 bytes / 32+32 bytes) — those exact values make the EK the
//   one the manufacturer certified.
// SRK: TCG TPM v2.0 Provisioning Guidance §7.5.1: the EK template with userWithAuth SET,
//   adminWithPolicy CLEAR, noDA SET and an empty authPolicy (ECC P-256 here).
// AK and device key: children of the SRK (TPM2_Create). ECC P-256 everywhere, because RSA key
//   generation takes minutes on discrete TPMs; noDA on every key we use with an empty password so
//   an unclean shutdown can never lock us out.
import { TPM_ALG, TPM_ECC, TPMA_OBJECT } from './constants.ts';
import { ekPolicyA, curveFromTpmId, toPem, objectName, TpmCryptoError, type PublicKeyBytes } from './crypto/index.ts';
import { marshal } from './marshal.ts';
import { TPMTPublic as TPMTPublicSchema, type TPMTPublic, type TPMSECCParms, type TPMSRSAParms, type TPMSECCPoint } from './types.ts';

const A = TPM_ALG;
const O = TPMA_OBJECT;

/** fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt = 0x000300b2. */
export const EK_ATTRIBUTES = O.fixedTPM | O.fixedParent | O.sensitiveDataOrigin | O.adminWithPolicy | O.restricted | O.decrypt;
/** fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|restricted|decrypt = 0x00030472. */
export const SRK_ATTRIBUTES = O.fixedTPM | O.fixedParent | O.sensitiveDataOrigin | O.userWithAuth | O.noDA | O.restricted | O.decrypt;
/** fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|restricted|sign = 0x00050472. */
export const AK_ATTRIBUTES = O.fixedTPM | O.fixedParent | O.sensitiveDataOrigin | O.userWithAuth | O.noDA | O.restricted | O.sign;
/** fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|sign = 0x00040472 (unrestricted: signs any digest). */
export const DEVICE_KEY_ATTRIBUTES = O.fixedTPM | O.fixedParent | O.sensitiveDataOrigin | O.userWithAuth | O.noDA | O.sign;

const AES128CFB = { algorithm: A.AES, keyBits: 128, mode: A.CFB };
const SYM_NULL = { algorithm: A.NULL, keyBits: null, mode: null };
const SCHEME_NULL = { scheme: A.NULL, details: null };
const KDF_NULL = { scheme: A.NULL, details: null };
const ECDSA_SHA256 = { scheme: A.ECDSA, details: { hashAlg: A.SHA256 } };

function zeros(n: number): Uint8Array {
  return new Uint8Array(n);
}

function eccPoint(size: number): TPMSECCPoint {
  return { x: zeros(size), y: zeros(size) };
}

/** TCG EK Credential Profile template L-1: RSA-2048 EK. */
export function ekRSATemplate(): TPMTPublic {
  const parameters: TPMSRSAParms = { symmetric: { ...AES128CFB }, scheme: { ...SCHEME_NULL }, keyBits: 2048, exponent: 0 };
  return { type: A.RSA, nameAlg: A.SHA256, objectAttributes: EK_ATTRIBUTES, authPolicy: ekPolicyA('sha256'), parameters, unique: zeros(256) };
}

/** TCG EK Credential Profile template L-2: ECC NIST P-256 EK. */
export function ekECCTemplate(): TPMTPublic {
  const parameters: TPMSECCParms = { symmetric: { ...AES128CFB }, scheme: { ...SCHEME_NULL }, curveID: TPM_ECC.NIST_P256, kdf: { ...KDF_NULL } };
  return { type: A.ECC, nameAlg: A.SHA256, objectAttributes: EK_ATTRIBUTES, authPolicy: ekPolicyA('sha256'), parameters, unique: eccPoint(32) };
}

/** SRK, ECC P-256 (TCG Provisioning Guidance): restricted decrypt storage key, AES-128-CFB, noDA. */
export function srkTemplate(): TPMTPublic {
  const parameters: TPMSECCParms = { symmetric: { ...AES128CFB }, scheme: { ...SCHEME_NULL }, curveID: TPM_ECC.NIST_P256, kdf: { ...KDF_NULL } };
  return { type: A.ECC, nameAlg: A.SHA256, objectAttributes: SRK_ATTRIBUTES, authPolicy: new Uint8Array(0), parameters, unique: eccPoint(32) };
}

/** AK: restricted ECC P-256 signing key, ECDSA-SHA256, noDA. Created under the SRK. */
export function akTemplate(): TPMTPublic {
  const parameters: TPMSECCParms = { symmetric: { ...SYM_NULL }, scheme: { ...ECDSA_SHA256, details: { hashAlg: A.SHA256 } }, curveID: TPM_ECC.NIST_P256, kdf: { ...KDF_NULL } };
  return { type: A.ECC, nameAlg: A.SHA256, objectAttributes: AK_ATTRIBUTES, authPolicy: new Uint8Array(0), parameters, unique: eccPoint(0) };
}

/**
 * Device key: unrestricted ECC P-256 signing key, noDA, fixedTPM. The scheme is ECDSA-SHA256 by
 * default; `nullScheme` leaves it to each TPM2_Sign call.
 */
export function deviceKeyTemplate(opts: { nullScheme?: boolean } = {}): TPMTPublic {
  const scheme = opts.nullScheme ? { ...SCHEME_NULL } : { scheme: A.ECDSA, details: { hashAlg: A.SHA256 } };
  const parameters: TPMSECCParms = { symmetric: { ...SYM_NULL }, scheme, curveID: TPM_ECC.NIST_P256, kdf: { ...KDF_NULL } };
  return { type: A.ECC, nameAlg: A.SHA256, objectAttributes: DEVICE_KEY_ATTRIBUTES, authPolicy: new Uint8Array(0), parameters, unique: eccPoint(0) };
}

// ------------------------------------------------------------------------------------------------
// Matching a public area found in the TPM against a template

export type KeyRole = 'ek-rsa' | 'ek-ecc' | 'srk' | 'ak' | 'device';

export const KEY_ROLE_NAMES: Readonly<Record<KeyRole, string>> = {
  'ek-rsa': 'EK (RSA-2048)', 'ek-ecc': 'EK (ECC P-256)', srk: 'SRK (ECC P-256)', ak: 'AK (ECC P-256, restricted signing)', device: 'device key (ECC P-256, signing)',
};

export function templateFor(role: KeyRole): TPMTPublic {
  switch (role) {
    case 'ek-rsa': return ekRSATemplate();
    case 'ek-ecc': return ekECCTemplate();
    case 'srk': return srkTemplate();
    case 'ak': return akTemplate();
    case 'device': return deviceKeyTemplate();
  }
}

function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Structural equality of plain decoded values (numbers, bigints, byte arrays, objects, null). */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) return a instanceof Uint8Array && b instanceof Uint8Array && eqBytes(a, b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Why `pub` was not made from the role's template (undefined when it was). Everything but `unique`
 * (the key itself) must be equal, and `unique` must be a key of the template's size. The device
 * key accepts either the ECDSA-SHA256 or the NULL scheme.
 */
export function templateMismatch(role: KeyRole, pub: TPMTPublic): string | undefined {
  const t = templateFor(role);
  if (pub.type !== t.type) return `type is 0x${pub.type.toString(16)}, expected 0x${t.type.toString(16)}`;
  if (pub.nameAlg !== t.nameAlg) return `nameAlg is 0x${pub.nameAlg.toString(16)}, expected SHA256`;
  if (pub.objectAttributes !== t.objectAttributes) return `attributes are 0x${pub.objectAttributes.toString(16).padStart(8, '0')}, expected 0x${t.objectAttributes.toString(16).padStart(8, '0')}`;
  if (!eqBytes(pub.authPolicy, t.authPolicy)) return 'authPolicy differs';
  let params = t.parameters;
  if (role === 'device' && deepEqual(pub.parameters, deviceKeyTemplate({ nullScheme: true }).parameters)) params = pub.parameters;
  if (!deepEqual(pub.parameters, params)) return 'key parameters (symmetric, scheme, key size or curve) differ';
  if (t.type === A.ECC) {
    const u = pub.unique as TPMSECCPoint;
    if (!(u && u.x instanceof Uint8Array && u.y instanceof Uint8Array) || u.x.length !== 32 || u.y.length !== 32) return 'public point is not a P-256 point';
  } else if (!(pub.unique instanceof Uint8Array) || pub.unique.length !== 256) {
    return 'modulus is not 2048 bits';
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// Public keys out of public areas

/** The RSA or ECC public key of a TPMT_PUBLIC (for verification in software and PEM export). */
export function publicKeyOf(pub: TPMTPublic): PublicKeyBytes {
  if (pub.type === A.RSA) {
    const p = pub.parameters as TPMSRSAParms;
    return { type: 'rsa', n: new Uint8Array(pub.unique as Uint8Array), e: p.exponent };
  }
  if (pub.type === A.ECC) {
    const p = pub.parameters as TPMSECCParms;
    const curve = curveFromTpmId(p.curveID);
    if (!curve) throw new TpmCryptoError('TPM_CRYPTO_UNSUPPORTED_ALG', `ECC curve 0x${p.curveID.toString(16)} is not supported; use P-256 or P-384.`);
    const u = pub.unique as TPMSECCPoint;
    return { type: 'ecc', curve, x: new Uint8Array(u.x), y: new Uint8Array(u.y) };
  }
  throw new TpmCryptoError('TPM_CRYPTO_UNSUPPORTED_ALG', `Object type 0x${pub.type.toString(16)} has no public key; expected an RSA or ECC key.`);
}

/** SPKI PEM of a TPM key's public area. */
export function publicPem(pub: TPMTPublic): string {
  return toPem(publicKeyOf(pub));
}

/** The object's Name (nameAlg ‖ H(TPMT_PUBLIC)), computed in software. */
export function publicName(pub: TPMTPublic): Uint8Array {
  return objectName(marshal(TPMTPublicSchema, pub));
}
