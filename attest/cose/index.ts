// attest/cose: CBOR (over cbor-x, capped and deterministic) and COSE_Sign1 (ES256/ES384).
export { CborError, CoseError, type CborErrorCode, type CoseErrorCode } from './errors.ts';
export {
  decodeCBOR, decodeCBORTagged, encodeCBOR, encodeTaggedCBOR, isCborMap, isBytes, isUint, DEFAULT_CBOR_LIMITS,
  type CborValue, type CborMap, type CborKey, type CborLimits, type DecodeOptions,
} from './cbor.ts';
export {
  COSE_SIGN1_TAG, COSE_ALG, COSE_HEADER, isCoseAlg, coseAlgInfo, softwareCoseSigner, sigStructure, rawSignature, signSign1,
  decodeSign1, verifySign1, publicKeyOf,
  type CoseAlg, type CoseSigner, type Sign1, type Sign1Options, type DecodeSign1Options, type CoseVerifyKey,
} from './sign1.ts';
