// OpenVEX: parse documents and decide which statement governs a (vulnerability, component) pair.
export { parseOpenVEX, vexDecision, purlCovers, VEXError, MAX_VEX_STATEMENTS } from './openvex.ts';
export type { OpenVEXDocument, VEXStatement, VEXStatus, VEXDecision } from './openvex.ts';
