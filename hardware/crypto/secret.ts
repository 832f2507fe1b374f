// Sharing a secret with a TPM key (Part 1 §11.4.11 / Annex B.10 & C.6, the "seed" of
// MakeCredential and the salt of StartAuthSession). The label is the purpose string
// ("IDENTITY", "SECRET", "DUPLICATE"), used as a C string (with its NUL).
//   RSA: seed random of nameAlg size; encryptedSecret = RSA-OAEP(nameAlg, label) of the seed.
//   ECC: ephemeral ECDH on the key's curve, Z = x of the shared point;
//        seed = KDFe(nameAlg, Z, label, ephemeral.x, key.x, digestBits);
//        encryptedSecret = TPMS_ECC_POINT (u16 ‖ x ‖ u16 ‖ y) of the ephemeral public key.
import { constants, createECDH, diffieHellman, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { ByteReader, concat, own, tpm2b } from './bytes.ts';
import { checkPoint, curveParams, type EccCurve } from './ecc.ts';
import { digestSize } from './hash.ts';
import { KDFe } from './kdf.ts';
import { rsaModulus, toKeyObject, type TpmPublicKey } from './pubkey.ts';
import { TpmCryptoError, invalidArgument, malformed } from './errors.ts';

/** Largest TPM2B_ENCRYPTED_SECRET body we accept (RSA-4096 ciphertext; ECC points are smaller). */
export const MAX_ENCRYPTED_SECRET = 512;

export interface SharedSecret {
  /** The secret both sides now hold (the MakeCredential seed or the session salt). */
  seed: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET body (without its u16 size). */
  encryptedSecret: Uint8Array;
}

function cLabel(label: string): Uint8Array {
  if (label.length === 0 || label.includes('\0')) throw invalidArgument('A secret-sharing label must be a non-empty string without NUL.');
  return concat(new TextEncoder().encode(label), new Uint8Array([0]));
}

export interface ShareSecretOptions {
  /** ECC only: use this ephemeral private scalar instead of a fresh one. For known-answer tests; never reuse one. */
  ephemeralPrivateKey?: Uint8Array;
}

export function shareSecretWith(key: TpmPublicKey, label: string, opts: ShareSecretOptions = {}): SharedSecret {
  const L = cLabel(label);
  if (key.type === 'rsa') {
    const h = key.oaepHashAlg ?? key.nameAlg;
    const seed = new Uint8Array(randomBytes(digestSize(h)));
    let ct: Buffer;
    try {
      ct = publicEncrypt({ key: toKeyObject(key), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: h, oaepLabel: L }, seed);
    } catch (e) {
      if (e instanceof TpmCryptoError) throw e;
      throw invalidArgument(`RSA-OAEP encryption to the TPM key failed: ${(e as Error).message}`);
    }
    return { seed, encryptedSecret: own(ct) };
  }
  if (key.type === 'ecc') {
    const c = curveParams(key.curve);
    const Q = checkPoint(key.curve, key.x, key.y);
    const eph = createECDH(c.nodeName);
    let pub: Buffer; // 04 ‖ x ‖ y, each padded to the field size
    if (opts.ephemeralPrivateKey) {
      try {
        eph.setPrivateKey(opts.ephemeralPrivateKey);
      } catch {
        throw invalidArgument(`The ephemeral private key is not valid for ${key.curve}.`);
      }
      pub = eph.getPublicKey();
    } else {
      pub = eph.generateKeys();
    }
    let z: Uint8Array;
    try {
      z = new Uint8Array(eph.computeSecret(Buffer.from(concat(new Uint8Array([4]), Q.x, Q.y))));
    } catch (e) {
      throw invalidArgument(`ECDH with the TPM key failed: ${(e as Error).message}`);
    }
    const ex = new Uint8Array(pub.subarray(1, 1 + c.bytes));
    const ey = new Uint8Array(pub.subarray(1 + c.bytes));
    const seed = KDFe(key.nameAlg, z, L, ex, Q.x, digestSize(key.nameAlg) * 8);
    return { seed, encryptedSecret: concat(tpm2b(ex), tpm2b(ey)) };
  }
  throw invalidArgument(`Unknown key type ${String((key as { type: unknown }).type)}.`);
}

/**
 * The TPM's side (CryptSecretDecrypt) in software, for keys whose private part we hold: used to
 * check what other tools produce and by tests. Malformed input is MALFORMED; an RSA ciphertext
 * that does not decrypt under this key and label is INTEGRITY.
 */
export function recoverSharedSecret(privateKey: KeyObject, key: TpmPublicKey, label: string, encryptedSecret: Uint8Array): Uint8Array {
  const L = cLabel(label);
  if (encryptedSecret.length > MAX_ENCRYPTED_SECRET) throw malformed(`Encrypted secret of ${encryptedSecret.length} bytes exceeds ${MAX_ENCRYPTED_SECRET}.`);
  if (key.type === 'rsa') {
    try {
      return own(privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: key.oaepHashAlg ?? key.nameAlg, oaepLabel: L }, encryptedSecret));
    } catch (e) {
      throw new TpmCryptoError('TPM_CRYPTO_INTEGRITY', 'The encrypted secret does not decrypt under this key and label.', { cause: e });
    }
  }
  const { x, y } = parseEccPointSecret(key.curve, encryptedSecret);
  const P = checkPoint(key.curve, x, y);
  const peer = toKeyObject({ type: 'ecc', curve: key.curve, x: P.x, y: P.y });
  const z = new Uint8Array(diffieHellman({ privateKey, publicKey: peer }));
  const Q = checkPoint(key.curve, key.x, key.y);
  // Like the TPM, use the ephemeral x exactly as it arrived in its TPM2B.
  return KDFe(key.nameAlg, z, L, x, Q.x, digestSize(key.nameAlg) * 8);
}

