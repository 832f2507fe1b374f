// OpenVEX: parse documents, decide which statement governs a (vulnerability, component) pair, and
// which signed VEX documents are believed at all (signed.ts).
export { parseOpenVEX, vexDecision, purlCovers, VEXError, MAX_VEX_STATEMENTS } from './openvex.ts';
export type { OpenVEXDocument, VEXStatement, VEXStatus, VEXDecision } from './openvex.ts';
export { verifyVEXEvidence, isOpenVEXPredicateType, type TrustedVEX, type VEXTrust } from './signed.ts';
