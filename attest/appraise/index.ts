// attest/appraise: remote attestation end to end. The device side makes tollgate evidence with the
// TPM (createEvidence: PCRs, event logs, installed software, quote bound to the claims, COSE_Sign1
// by the device key); the verifier side appraises it against the enrolled device record, its
// nonce, reference values and the state of the last appraisal, and answers with an EAR.
export { AppraiseError, type AppraiseErrorCode } from './errors.ts';
export { deviceKeys, type DeviceKeys } from './record.ts';
// The record itself is attest/enrol's; re-exported for callers that appraise.
export { parseDeviceRecord, type DeviceRecord } from '../enrol/index.ts';
export { parseReferenceValues, REFERENCE_VERSION, type ReferenceValues, type ImaRule } from './reference.ts';
export { parseAppraisalState, serializeAppraisalState, type AppraisalState } from './state.ts';
export {
  createEvidence, evidenceIdentity, tpmCoseSigner, KERNEL_BOOT_LOG, KERNEL_IMA_LOG, DEFAULT_PCRS,
  type CreateEvidenceOptions, type CreatedEvidence, type EvidenceIdentity, type LogSource,
} from './create.ts';
export { appraise, EAR_SUBMODULE, DEFAULT_VERIFIER, type AppraiseOptions, type AppraiseResult, type AppraisalFacts } from './appraise.ts';
export { renderAppraisal } from './render.ts';