/**
 * The ephemeral point of an ECC encrypted secret (TPMS_ECC_POINT: u16 ‖ x ‖ u16 ‖ y), each
 * coordinate exactly as it arrived. A TPM2B_ECC_PARAMETER carries a big-endian integer of at most
 * the field size and need not keep leading zeros: tpm2-tools writes a P-256 coordinate that starts
 * with a zero byte as 31 bytes (about one file in 128), and the TPM accepts it. Empty or oversized
 * coordinates, trailing bytes and points off the curve are MALFORMED.
 */
export function parseEccPointSecret(curve: EccCurve, encryptedSecret: Uint8Array): { x: Uint8Array; y: Uint8Array } {
  const c = curveParams(curve);
  const rd = new ByteReader(encryptedSecret, 'TPMS_ECC_POINT');
  const x = rd.tpm2b('x', c.bytes);
  const y = rd.tpm2b('y', c.bytes);
  rd.end();
  if (x.length === 0 || y.length === 0) throw malformed('The ephemeral point in the encrypted secret has an empty coordinate.');
  try {
    checkPoint(curve, x, y);
  } catch (e) {
    throw malformed('The ephemeral point in the encrypted secret is not a valid point on the key\'s curve.', undefined, e);
  }
  return { x, y };
}

/**
 * Checks that an encrypted secret has the form `key` implies, without decrypting it: RSA, an OAEP
 * ciphertext as long as the modulus; ECC, a point on the key's curve (parseEccPointSecret).
 */
export function checkEncryptedSecret(key: TpmPublicKey, encryptedSecret: Uint8Array): void {
  if (key.type === 'rsa') {
    const k = rsaModulus(key.n).length;
    if (encryptedSecret.length !== k) throw malformed(`The encrypted secret is ${encryptedSecret.length} bytes; an RSA-OAEP ciphertext for this ${k * 8}-bit key is ${k}.`);
    return;
  }
  parseEccPointSecret(key.curve, encryptedSecret);
}

/** Salt for a salted session (label "SECRET"): salt to use in sessionKey, and encryptedSalt for TPM2_StartAuthSession. */
export function encryptSalt(tpmKey: TpmPublicKey): { salt: Uint8Array; encryptedSalt: Uint8Array } {
  const s = shareSecretWith(tpmKey, 'SECRET');
  return { salt: s.seed, encryptedSalt: s.encryptedSecret };
}
