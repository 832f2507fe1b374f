// TPM 2.0 structures (Library Part 2) as marshalling schemas, each with its inferred TypeScript
// type under the same spec name without underscores: `TPMTPublic` is both the schema value and
// the type of its values. Maximum sizes follow the reference implementation's limits (generous
// where they vary by TPM), so hostile sizes are refused before any allocation.
import { TPM_ALG, TPM_ST, TPM_CAP } from './constants.ts';
import { TPMUsageError } from './tpmerrors.ts';
import { u8, u16, u32, u64, yesNo, fixed, buf, sized, sizedOptional, list, struct, union, type Infer } from './marshal.ts';

const A = TPM_ALG;

// ------------------------------------------------------------------------------------------------
// Sized buffers (TPM2B_*) — values are Uint8Array.

export const TPM2BDigest = buf('TPM2B_DIGEST', 64);
export const TPM2BNonce = buf('TPM2B_NONCE', 64);
export const TPM2BAuth = buf('TPM2B_AUTH', 64);
export const TPM2BData = buf('TPM2B_DATA', 66);
export const TPM2BName = buf('TPM2B_NAME', 68);
export const TPM2BEvent = buf('TPM2B_EVENT', 1024);
export const TPM2BMaxBuffer = buf('TPM2B_MAX_BUFFER', 1024);
export const TPM2BMaxNVBuffer = buf('TPM2B_MAX_NV_BUFFER', 2048);
export const TPM2BTimeout = buf('TPM2B_TIMEOUT', 8);
export const TPM2BSensitiveData = buf('TPM2B_SENSITIVE_DATA', 256);
export const TPM2BPublicKeyRSA = buf('TPM2B_PUBLIC_KEY_RSA', 512);
export const TPM2BPrivateKeyRSA = buf('TPM2B_PRIVATE_KEY_RSA', 640);
export const TPM2BECCParameter = buf('TPM2B_ECC_PARAMETER', 128);
export const TPM2BSymKey = buf('TPM2B_SYM_KEY', 64);
export const TPM2BPrivateVendorSpecific = buf('TPM2B_PRIVATE_VENDOR_SPECIFIC', 1280);
export const TPM2BPrivate = buf('TPM2B_PRIVATE', 4096);
export const TPM2BIDObject = buf('TPM2B_ID_OBJECT', 256);
export const TPM2BEncryptedSecret = buf('TPM2B_ENCRYPTED_SECRET', 1024);
/** TPM2B_ATTEST kept as bytes: signatures are over these exact bytes; decode with TPMSAttest. */
export const TPM2BAttest = buf('TPM2B_ATTEST', 4096);
export const TPM2BContextData = buf('TPM2B_CONTEXT_DATA', 8192);
export const TPM2BTemplate = buf('TPM2B_TEMPLATE', 4096);
export type TPM2BDigest = Uint8Array;
export type TPM2BData = Uint8Array;
export type TPM2BName = Uint8Array;

// ------------------------------------------------------------------------------------------------
// Hashes and PCR selections

/** TPMU_HA: a digest whose size the hash algorithm decides. */
const TPMUHA = union('TPMU_HA', 'hashAlg', {
  [A.SHA1]: fixed(20), [A.SHA256]: fixed(32), [A.SHA384]: fixed(48), [A.SHA512]: fixed(64),
  [A.SM3_256]: fixed(32), [A.SHA3_256]: fixed(32), [A.SHA3_384]: fixed(48), [A.SHA3_512]: fixed(64),
});
export const TPMTHA = struct('TPMT_HA', { hashAlg: u16, digest: TPMUHA });
export type TPMTHA = Infer<typeof TPMTHA>;

export const TPMSPCRSelection = struct('TPMS_PCR_SELECTION', { hash: u16, pcrSelect: buf('pcrSelect', 8, 1) });
export type TPMSPCRSelection = Infer<typeof TPMSPCRSelection>;
export const TPMLPCRSelection = list('TPML_PCR_SELECTION', TPMSPCRSelection, 16);
export type TPMLPCRSelection = Infer<typeof TPMLPCRSelection>;
export const TPMLDigest = list('TPML_DIGEST', TPM2BDigest, 8);
export type TPMLDigest = Infer<typeof TPMLDigest>;
export const TPMLDigestValues = list('TPML_DIGEST_VALUES', TPMTHA, 16);
export type TPMLDigestValues = Infer<typeof TPMLDigestValues>;

