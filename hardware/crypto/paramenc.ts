// Session-based parameter encryption, TPM 2.0 Library Part 1 §21. Only the data of the first
// TPM2B parameter (not its size) is transformed.
//   CFB: key ‖ IV = KDFa(sessionHash, keyMaterial, "CFB", nonceNewer, nonceOlder, keyBits + 128)
//   XOR: mask     = KDFa(sessionHash, keyMaterial, "XOR", nonceNewer, nonceOlder, len·8)
// For a command nonceNewer is nonceCaller; for a response it is nonceTPM.
// keyMaterial is sessionKey ‖ authValue of the entity the session authorizes, if any — unlike the
// HMAC key, it includes the authValue even when that entity is the bind entity (reference code,
// SessionProcess.c) — see parameterKeyMaterial().
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { concat } from './bytes.ts';
import { KDFa } from './kdf.ts';
import type { HashAlg } from './hash.ts';
import { invalidArgument } from './errors.ts';
import { stripTrailingZeros } from './session.ts';

export type ParamSymmetric = { alg: 'aes'; bits: 128 | 192 | 256 } | { alg: 'xor' };

export interface ParamSession {
  /** The session's authHash. */
  hashAlg: HashAlg;
  /** sessionKey ‖ authValue (see parameterKeyMaterial). */
  keyMaterial: Uint8Array;
  symmetric: ParamSymmetric;
  nonceCaller: Uint8Array;
  nonceTPM: Uint8Array;
}

/** sessionKey ‖ authValue (trailing zeros removed, as the TPM stores authValues). */
export function parameterKeyMaterial(sessionKey: Uint8Array, authValue?: Uint8Array): Uint8Array {
  return authValue ? concat(sessionKey, stripTrailingZeros(authValue)) : sessionKey;
}

function transform(s: ParamSession, data: Uint8Array, newer: Uint8Array, older: Uint8Array, encrypt: boolean): Uint8Array {
  if (data.length > 0xffff) throw invalidArgument(`A TPM2B parameter cannot hold ${data.length} bytes.`);
  if (s.symmetric.alg === 'xor') {
    if (data.length === 0) return new Uint8Array(0);
    const mask = KDFa(s.hashAlg, s.keyMaterial, 'XOR', newer, older, data.length * 8);
    const out = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ mask[i]!;
    return out;
  }
  const bits = s.symmetric.bits;
  if (s.symmetric.alg !== 'aes' || (bits !== 128 && bits !== 192 && bits !== 256)) {
    throw invalidArgument('Parameter encryption supports AES-128/192/256 in CFB mode, or XOR.');
  }
  const kiv = KDFa(s.hashAlg, s.keyMaterial, 'CFB', newer, older, bits + 128);
  const key = kiv.subarray(0, bits / 8);
  const iv = kiv.subarray(bits / 8);
  const name = `aes-${bits}-cfb`;
  const c = encrypt ? createCipheriv(name, key, iv) : createDecipheriv(name, key, iv);
  return new Uint8Array(concat(c.update(data), c.final()));
}

/** Caller side: encrypts the first command parameter (session attribute `decrypt`). */
export function encryptCommandParameter(s: ParamSession, plaintext: Uint8Array): Uint8Array {
  return transform(s, plaintext, s.nonceCaller, s.nonceTPM, true);
}

/** Caller side: decrypts the first response parameter (session attribute `encrypt`). */
export function decryptResponseParameter(s: ParamSession, ciphertext: Uint8Array): Uint8Array {
  return transform(s, ciphertext, s.nonceTPM, s.nonceCaller, false);
}

/** TPM side of encryptCommandParameter (for software peers and tests). */
export function decryptCommandParameter(s: ParamSession, ciphertext: Uint8Array): Uint8Array {
  return transform(s, ciphertext, s.nonceCaller, s.nonceTPM, false);
}

/** TPM side of decryptResponseParameter (for software peers and tests). */
export function encryptResponseParameter(s: ParamSession, plaintext: Uint8Array): Uint8Array {
  return transform(s, plaintext, s.nonceTPM, s.nonceCaller, true);
}
