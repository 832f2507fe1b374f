// attest/ear: EAT Attestation Results (draft-ietf-rats-ear-02 / Veraison profile) with tollgate's
// per-claim reasons: build (worst-of status), sign and verify as JWT (JSON) or CWT (CBOR).
export { EarError, type EarErrorCode } from './errors.ts';
export {
  EAR_PROFILE, TRUST_TIERS, TIER_CODE, TRUST_CLAIMS, tierOf, worstTier, appraisalFromReasons, earStatus, buildEAR,
  earToCbor, earFromCbor, earToJSON, earFromJSON, decodeBase64Url,
  type TrustTier, type TrustClaim, type TrustVector, type ClaimReason, type Appraisal, type VerifierId, type EAR, type EARInput,
} from './model.ts';
export {
  EAR_JWT_CONTENT_TYPE, EAR_CWT_CONTENT_TYPE, MAX_EAR_BYTES, signEARJWT, decodeEARJWT, verifyEARJWT, signEARCWT, decodeEARCWT, verifyEARCWT,
  type DecodedEARJWT,
} from './sign.ts';
