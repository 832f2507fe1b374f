// Credential protection, TPM 2.0 Library Part 1 §24 — MakeCredential done by the verifier in
// software, and the TPM's ActivateCredential check in software for keys whose private part we hold.
//   seed       = shared with the EK under label "IDENTITY" (secret.ts)
//   symKey     = KDFa(nameAlg, seed, "STORAGE", name, "", symBits)
//   encIdentity= AES-CFB(symKey, IV = 0) of TPM2B(credential)
//   HMACkey    = KDFa(nameAlg, seed, "INTEGRITY", "", "", digestBits)
//   outerHMAC  = HMAC(nameAlg, HMACkey, encIdentity ‖ name)
//   credentialBlob (TPM2B_ID_OBJECT body) = TPM2B(outerHMAC) ‖ encIdentity
import { createCipheriv, createDecipheriv, timingSafeEqual, type KeyObject } from 'node:crypto';
import { ByteReader, concat, tpm2b } from './bytes.ts';
import { digestSize, hmac, type HashAlg } from './hash.ts';
import { KDFa } from './kdf.ts';
import { parseName } from './name.ts';
import { recoverSharedSecret, shareSecretWith } from './secret.ts';
import type { SymmetricDef, TpmPublicKey } from './pubkey.ts';
import { TpmCryptoError, invalidArgument, malformed } from './errors.ts';

/** sizeof(TPMS_ID_OBJECT) = two TPM2B_DIGESTs of at most 64 bytes: the bound on a TPM2B_ID_OBJECT body. */
export const MAX_ID_OBJECT = 2 * (2 + 64);