// ------------------------------------------------------------------------------------------------
// Algorithm parameters and schemes

const hashOnly = struct('TPMS_SCHEME_HASH', { hashAlg: u16 });
export type TPMSSchemeHash = Infer<typeof hashOnly>;
export const TPMSSchemeHash = hashOnly;
const ecdaa = struct('TPMS_SCHEME_ECDAA', { hashAlg: u16, count: u16 });
const xorScheme = struct('TPMS_SCHEME_XOR', { hashAlg: u16, kdf: u16 });

/** TPMT_SYM_DEF_OBJECT (and TPMT_SYM_DEF, which also allows XOR). */
export const TPMTSymDefObject = struct('TPMT_SYM_DEF_OBJECT', {
  algorithm: u16,
  keyBits: union('TPMU_SYM_KEY_BITS', 'algorithm', { [A.AES]: u16, [A.SM4]: u16, [A.CAMELLIA]: u16, [A.NULL]: null }),
  mode: union('TPMU_SYM_MODE', 'algorithm', { [A.AES]: u16, [A.SM4]: u16, [A.CAMELLIA]: u16, [A.NULL]: null }),
});
export type TPMTSymDefObject = Infer<typeof TPMTSymDefObject>;
export const TPMTSymDef = struct('TPMT_SYM_DEF', {
  algorithm: u16,
  keyBits: union('TPMU_SYM_KEY_BITS', 'algorithm', { [A.AES]: u16, [A.SM4]: u16, [A.CAMELLIA]: u16, [A.XOR]: u16, [A.NULL]: null }),
  mode: union('TPMU_SYM_MODE', 'algorithm', { [A.AES]: u16, [A.SM4]: u16, [A.CAMELLIA]: u16, [A.XOR]: null, [A.NULL]: null }),
});
export type TPMTSymDef = Infer<typeof TPMTSymDef>;

export const TPMTKeyedHashScheme = struct('TPMT_KEYEDHASH_SCHEME', {
  scheme: u16,
  details: union('TPMU_SCHEME_KEYEDHASH', 'scheme', { [A.HMAC]: hashOnly, [A.XOR]: xorScheme, [A.NULL]: null }),
});
export const TPMTRSAScheme = struct('TPMT_RSA_SCHEME', {
  scheme: u16,
  details: union('TPMU_ASYM_SCHEME', 'scheme', { [A.RSASSA]: hashOnly, [A.RSAPSS]: hashOnly, [A.OAEP]: hashOnly, [A.RSAES]: null, [A.NULL]: null }),
});
export const TPMTECCScheme = struct('TPMT_ECC_SCHEME', {
  scheme: u16,
  details: union('TPMU_ASYM_SCHEME', 'scheme', {
    [A.ECDSA]: hashOnly, [A.ECDH]: hashOnly, [A.ECSCHNORR]: hashOnly, [A.SM2]: hashOnly, [A.ECMQV]: hashOnly, [A.ECDAA]: ecdaa, [A.NULL]: null,
  }),
});
export const TPMTKDFScheme = struct('TPMT_KDF_SCHEME', {
  scheme: u16,
  details: union('TPMU_KDF_SCHEME', 'scheme', { [A.MGF1]: hashOnly, [A.KDF1_SP800_56A]: hashOnly, [A.KDF2]: hashOnly, [A.KDF1_SP800_108]: hashOnly, [A.NULL]: null }),
});
/** TPMT_SIG_SCHEME: the scheme passed to Sign/Quote/Certify (NULL = use the key's scheme). */
export const TPMTSigScheme = struct('TPMT_SIG_SCHEME', {
  scheme: u16,
  details: union('TPMU_SIG_SCHEME', 'scheme', {
    [A.RSASSA]: hashOnly, [A.RSAPSS]: hashOnly, [A.ECDSA]: hashOnly, [A.ECSCHNORR]: hashOnly, [A.SM2]: hashOnly, [A.ECDAA]: ecdaa, [A.HMAC]: hashOnly, [A.NULL]: null,
  }),
});
export type TPMTSigScheme = Infer<typeof TPMTSigScheme>;

