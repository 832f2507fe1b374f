// Public surface of hardware/: the pure-TypeScript TPM 2.0 stack.
export * from './errors.ts';
export * from './tpmerrors.ts';
export * from './constants.ts';
export * from './rc.ts';
export * from './marshal.ts';
export * from './types.ts';
export * from './session.ts';
export { HmacSession, PolicySession, tpmPublicKey, type HmacSessionOptions, type PolicySessionOptions } from './hmacsession.ts';
export { DEFAULT_SALT_KEY, saltKeyTemplate, startSecureSession, secureSessionVerdict, type SecureSessionOptions } from './securesession.ts';
export { TransientScope, HandleTracker } from './handles.ts';
export {
  defineCommand, parseResponse, decodeParameters, decodeResponse, firstIsTPM2B, Executor, DEFAULT_RETRY,
  type CommandDef, type HandleDef, type CommandEffects, type ExecuteRequest, type ExecuteResult, type RetryPolicy, type ParsedResponse,
} from './command.ts';
export * as commands from './commands.ts';
export {
  TPM, openTPM, decodeAttest,
  type OpenOptions, type PCRBankSelection, type PCRValue, type AttestResult, type CreateOptions, type CreatePrimaryResult,
  type NVDefine, type NVAuthOptions, type StartAuthSessionOptions,
} from './tpm.ts';
export {
  openTransport, parseTPMURI, resolveTPMURI, SwtpmTransport, DeviceTransport, DEFAULT_DEVICE, DEFAULT_TIMEOUT_MS, TPM_URI_FORMS,
  type Transport, type SendOptions, type TPMURI, type TransportOptions, type DeviceOptions,
} from './transport/index.ts';
export { COMMAND_TIMEOUT_MS, KEYGEN_TIMEOUT_MS, MAX_TIMEOUT_MS, commandTimeoutMs, parseTimeout, resolveTPMTimeout } from './timeouts.ts';
// Pure crypto (H2). Where names collide, the TPM-stack versions above win (explicit re-exports
// below); the crypto ones stay reachable as crypto.X.
export * from './crypto/index.ts';
export * as crypto from './crypto/index.ts';
export { TPM_CC, TPMA_SESSION, digestSize } from './constants.ts';
export { u16, u32 } from './marshal.ts';
export {
  EK_ATTRIBUTES, SRK_ATTRIBUTES, AK_ATTRIBUTES, DEVICE_KEY_ATTRIBUTES, ekRSATemplate, ekECCTemplate, srkTemplate, akTemplate,
  deviceKeyTemplate, templateFor, templateMismatch, publicKeyOf, publicPem, publicName, KEY_ROLE_NAMES, type KeyRole,
} from './keys.ts';
export {
  EKCertError, EK_CERT_SLOTS, EK_CHAIN_NV_FIRST, EK_CHAIN_NV_LAST, parseEKCertificate, parseEKChainIndex, readEKCertificates,
  ekCertMatches, parseCABundle, verifyEKCertChain,
  type EKCertificate, type EKCertSlot, type EKKeyType, type EKCertReadResult, type EKChainCertificate, type AnyCertificate, type EKCertChainEntry,
} from './ekcert.ts';
export * from './x509/index.ts';
export {
  PERSISTENT_HANDLES, AK_HANDLE, DEVICE_KEY_HANDLE, SRK_HANDLE, ProvisionError, inspectHandles, provision, requireAK,
  certifyDeviceKey, verifyCertification, activateAKCredential,
  type HandleStatus, type Certification, type ProvisionOptions, type ProvisionResult, type ProvisionedKey, type ActivateOptions,
} from './provision.ts';
export {
  QuoteError, MAX_NONCE, parseNonce, parseAttest, parseSignature, verifyAttestSignature, pcrDigest, selectionOf, verifyQuote,
  quote, maxNonce, type QuoteResult, type QuoteOptions, type VerifyQuoteInput, type VerifiedQuote, type QuotePCRValue,
} from './quote.ts';
export { NVCertifyError, verifyNVCertify, type NVCertifyErrorCode, type VerifyNVCertifyInput, type VerifiedNVCertify } from './nvcertify.ts';
export {
  LEDGER_NV_INDEX, LEDGER_NV_OFFSET, LEDGER_NV_SIZE, LEDGER_NV_ATTRIBUTES, ledgerIndexPublic, ledgerIndexName, nvExtendValue, inspectLedgerIndex,
  defineLedgerIndex, readLedgerIndex, extendLedgerIndex, certifyLedgerIndex, type LedgerIndexStatus, type LedgerCertification,
} from './nvledger.ts';
export {
  TPM2ToolsError, MAX_PCR_INDEX, bankName, parsePCRList, formatPCRList, serializedPCRsSize, selectionOrder,
  encodeSerializedPCRs, parseSerializedPCRs, parseAttestFile, parseSignatureFile, encodeSignatureFile, parsePublicFile,
  encodePublicFile,
} from './tpm2tools.ts';
export * as eventlog from './eventlog/index.ts';
export { InputFileError, openRegularFile, openRegularFileSync, readBoundedFile, readBoundedFileSync, formatCap, type InputFileOptions, type InputFileProblem } from './files.ts';
