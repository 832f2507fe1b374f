// TPM Names (Part 1 §16): an object's or NV index's Name is nameAlg ‖ H_nameAlg(public area);
// a permanent, session or PCR handle's Name is the handle itself.
import { ByteReader, concat, tpm2b, u16, u32 } from './bytes.ts';
import { digestSize, hash, hashAlgFromId, hashAlgId, type HashAlg } from './hash.ts';
import { TpmCryptoError, invalidArgument } from './errors.ts';

/** Largest marshalled TPMT_PUBLIC (TPM2B_PUBLIC's buffer bound in practice, RSA-16384 with policy). */
const MAX_PUBLIC = 4096;

/** Name of an object from its marshalled TPMT_PUBLIC (the bytes inside TPM2B_PUBLIC); nameAlg is read from them. */
export function objectName(tpmtPublic: Uint8Array): Uint8Array {
  if (tpmtPublic.length > MAX_PUBLIC) throw invalidArgument(`A TPMT_PUBLIC of ${tpmtPublic.length} bytes is larger than any TPM produces.`);
  const rd = new ByteReader(tpmtPublic, 'TPMT_PUBLIC');
  rd.u16('type');
  const algId = rd.u16('nameAlg');
  const alg = hashAlgFromId(algId);
  if (!alg) throw new TpmCryptoError('TPM_CRYPTO_UNSUPPORTED_ALG', `The object's nameAlg 0x${algId.toString(16).padStart(4, '0')} is not a supported hash.`);
  return concat(u16(algId), hash(alg, tpmtPublic));
}

/** Name of a handle that has no public area (hierarchies, PCRs, sessions): the handle, big-endian. */
export function handleName(handle: number): Uint8Array {
  return u32(handle);
}

export interface NvPublic {
  nvIndex: number;
  nameAlg: HashAlg;
  /** TPMA_NV bits. */
  attributes: number;
  authPolicy: Uint8Array;
  dataSize: number;
}

/** Marshalled TPMS_NV_PUBLIC. */
export function marshalNvPublic(nv: NvPublic): Uint8Array {
  return concat(u32(nv.nvIndex), u16(hashAlgId(nv.nameAlg)), u32(nv.attributes), tpm2b(nv.authPolicy), u16(nv.dataSize));
}

/** Name of an NV index: nameAlg ‖ H(TPMS_NV_PUBLIC). */
export function nvName(nv: NvPublic): Uint8Array {
  return concat(u16(hashAlgId(nv.nameAlg)), hash(nv.nameAlg, marshalNvPublic(nv)));
}

/** Splits a Name into (hashAlg, digest), checking the digest size; undefined for a handle-form Name. */
export function parseName(name: Uint8Array): { hashAlg: HashAlg; digest: Uint8Array } | undefined {
  if (name.length === 4) return undefined;
  if (name.length < 2) throw invalidArgument(`A Name of ${name.length} bytes is neither a handle nor nameAlg ‖ digest.`);
  const algId = (name[0]! << 8) | name[1]!;
  const alg = hashAlgFromId(algId);
  if (!alg) throw invalidArgument(`The Name's algorithm 0x${algId.toString(16).padStart(4, '0')} is not a supported hash.`);
  if (name.length !== 2 + digestSize(alg)) throw invalidArgument(`A ${alg} Name must be ${2 + digestSize(alg)} bytes, not ${name.length}.`);
  return { hashAlg: alg, digest: name.slice(2) };
}