export const TPMSKeyedHashParms = struct('TPMS_KEYEDHASH_PARMS', { scheme: TPMTKeyedHashScheme });
export const TPMSSymCipherParms = struct('TPMS_SYMCIPHER_PARMS', { sym: TPMTSymDefObject });
export const TPMSRSAParms = struct('TPMS_RSA_PARMS', { symmetric: TPMTSymDefObject, scheme: TPMTRSAScheme, keyBits: u16, exponent: u32 });
export const TPMSECCParms = struct('TPMS_ECC_PARMS', { symmetric: TPMTSymDefObject, scheme: TPMTECCScheme, curveID: u16, kdf: TPMTKDFScheme });
export type TPMSKeyedHashParms = Infer<typeof TPMSKeyedHashParms>;
export type TPMSSymCipherParms = Infer<typeof TPMSSymCipherParms>;
export type TPMSRSAParms = Infer<typeof TPMSRSAParms>;
export type TPMSECCParms = Infer<typeof TPMSECCParms>;

export const TPMSECCPoint = struct('TPMS_ECC_POINT', { x: TPM2BECCParameter, y: TPM2BECCParameter });
export type TPMSECCPoint = Infer<typeof TPMSECCPoint>;
export const TPM2BECCPoint = sized('TPM2B_ECC_POINT', TPMSECCPoint);

// ------------------------------------------------------------------------------------------------
// Public areas

/**
 * TPMT_PUBLIC. `parameters` is TPMSRSAParms | TPMSECCParms | TPMSKeyedHashParms | TPMSSymCipherParms
 * per `type`; `unique` is a Uint8Array (RSA modulus, keyedHash/symcipher digest) or TPMSECCPoint.
 */
export const TPMTPublic = struct('TPMT_PUBLIC', {
  type: u16,
  nameAlg: u16,
  objectAttributes: u32,
  authPolicy: TPM2BDigest,
  parameters: union('TPMU_PUBLIC_PARMS', 'type', { [A.RSA]: TPMSRSAParms, [A.ECC]: TPMSECCParms, [A.KEYEDHASH]: TPMSKeyedHashParms, [A.SYMCIPHER]: TPMSSymCipherParms }),
  unique: union('TPMU_PUBLIC_ID', 'type', { [A.RSA]: TPM2BPublicKeyRSA, [A.ECC]: TPMSECCPoint, [A.KEYEDHASH]: TPM2BDigest, [A.SYMCIPHER]: TPM2BDigest }),
});
export type TPMTPublic = Infer<typeof TPMTPublic>;
export const TPM2BPublic = sized('TPM2B_PUBLIC', TPMTPublic);
export type TPM2BPublic = TPMTPublic;

export const TPMSSensitiveCreate = struct('TPMS_SENSITIVE_CREATE', { userAuth: TPM2BAuth, data: TPM2BSensitiveData });
export type TPMSSensitiveCreate = Infer<typeof TPMSSensitiveCreate>;
export const TPM2BSensitiveCreate = sized('TPM2B_SENSITIVE_CREATE', TPMSSensitiveCreate);
export type TPM2BSensitiveCreate = TPMSSensitiveCreate;

/** TPMT_SENSITIVE, for LoadExternal of a key with its private part. */
export const TPMTSensitive = struct('TPMT_SENSITIVE', {
  sensitiveType: u16,
  authValue: TPM2BAuth,
  seedValue: TPM2BDigest,
  sensitive: union('TPMU_SENSITIVE_COMPOSITE', 'sensitiveType', {
    [A.RSA]: TPM2BPrivateKeyRSA, [A.ECC]: TPM2BECCParameter, [A.KEYEDHASH]: TPM2BSensitiveData, [A.SYMCIPHER]: TPM2BSymKey,
  }),
});
export type TPMTSensitive = Infer<typeof TPMTSensitive>;
/** TPM2B_SENSITIVE; may be empty (null) for a public-only LoadExternal. */
export const TPM2BSensitive = sizedOptional('TPM2B_SENSITIVE', TPMTSensitive);

// ------------------------------------------------------------------------------------------------
// Tickets, creation data, contexts

