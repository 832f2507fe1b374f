// Session arithmetic of TPM 2.0 Library Part 1 §19.6 (HMAC sessions) and §19.7 (policy sessions).
// Everything is plain bytes in, bytes out; the command layer decides which values go in.
import { timingSafeEqual } from 'node:crypto';
import { concat, u32 } from './bytes.ts';
import { KDFa } from './kdf.ts';
import { digestSize, hash, hmac, type HashAlg } from './hash.ts';
import { invalidArgument, TpmCryptoError } from './errors.ts';

/** TPMA_SESSION bits (Part 2 §8.4). */
export const TPMA_SESSION = {
  continueSession: 0x01,
  auditExclusive: 0x02,
  auditReset: 0x04,
  decrypt: 0x20,
  encrypt: 0x40,
  audit: 0x80,
} as const;

/** The TPM stores every authValue without trailing zero octets and uses it that way in HMACs. */
export function stripTrailingZeros(b: Uint8Array): Uint8Array {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.slice(0, n);
}

/**
 * sessionKey = KDFa(authHash, bindAuthValue ‖ salt, "ATH", nonceTPM, nonceCaller, digestBits)
 * (§19.6.8). An unbound, unsalted session has an empty sessionKey.
 */
export function sessionKey(hashAlg: HashAlg, bindAuthValue: Uint8Array, salt: Uint8Array, nonceTPM: Uint8Array, nonceCaller: Uint8Array): Uint8Array {
  const k = concat(stripTrailingZeros(bindAuthValue), salt);
  if (k.length === 0) return new Uint8Array(0);
  return KDFa(hashAlg, k, 'ATH', nonceTPM, nonceCaller, digestSize(hashAlg) * 8);
}

function checkCode(cc: number, what: string): void {
  if (!Number.isInteger(cc) || cc < 0 || cc > 0xffffffff) throw invalidArgument(`${what} ${cc} is not a 32-bit value.`);
}

/**
 * cpHash = H(commandCode ‖ name(handle1) ‖ … ‖ cpBuffer). cpBuffer is the parameter area exactly as
 * sent — with the first parameter already encrypted when a session has `decrypt` set (the TPM
 * hashes before it decrypts; checked against swtpm with NV_Write).
 */
export function cpHash(hashAlg: HashAlg, commandCode: number, names: readonly Uint8Array[], cpBuffer: Uint8Array): Uint8Array {
  checkCode(commandCode, 'Command code');
  return hash(hashAlg, u32(commandCode), ...names, cpBuffer);
}

/**
 * rpHash = H(responseCode ‖ commandCode ‖ rpBuffer); rpBuffer is the response parameter area as
 * received (first parameter still encrypted under `encrypt`). responseCode is TPM_RC_SUCCESS (0)
 * for any response that carries sessions.
 */
export function rpHash(hashAlg: HashAlg, commandCode: number, rpBuffer: Uint8Array, responseCode = 0): Uint8Array {
  checkCode(commandCode, 'Command code');
  checkCode(responseCode, 'Response code');
  return hash(hashAlg, u32(responseCode), u32(commandCode), rpBuffer);
}

export interface HmacKeyInput {
  sessionKey: Uint8Array;
  /** authValue of the entity this session authorizes (omit when it authorizes none). */
  authValue?: Uint8Array;
  sessionType: 'hmac' | 'policy';
  /** HMAC session: the session is bound and the authorized entity is its bind entity (authValue already in sessionKey). */
  boundToEntity?: boolean;
  /** Policy session: TPM2_PolicyAuthValue was part of the policy (isAuthValueNeeded). */
  policyAuthValue?: boolean;
}

/**
 * HMAC key = sessionKey ‖ authValue, where authValue is left out for a policy session without
 * PolicyAuthValue and for an HMAC session authorizing its own bind entity (§19.6.9, §19.7.x).
 * (A policy session after PolicyPassword carries the plain authValue instead of an HMAC; that is
 * the command layer's business, not a key.)
 */
export function sessionHmacKey(i: HmacKeyInput): Uint8Array {
  const include = i.authValue !== undefined &&
    (i.sessionType === 'policy' ? i.policyAuthValue === true : i.boundToEntity !== true);
  return include ? concat(i.sessionKey, stripTrailingZeros(i.authValue!)) : i.sessionKey;
}

/**
 * Command HMAC = HMAC(key, cpHash ‖ nonceCaller ‖ nonceTPM ‖ [nonceTPMdecrypt] ‖ [nonceTPMencrypt] ‖ sessionAttributes).
 * The two extra nonces go only into the first authorization session's HMAC, and only when the
 * decrypt / encrypt session is a different session (§19.6.5).
 */
export function commandHmac(hashAlg: HashAlg, key: Uint8Array, cpHashValue: Uint8Array, nonceCaller: Uint8Array, nonceTPM: Uint8Array,
  sessionAttributes: number, nonceTPMDecrypt?: Uint8Array, nonceTPMEncrypt?: Uint8Array): Uint8Array {
  return hmac(hashAlg, key, cpHashValue, nonceCaller, nonceTPM, nonceTPMDecrypt ?? new Uint8Array(0), nonceTPMEncrypt ?? new Uint8Array(0), attrByte(sessionAttributes));
}

/** Response HMAC = HMAC(key, rpHash ‖ nonceTPM ‖ nonceCaller ‖ sessionAttributes), nonceTPM being the new one from the response. */
export function responseHmac(hashAlg: HashAlg, key: Uint8Array, rpHashValue: Uint8Array, nonceTPM: Uint8Array, nonceCaller: Uint8Array, sessionAttributes: number): Uint8Array {
  return hmac(hashAlg, key, rpHashValue, nonceTPM, nonceCaller, attrByte(sessionAttributes));
}

/** Constant-time check of a response HMAC; a mismatch is a typed INTEGRITY error. */
export function checkResponseHmac(expected: Uint8Array, received: Uint8Array): void {
  const ok = expected.length === received.length && timingSafeEqual(expected, received);
  if (!ok) {
    throw new TpmCryptoError('TPM_CRYPTO_INTEGRITY',
      'The TPM response failed its HMAC check: it was altered between the TPM and tollgate, or the session is out of step. Retry; if it persists, suspect the TPM connection.');
  }
}

function attrByte(a: number): Uint8Array {
  if (!Number.isInteger(a) || a < 0 || a > 0xff) throw invalidArgument(`Session attributes ${a} do not fit in one byte.`);
  return new Uint8Array([a]);
}
