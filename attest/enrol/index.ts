// attest/enrol: enrolment of a device's TPM with a verifier in two round trips (README.md here):
// the request and its checks, MakeCredential, ActivateCredential and its proof, the verifier's
// pending state, and the enrolled-device record appraisal works from.
export { EnrolError, type EnrolErrorCode } from './errors.ts';
export {
  MAX_REQUEST_BYTES, MAX_SMALL_DOCUMENT_BYTES, MAX_EK_CERTS, MAX_CERT_BYTES, PROOF_BYTES, ENROLMENT_ID_PATTERN, checkFacts,
  parseEnrolRequest, enrolRequestJSON, parseEnrolChallenge, enrolChallengeJSON, parseEnrolProof, enrolProofJSON, checkEnrolmentId,
  type EnrolRequest, type EnrolRequestJSON, type EnrolChallenge, type EnrolChallengeJSON, type EnrolProof, type EnrolFacts,
} from './wire.ts';
export {
  AK_REQUIRED, DEVICE_KEY_REQUIRED, checkEnrolRequest, checkEKPublic, checkAKPublic, checkDeviceKeyPublic, checkDeviceKeyCertification,
  type CheckOptions, type CheckedEnrolRequest,
} from './checks.ts';
export {
  DEFAULT_ENROL_TTL_SECONDS, enrolProof, createEnrolChallenge, finishEnrolment, isExpired, chainSummary,
  type PendingEnrolment, type ChallengeOptions, type CreatedChallenge,
} from './verifier.ts';
export {
  DEVICE_RECORD_VERSION, MAX_RECORD_BYTES, parseDeviceRecord, deviceRecordJSON, writeDeviceRecord, readDeviceRecord,
  type DeviceRecord, type EKChainSummary,
} from './record.ts';
export { MAX_PENDING, EnrolStateDir, startEnrolment, completeEnrolment, type CompletedEnrolment } from './state.ts';
export { buildEnrolRequest, activateEnrolment, challengeEK, certificatesOfFile, type EKChoice, type BuildRequestOptions, type BuiltRequest, type ActivateOptions, type Activation } from './device.ts';
export { readBoundedFile, InputFileError } from './files.ts';