const ticket = (name: string) => struct(name, { tag: u16, hierarchy: u32, digest: TPM2BDigest });
export const TPMTTKCreation = ticket('TPMT_TK_CREATION');
export const TPMTTKHashcheck = ticket('TPMT_TK_HASHCHECK');
export const TPMTTKVerified = ticket('TPMT_TK_VERIFIED');
export const TPMTTKAuth = ticket('TPMT_TK_AUTH');
export type TPMTTKCreation = Infer<typeof TPMTTKCreation>;
export type TPMTTKHashcheck = Infer<typeof TPMTTKHashcheck>;
export type TPMTTKVerified = Infer<typeof TPMTTKVerified>;
export type TPMTTKAuth = Infer<typeof TPMTTKAuth>;

export const TPMSCreationData = struct('TPMS_CREATION_DATA', {
  pcrSelect: TPMLPCRSelection,
  pcrDigest: TPM2BDigest,
  locality: u8,
  parentNameAlg: u16,
  parentName: TPM2BName,
  parentQualifiedName: TPM2BName,
  outsideInfo: TPM2BData,
});
export type TPMSCreationData = Infer<typeof TPMSCreationData>;
export const TPM2BCreationData = sized('TPM2B_CREATION_DATA', TPMSCreationData);

export const TPMSContext = struct('TPMS_CONTEXT', { sequence: u64, savedHandle: u32, hierarchy: u32, contextBlob: TPM2BContextData });
export type TPMSContext = Infer<typeof TPMSContext>;

// ------------------------------------------------------------------------------------------------
// NV

export const TPMSNVPublic = struct('TPMS_NV_PUBLIC', { nvIndex: u32, nameAlg: u16, attributes: u32, authPolicy: TPM2BDigest, dataSize: u16 });
export type TPMSNVPublic = Infer<typeof TPMSNVPublic>;
export const TPM2BNVPublic = sized('TPM2B_NV_PUBLIC', TPMSNVPublic);
export type TPM2BNVPublic = TPMSNVPublic;

// ------------------------------------------------------------------------------------------------
// Signatures

export const TPMSSignatureRSA = struct('TPMS_SIGNATURE_RSA', { hash: u16, sig: TPM2BPublicKeyRSA });
export const TPMSSignatureECC = struct('TPMS_SIGNATURE_ECC', { hash: u16, signatureR: TPM2BECCParameter, signatureS: TPM2BECCParameter });
export type TPMSSignatureRSA = Infer<typeof TPMSSignatureRSA>;
export type TPMSSignatureECC = Infer<typeof TPMSSignatureECC>;
/** TPMT_SIGNATURE: `signature` is TPMSSignatureRSA (RSASSA/RSAPSS), TPMSSignatureECC (ECDSA...), TPMTHA (HMAC) or null (NULL). */
export const TPMTSignature = struct('TPMT_SIGNATURE', {
  sigAlg: u16,
  signature: union('TPMU_SIGNATURE', 'sigAlg', {
    [A.RSASSA]: TPMSSignatureRSA, [A.RSAPSS]: TPMSSignatureRSA,
    [A.ECDSA]: TPMSSignatureECC, [A.ECDAA]: TPMSSignatureECC, [A.SM2]: TPMSSignatureECC, [A.ECSCHNORR]: TPMSSignatureECC,
    [A.HMAC]: TPMTHA, [A.NULL]: null,
  }),
});
export type TPMTSignature = Infer<typeof TPMTSignature>;

// ------------------------------------------------------------------------------------------------
// Attestation

