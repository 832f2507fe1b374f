// attest/eat: the tollgate EAT profile (PROFILE.md): evidence claims, their COSE_Sign1 wire form,
// the quote binding, the UEID, and a pretty-printer.
export { EatError, type EatErrorCode } from './errors.ts';
export {
  EAT_PROFILE, EAT_MEDIA_TYPE, EAT_CONTENT_TYPE, CLAIM, CLAIM_NAMES, EVENT_LOG_FORMATS, NONCE_MIN, NONCE_MAX,
  buildClaims, withQuote, claimsToCbor, claimsFromCbor, claimsDigest, quoteExtraData, expectedQuoteExtraData, ueidFromEKPublic,
  type EvidenceClaims, type ClaimsInput, type TpmAttestation, type PcrBank, type EventLogChunk, type EventLogFormat,
  type InstalledSoftware, type LedgerHead, type KeyCertification, type ParsedTpmClaims,
} from './claims.ts';
export { MAX_EVIDENCE_BYTES, encodeEvidence, decodeEvidence, verifyEvidenceSignature, quoteExtraDataOf, type DecodedEvidence } from './evidence.ts';
export { renderEvidence, evidenceJSON } from './render.ts';
