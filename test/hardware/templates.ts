// Key templates used by the hardware tests (the product's EK/SRK/AK/device templates come later in
// hardware/). Every key is noDA so that killing swtpm mid-test cannot raise the lockout counter.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_ECC, TPMA_OBJECT as O, marshal, TPMTPublic, type TPMSECCPoint } from '../../hardware/index.ts';

const EMPTY = new Uint8Array(0);
const NULL_SYM = { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
const AES128CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };
const base = O.fixedTPM | O.fixedParent | O.sensitiveDataOrigin | O.userWithAuth | O.noDA;

/** ECC P-256 storage key (SRK-like): restricted decrypt, AES-128-CFB. */
export function eccStorage(): TPMTPublic {
  return {
    type: TPM_ALG.ECC, nameAlg: TPM_ALG.SHA256, objectAttributes: base | O.restricted | O.decrypt, authPolicy: EMPTY,
    parameters: { symmetric: AES128CFB, scheme: { scheme: TPM_ALG.NULL, details: null }, curveID: TPM_ECC.NIST_P256, kdf: { scheme: TPM_ALG.NULL, details: null } },
    unique: { x: EMPTY, y: EMPTY },
  };
}

/** ECC P-256 ECDSA-SHA256 signing key; restricted makes it an AK. */
export function eccSigning(restricted = false): TPMTPublic {
  return {
    type: TPM_ALG.ECC, nameAlg: TPM_ALG.SHA256, objectAttributes: base | O.sign | (restricted ? O.restricted : 0), authPolicy: EMPTY,
    parameters: { symmetric: NULL_SYM, scheme: { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } }, curveID: TPM_ECC.NIST_P256, kdf: { scheme: TPM_ALG.NULL, details: null } },
    unique: { x: EMPTY, y: EMPTY },
  };
}

/** RSA-2048 RSASSA-SHA256 signing key. */
export function rsaSigning(): TPMTPublic {
  return {
    type: TPM_ALG.RSA, nameAlg: TPM_ALG.SHA256, objectAttributes: base | O.sign, authPolicy: EMPTY,
    parameters: { symmetric: NULL_SYM, scheme: { scheme: TPM_ALG.RSASSA, details: { hashAlg: TPM_ALG.SHA256 } }, keyBits: 2048, exponent: 0 },
    unique: EMPTY,
  };
}

/** A sealed data object (keyedHash, data supplied by the caller). */
export function sealed(): TPMTPublic {
  return {
    type: TPM_ALG.KEYEDHASH, nameAlg: TPM_ALG.SHA256, objectAttributes: O.fixedTPM | O.fixedParent | O.userWithAuth | O.noDA, authPolicy: EMPTY,
    parameters: { scheme: { scheme: TPM_ALG.NULL, details: null } }, unique: EMPTY,
  };
}

/** Name = nameAlg ‖ H(TPMT_PUBLIC), computed in software from our own marshalling. */
export function softwareName(pub: TPMTPublic): Buffer {
  const alg = Buffer.alloc(2);
  alg.writeUInt16BE(pub.nameAlg, 0);
  return Buffer.concat([alg, createHash('sha256').update(marshal(TPMTPublic, pub)).digest()]);
}

export function nodeKey(pub: TPMTPublic): KeyObject {
  if (pub.type === TPM_ALG.ECC) {
    const u = pub.unique as TPMSECCPoint;
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: Buffer.from(u.x).toString('base64url'), y: Buffer.from(u.y).toString('base64url') }, format: 'jwk' });
  }
  const n = pub.unique as Uint8Array;
  return createPublicKey({ key: { kty: 'RSA', n: Buffer.from(n).toString('base64url'), e: Buffer.from([1, 0, 1]).toString('base64url') }, format: 'jwk' });
}