export const TPMSClockInfo = struct('TPMS_CLOCK_INFO', { clock: u64, resetCount: u32, restartCount: u32, safe: yesNo });
export type TPMSClockInfo = Infer<typeof TPMSClockInfo>;
export const TPMSTimeInfo = struct('TPMS_TIME_INFO', { time: u64, clockInfo: TPMSClockInfo });
export type TPMSTimeInfo = Infer<typeof TPMSTimeInfo>;
export const TPMSTimeAttestInfo = struct('TPMS_TIME_ATTEST_INFO', { time: TPMSTimeInfo, firmwareVersion: u64 });
export const TPMSCertifyInfo = struct('TPMS_CERTIFY_INFO', { name: TPM2BName, qualifiedName: TPM2BName });
export const TPMSQuoteInfo = struct('TPMS_QUOTE_INFO', { pcrSelect: TPMLPCRSelection, pcrDigest: TPM2BDigest });
export const TPMSCommandAuditInfo = struct('TPMS_COMMAND_AUDIT_INFO', { auditCounter: u64, digestAlg: u16, auditDigest: TPM2BDigest, commandDigest: TPM2BDigest });
export const TPMSSessionAuditInfo = struct('TPMS_SESSION_AUDIT_INFO', { exclusiveSession: yesNo, sessionDigest: TPM2BDigest });
export const TPMSCreationInfo = struct('TPMS_CREATION_INFO', { objectName: TPM2BName, creationHash: TPM2BDigest });
export const TPMSNVCertifyInfo = struct('TPMS_NV_CERTIFY_INFO', { indexName: TPM2BName, offset: u16, nvContents: TPM2BMaxNVBuffer });
export const TPMSNVDigestCertifyInfo = struct('TPMS_NV_DIGEST_CERTIFY_INFO', { indexName: TPM2BName, nvDigest: TPM2BDigest });
export type TPMSTimeAttestInfo = Infer<typeof TPMSTimeAttestInfo>;
export type TPMSCertifyInfo = Infer<typeof TPMSCertifyInfo>;
export type TPMSQuoteInfo = Infer<typeof TPMSQuoteInfo>;
export type TPMSCommandAuditInfo = Infer<typeof TPMSCommandAuditInfo>;
export type TPMSSessionAuditInfo = Infer<typeof TPMSSessionAuditInfo>;
export type TPMSCreationInfo = Infer<typeof TPMSCreationInfo>;
export type TPMSNVCertifyInfo = Infer<typeof TPMSNVCertifyInfo>;
export type TPMSNVDigestCertifyInfo = Infer<typeof TPMSNVDigestCertifyInfo>;

/** TPMS_ATTEST: what Quote/Certify/GetTime/... sign. `attested` is chosen by `type` (TPM_ST_ATTEST_*). */
export const TPMSAttest = struct('TPMS_ATTEST', {
  magic: u32,
  type: u16,
  qualifiedSigner: TPM2BName,
  extraData: TPM2BData,
  clockInfo: TPMSClockInfo,
  firmwareVersion: u64,
  attested: union('TPMU_ATTEST', 'type', {
    [TPM_ST.ATTEST_CERTIFY]: TPMSCertifyInfo,
    [TPM_ST.ATTEST_QUOTE]: TPMSQuoteInfo,
    [TPM_ST.ATTEST_SESSION_AUDIT]: TPMSSessionAuditInfo,
    [TPM_ST.ATTEST_COMMAND_AUDIT]: TPMSCommandAuditInfo,
    [TPM_ST.ATTEST_TIME]: TPMSTimeAttestInfo,
    [TPM_ST.ATTEST_CREATION]: TPMSCreationInfo,
    [TPM_ST.ATTEST_NV]: TPMSNVCertifyInfo,
    [TPM_ST.ATTEST_NV_DIGEST]: TPMSNVDigestCertifyInfo,
  }),
});
export type TPMSAttest = Infer<typeof TPMSAttest>;

// ------------------------------------------------------------------------------------------------
// Capabilities

export const TPMSAlgProperty = struct('TPMS_ALG_PROPERTY', { alg: u16, algProperties: u32 });
export const TPMSTaggedProperty = struct('TPMS_TAGGED_PROPERTY', { property: u32, value: u32 });
export const TPMSTaggedPCRSelect = struct('TPMS_TAGGED_PCR_SELECT', { tag: u32, pcrSelect: buf('pcrSelect', 8, 1) });
export const TPMSTaggedPolicy = struct('TPMS_TAGGED_POLICY', { handle: u32, policyHash: TPMTHA });
export const TPMSACTData = struct('TPMS_ACT_DATA', { handle: u32, timeout: u32, attributes: u32 });
export type TPMSAlgProperty = Infer<typeof TPMSAlgProperty>;
export type TPMSTaggedProperty = Infer<typeof TPMSTaggedProperty>;
export type TPMSTaggedPCRSelect = Infer<typeof TPMSTaggedPCRSelect>;

