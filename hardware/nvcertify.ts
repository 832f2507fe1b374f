// TPM2_NV_Certify results and their verification in pure TypeScript (Node crypto only), for a
// remote party that holds the AK public key. A verifier accepts an NV certification when
//   1. the TPMS_ATTEST parses, starts with TPM_GENERATED_VALUE and is of type TPM_ST_ATTEST_NV,
//   2. the signature over H(TPMS_ATTEST) verifies with the AK public key,
//   3. extraData equals the nonce it sent (no replay),
//   4. the attested indexName equals the Name of the index it expects (handle, nameAlg, attributes
//      including TPMA_NV_WRITTEN, policy, size: a different or redefined-with-other-attributes
//      index has another Name), and
//   5. offset and nvContents equal what it expects (e.g. the head of a replayed hash chain).
// Each failure has its own code. The checks are the same as a quote's (quote.ts) except 4 and 5.
import { TollgateError, type ErrorClass } from './errors.ts';
import { TPM_ST } from './constants.ts';
import { QuoteError, parseAttest, parseSignature, verifyAttestSignature } from './quote.ts';
import { publicKeyOf } from './keys.ts';
import { TpmCryptoError, type PublicKeyBytes } from './crypto/index.ts';
import type { TPMSAttest, TPMSNVCertifyInfo, TPMTPublic, TPMTSignature } from './types.ts';

export type NVCertifyErrorCode =
  | 'NV_CERTIFY_MALFORMED'
  | 'NV_CERTIFY_WRONG_TYPE'
  | 'NV_CERTIFY_SIGNATURE_INVALID'
  | 'NV_CERTIFY_NONCE_MISMATCH'
  | 'NV_CERTIFY_INDEX_MISMATCH'
  | 'NV_CERTIFY_CONTENTS_MISMATCH';

export class NVCertifyError extends TollgateError {
  declare readonly code: NVCertifyErrorCode;
  constructor(code: NVCertifyErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, 'denied' satisfies ErrorClass, options);
    this.name = 'NVCertifyError';
  }
}

export interface VerifyNVCertifyInput {
  /** The AK public key (PEM-derived bytes, or its TPMT_PUBLIC). */
  ak: PublicKeyBytes | TPMTPublic;
  /** The marshalled TPMS_ATTEST exactly as signed. */
  attest: Uint8Array;
  /** The TPMT_SIGNATURE, marshalled or decoded. */
  signature: Uint8Array | TPMTSignature;
  /** The nonce (qualifyingData) the verifier chose. */
  nonce: Uint8Array;
  /** The Name the certified index must have (nameAlg ‖ H(TPMS_NV_PUBLIC)). */
  indexName: Uint8Array;
  /** The bytes the index must hold at `offset`; omitted: any contents (returned for the caller to judge). */
  contents?: Uint8Array;
  /** Default 0. */
  offset?: number;
}

export interface VerifiedNVCertify {
  attest: TPMSAttest;
  info: TPMSNVCertifyInfo;
  /** TPM_ALG of the signature hash. */
  hashAlg: number;
  contents: Buffer;
}

function keyOf(k: PublicKeyBytes | TPMTPublic): PublicKeyBytes {
  if (typeof (k as TPMTPublic).objectAttributes !== 'number') return k as PublicKeyBytes;
  try {
    return publicKeyOf(k as TPMTPublic);
  } catch (e) {
    if (e instanceof TpmCryptoError) throw new NVCertifyError('NV_CERTIFY_SIGNATURE_INVALID', `The AK public key cannot be used: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Verifies a TPM2_NV_Certify result (see the file comment); throws an NVCertifyError naming the first failed check. */
export function verifyNVCertify(input: VerifyNVCertifyInput): VerifiedNVCertify {
  const key = keyOf(input.ak);
  let attest: TPMSAttest;
  let hashAlg: number;
  try {
    attest = parseAttest(input.attest);
    const sig = input.signature instanceof Uint8Array ? parseSignature(input.signature) : input.signature;
    hashAlg = verifyAttestSignature(key, input.attest, sig);
  } catch (e) {
    if (e instanceof QuoteError) {
      const bad = e.code === 'QUOTE_SIGNATURE_INVALID' || e.code === 'QUOTE_KEY_MISMATCH' || e.code === 'QUOTE_SIGNATURE_UNSUPPORTED';
      throw new NVCertifyError(bad ? 'NV_CERTIFY_SIGNATURE_INVALID' : 'NV_CERTIFY_MALFORMED', `The NV certification is not valid: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (attest.type !== TPM_ST.ATTEST_NV) {
    throw new NVCertifyError('NV_CERTIFY_WRONG_TYPE', `The attestation is of type 0x${attest.type.toString(16)}, not an NV certification (TPM_ST_ATTEST_NV, 0x8014).`);
  }
  if (!Buffer.from(attest.extraData).equals(Buffer.from(input.nonce))) {
    throw new NVCertifyError('NV_CERTIFY_NONCE_MISMATCH', 'The NV certification was made for another nonce: it is a replay or answers another request.', {
      details: { expected: Buffer.from(input.nonce).toString('hex'), certified: Buffer.from(attest.extraData).toString('hex') },
    });
  }
  const info = attest.attested as TPMSNVCertifyInfo;
  if (!Buffer.from(info.indexName).equals(Buffer.from(input.indexName))) {
    throw new NVCertifyError('NV_CERTIFY_INDEX_MISMATCH', 'The certification is about another NV index (its Name differs: another handle, other attributes, or not yet written).', {
      details: { expected: Buffer.from(input.indexName).toString('hex'), certified: Buffer.from(info.indexName).toString('hex') },
    });
  }
  const offset = input.offset ?? 0;
  const contents = Buffer.from(info.nvContents);
  if (info.offset !== offset || (input.contents !== undefined && !contents.equals(Buffer.from(input.contents)))) {
    throw new NVCertifyError('NV_CERTIFY_CONTENTS_MISMATCH', `The certified index holds other data than expected${info.offset !== offset ? ` (at offset ${info.offset}, not ${offset})` : ''}.`, {
      details: { offset: info.offset, certified: contents.toString('hex'), ...(input.contents ? { expected: Buffer.from(input.contents).toString('hex') } : {}) },
    });
  }
  return { attest, info, hashAlg, contents };
}