export interface MakeCredentialResult {
  /** TPM2B_ID_OBJECT body (without its u16 size), as TPM2_MakeCredential returns it. */
  credentialBlob: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET body (without its u16 size). */
  secret: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const ZERO_IV = new Uint8Array(16);

function checkSymmetric(sym: SymmetricDef | undefined): SymmetricDef {
  if (!sym || sym.alg !== 'aes' || (sym.bits !== 128 && sym.bits !== 192 && sym.bits !== 256)) {
    throw invalidArgument('The EK needs a symmetric definition of AES-128, -192 or -256 (CFB); take it from the EK template (low range: AES-128).');
  }
  return sym;
}

function checkObjectName(name: Uint8Array): void {
  if (name.length > 2 + 64) throw invalidArgument(`The object Name is ${name.length} bytes; Names are at most 66.`);
  if (!parseName(name)) throw invalidArgument('The credential must be bound to an object Name (nameAlg ‖ digest), not a handle.');
}

/** The symmetric half of MakeCredential, given the seed: deterministic, so both sides can be checked. */
export function wrapCredential(nameAlg: HashAlg, symmetric: SymmetricDef, seed: Uint8Array, objectName: Uint8Array, credential: Uint8Array): Uint8Array {
  const sym = checkSymmetric(symmetric);
  checkObjectName(objectName);
  if (credential.length === 0 || credential.length > digestSize(nameAlg)) {
    throw invalidArgument(`The credential must be 1..${digestSize(nameAlg)} bytes (the EK nameAlg's digest size); got ${credential.length}.`);
  }
  const symKey = KDFa(nameAlg, seed, 'STORAGE', objectName, EMPTY, sym.bits);
  const c = createCipheriv(`aes-${sym.bits}-cfb`, symKey, ZERO_IV);
  const encIdentity = new Uint8Array(concat(c.update(tpm2b(credential)), c.final()));
  const hmacKey = KDFa(nameAlg, seed, 'INTEGRITY', EMPTY, EMPTY, digestSize(nameAlg) * 8);
  const outer = hmac(nameAlg, hmacKey, encIdentity, objectName);
  return concat(tpm2b(outer), encIdentity);
}

/** Splits a TPM2B_ID_OBJECT body into its integrity HMAC and encrypted identity, checking bounds. */
export function parseIdObject(credentialBlob: Uint8Array, nameAlg?: HashAlg): { integrityHMAC: Uint8Array; encIdentity: Uint8Array } {
  if (credentialBlob.length > MAX_ID_OBJECT) throw malformed(`TPM2B_ID_OBJECT of ${credentialBlob.length} bytes exceeds its limit of ${MAX_ID_OBJECT}.`);
  const rd = new ByteReader(credentialBlob, 'TPM2B_ID_OBJECT');
  const integrityHMAC = rd.tpm2b('integrityHMAC', 64);
  if (![20, 32, 48, 64].includes(integrityHMAC.length)) throw malformed(`TPM2B_ID_OBJECT integrityHMAC of ${integrityHMAC.length} bytes is not a digest size.`);
  if (nameAlg && integrityHMAC.length !== digestSize(nameAlg)) throw malformed(`TPM2B_ID_OBJECT integrityHMAC is ${integrityHMAC.length} bytes; ${nameAlg} needs ${digestSize(nameAlg)}.`);
  const encIdentity = rd.bytes(rd.remaining, 'encIdentity');
  if (encIdentity.length < 3) throw malformed('TPM2B_ID_OBJECT has no encrypted identity.');
  return { integrityHMAC, encIdentity };
}

/**
 * The TPM's half (ActivateCredential after the seed is recovered): checks the outer HMAC against
 * the Name, then decrypts. A wrong Name, seed or altered blob is INTEGRITY.
 */
export function unwrapCredential(nameAlg: HashAlg, symmetric: SymmetricDef, seed: Uint8Array, objectName: Uint8Array, credentialBlob: Uint8Array): Uint8Array {
  const sym = checkSymmetric(symmetric);
  checkObjectName(objectName);
  const { integrityHMAC, encIdentity } = parseIdObject(credentialBlob, nameAlg);
  const hmacKey = KDFa(nameAlg, seed, 'INTEGRITY', EMPTY, EMPTY, digestSize(nameAlg) * 8);
  const expected = hmac(nameAlg, hmacKey, encIdentity, objectName);
  if (!timingSafeEqual(expected, integrityHMAC)) {
    throw new TpmCryptoError('TPM_CRYPTO_INTEGRITY', 'The credential blob fails its integrity check: it was made for another key or object, or altered.');
  }
  const symKey = KDFa(nameAlg, seed, 'STORAGE', objectName, EMPTY, sym.bits);
  const d = createDecipheriv(`aes-${sym.bits}-cfb`, symKey, ZERO_IV);
  const plain = new Uint8Array(concat(d.update(encIdentity), d.final()));
  const rd = new ByteReader(plain, 'encIdentity');
  const cred = rd.tpm2b('credential', digestSize(nameAlg));
  rd.end();
  return cred;
}

/** Software TPM2_MakeCredential: binds `credential` to the object `objectName` on the TPM owning `ek`. */
export function makeCredential(ek: TpmPublicKey, objectName: Uint8Array, credential: Uint8Array): MakeCredentialResult {
  const sym = checkSymmetric(ek.symmetric);
  checkObjectName(objectName);
  if (credential.length === 0 || credential.length > digestSize(ek.nameAlg)) {
    throw invalidArgument(`The credential must be 1..${digestSize(ek.nameAlg)} bytes (the EK nameAlg's digest size); got ${credential.length}.`);
  }
  const { seed, encryptedSecret } = shareSecretWith(ek, 'IDENTITY');
  return { credentialBlob: wrapCredential(ek.nameAlg, sym, seed, objectName, credential), secret: encryptedSecret };
}

/** Software TPM2_ActivateCredential for a key whose private part we hold (tests, and checking other tools' output). */
export function activateCredentialWithKey(ekPrivate: KeyObject, ek: TpmPublicKey, objectName: Uint8Array, credentialBlob: Uint8Array, secret: Uint8Array): Uint8Array {
  const sym = checkSymmetric(ek.symmetric);
  const seed = recoverSharedSecret(ekPrivate, ek, 'IDENTITY', secret);
  return unwrapCredential(ek.nameAlg, sym, seed, objectName, credentialBlob);
}