export const TPMLAlgProperty = list('TPML_ALG_PROPERTY', TPMSAlgProperty, 256);
export const TPMLHandle = list('TPML_HANDLE', u32, 512);
export const TPMLCCA = list('TPML_CCA', u32, 512);
export const TPMLCC = list('TPML_CC', u32, 512);
export const TPMLTaggedTPMProperty = list('TPML_TAGGED_TPM_PROPERTY', TPMSTaggedProperty, 256);
export const TPMLTaggedPCRProperty = list('TPML_TAGGED_PCR_PROPERTY', TPMSTaggedPCRSelect, 256);
export const TPMLECCCurve = list('TPML_ECC_CURVE', u16, 256);
export const TPMLTaggedPolicy = list('TPML_TAGGED_POLICY', TPMSTaggedPolicy, 256);
export const TPMLACTData = list('TPML_ACT_DATA', TPMSACTData, 256);

/** TPMS_CAPABILITY_DATA: `data` is the TPML_* for `capability`. */
export const TPMSCapabilityData = struct('TPMS_CAPABILITY_DATA', {
  capability: u32,
  data: union('TPMU_CAPABILITIES', 'capability', {
    [TPM_CAP.ALGS]: TPMLAlgProperty,
    [TPM_CAP.HANDLES]: TPMLHandle,
    [TPM_CAP.COMMANDS]: TPMLCCA,
    [TPM_CAP.PP_COMMANDS]: TPMLCC,
    [TPM_CAP.AUDIT_COMMANDS]: TPMLCC,
    [TPM_CAP.PCRS]: TPMLPCRSelection,
    [TPM_CAP.TPM_PROPERTIES]: TPMLTaggedTPMProperty,
    [TPM_CAP.PCR_PROPERTIES]: TPMLTaggedPCRProperty,
    [TPM_CAP.ECC_CURVES]: TPMLECCCurve,
    [TPM_CAP.AUTH_POLICIES]: TPMLTaggedPolicy,
    [TPM_CAP.ACT]: TPMLACTData,
  }),
});
export type TPMSCapabilityData = Infer<typeof TPMSCapabilityData>;

// ------------------------------------------------------------------------------------------------
// Authorization area

export const TPMSAuthCommand = struct('TPMS_AUTH_COMMAND', { sessionHandle: u32, nonce: TPM2BNonce, sessionAttributes: u8, hmac: TPM2BAuth });
export const TPMSAuthResponse = struct('TPMS_AUTH_RESPONSE', { nonce: TPM2BNonce, sessionAttributes: u8, hmac: TPM2BAuth });
export type TPMSAuthCommand = Infer<typeof TPMSAuthCommand>;
export type TPMSAuthResponse = Infer<typeof TPMSAuthResponse>;

// ------------------------------------------------------------------------------------------------
// Helpers for PCR selections

/** Builds a TPML_PCR_SELECTION from {hash, pcrs}; the bitmap is at least 3 bytes (PCR_SELECT_MIN). */
export function pcrSelection(banks: ReadonlyArray<{ hash: number; pcrs: readonly number[] }>, minSelectBytes = 3): TPMLPCRSelection {
  return banks.map(({ hash, pcrs }) => {
    const max = pcrs.reduce((m, p) => Math.max(m, p), -1);
    const n = Math.max(minSelectBytes, (max >> 3) + 1);
    const sel = Buffer.alloc(n);
    for (const p of pcrs) {
      if (!Number.isInteger(p) || p < 0 || p >= n * 8) throw new TPMUsageError('TPM_BAD_ARGUMENT', `PCR index ${String(p)} is out of range; PCR indexes are 0..${n * 8 - 1}.`);
      sel[p >> 3]! |= 1 << (p & 7);
    }
    return { hash, pcrSelect: sel };
  });
}

/** The PCR indexes selected in one TPMS_PCR_SELECTION, ascending. */
export function selectedPCRs(sel: TPMSPCRSelection): number[] {
  const out: number[] = [];
  for (let i = 0; i < sel.pcrSelect.length; i++) for (let b = 0; b < 8; b++) if (sel.pcrSelect[i]! & (1 << b)) out.push(i * 8 + b);
  return out;
}
