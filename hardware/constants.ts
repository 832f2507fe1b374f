// TPM 2.0 constants (Library Part 2), as plain `as const` objects so they erase cleanly and can be
// looked up in both directions. Names follow the spec with the TPM_XX_ prefix moved into the object.

/** TPM_CC: command codes. */
export const TPM_CC = {
  NV_UndefineSpaceSpecial: 0x11f,
  EvictControl: 0x120,
  HierarchyControl: 0x121,
  NV_UndefineSpace: 0x122,
  ChangeEPS: 0x124,
  ChangePPS: 0x125,
  Clear: 0x126,
  ClearControl: 0x127,
  ClockSet: 0x128,
  HierarchyChangeAuth: 0x129,
  NV_DefineSpace: 0x12a,
  PCR_Allocate: 0x12b,
  PCR_SetAuthPolicy: 0x12c,
  PP_Commands: 0x12d,
  SetPrimaryPolicy: 0x12e,
  FieldUpgradeStart: 0x12f,
  ClockRateAdjust: 0x130,
  CreatePrimary: 0x131,
  NV_GlobalWriteLock: 0x132,
  GetCommandAuditDigest: 0x133,
  NV_Increment: 0x134,
  NV_SetBits: 0x135,
  NV_Extend: 0x136,
  NV_Write: 0x137,
  NV_WriteLock: 0x138,
  DictionaryAttackLockReset: 0x139,
  DictionaryAttackParameters: 0x13a,
  NV_ChangeAuth: 0x13b,
  PCR_Event: 0x13c,
  PCR_Reset: 0x13d,
  SequenceComplete: 0x13e,
  SetAlgorithmSet: 0x13f,
  SetCommandCodeAuditStatus: 0x140,
  FieldUpgradeData: 0x141,
  IncrementalSelfTest: 0x142,
  SelfTest: 0x143,
  Startup: 0x144,
  Shutdown: 0x145,
  StirRandom: 0x146,
  ActivateCredential: 0x147,
  Certify: 0x148,
  PolicyNV: 0x149,
  CertifyCreation: 0x14a,
  Duplicate: 0x14b,
  GetTime: 0x14c,
  GetSessionAuditDigest: 0x14d,
  NV_Read: 0x14e,
  NV_ReadLock: 0x14f,
  ObjectChangeAuth: 0x150,
  PolicySecret: 0x151,
  Rewrap: 0x152,
  Create: 0x153,
  ECDH_ZGen: 0x154,
  HMAC: 0x155,
  Import: 0x156,
  Load: 0x157,
  Quote: 0x158,
  RSA_Decrypt: 0x159,
  HMAC_Start: 0x15b,
  SequenceUpdate: 0x15c,
  Sign: 0x15d,
  Unseal: 0x15e,
  PolicySigned: 0x160,
  ContextLoad: 0x161,
  ContextSave: 0x162,
  ECDH_KeyGen: 0x163,
  EncryptDecrypt: 0x164,
  FlushContext: 0x165,
  LoadExternal: 0x167,
  MakeCredential: 0x168,
  NV_ReadPublic: 0x169,
  PolicyAuthorize: 0x16a,
  PolicyAuthValue: 0x16b,
  PolicyCommandCode: 0x16c,
  PolicyCounterTimer: 0x16d,
  PolicyCpHash: 0x16e,
  PolicyLocality: 0x16f,
  PolicyNameHash: 0x170,
  PolicyOR: 0x171,
  PolicyTicket: 0x172,
  ReadPublic: 0x173,
  RSA_Encrypt: 0x174,
  StartAuthSession: 0x176,
  VerifySignature: 0x177,
  ECC_Parameters: 0x178,
  FirmwareRead: 0x179,
  GetCapability: 0x17a,
  GetRandom: 0x17b,
  GetTestResult: 0x17c,
  Hash: 0x17d,
  PCR_Read: 0x17e,
  PolicyPCR: 0x17f,
  PolicyRestart: 0x180,
  ReadClock: 0x181,
  PCR_Extend: 0x182,
  PCR_SetAuthValue: 0x183,
  NV_Certify: 0x184,
  EventSequenceComplete: 0x185,
  HashSequenceStart: 0x186,
  PolicyPhysicalPresence: 0x187,
  PolicyDuplicationSelect: 0x188,
  PolicyGetDigest: 0x189,
  TestParms: 0x18a,
  Commit: 0x18b,
  PolicyPassword: 0x18c,
  ZGen_2Phase: 0x18d,
  EC_Ephemeral: 0x18e,
  PolicyNvWritten: 0x18f,
  PolicyTemplate: 0x190,
  CreateLoaded: 0x191,
  PolicyAuthorizeNV: 0x192,
  EncryptDecrypt2: 0x193,
  CertifyX509: 0x197,
} as const;

/** TPM_ALG_ID. */
export const TPM_ALG = {
  ERROR: 0x0000,
  RSA: 0x0001,
  TDES: 0x0003,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  MGF1: 0x0007,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  SM4: 0x0013,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  ECMQV: 0x001d,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CAMELLIA: 0x0026,
  SHA3_256: 0x0027,
  SHA3_384: 0x0028,
  SHA3_512: 0x0029,
  CTR: 0x0040,
  OFB: 0x0041,
  CBC: 0x0042,
  CFB: 0x0043,
  ECB: 0x0044,
} as const;

/** TPM_ECC_CURVE. */
export const TPM_ECC = {
  NONE: 0x0000,
  NIST_P192: 0x0001,
  NIST_P224: 0x0002,
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
  BN_P256: 0x0010,
  BN_P638: 0x0011,
  SM2_P256: 0x0020,
} as const;

/** TPM_ST: structure tags. */
export const TPM_ST = {
  RSP_COMMAND: 0x00c4,
  NULL: 0x8000,
  NO_SESSIONS: 0x8001,
  SESSIONS: 0x8002,
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
  ATTEST_NV_DIGEST: 0x801c,
  CREATION: 0x8021,
  VERIFIED: 0x8022,
  AUTH_SECRET: 0x8023,
  HASHCHECK: 0x8024,
  AUTH_SIGNED: 0x8025,
  FU_MANIFEST: 0x8029,
} as const;

/** TPM_SU: Startup/Shutdown types. */
export const TPM_SU = { CLEAR: 0x0000, STATE: 0x0001 } as const;

/** TPM_SE: session types. */
export const TPM_SE = { HMAC: 0x00, POLICY: 0x01, TRIAL: 0x03 } as const;

/** TPM_RH / TPM_RS: permanent handles. */
export const TPM_RH = {
  SRK: 0x40000000,
  OWNER: 0x40000001,
  REVOKE: 0x40000002,
  TRANSPORT: 0x40000003,
  OPERATOR: 0x40000004,
  ADMIN: 0x40000005,
  EK: 0x40000006,
  NULL: 0x40000007,
  UNASSIGNED: 0x40000008,
  PW: 0x40000009, // TPM_RS_PW: the password "session"
  LOCKOUT: 0x4000000a,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
  PLATFORM_NV: 0x4000000d,
} as const;

export const TPM_RS_PW = TPM_RH.PW;

/** TPM_HT: the handle type is the top byte of a handle. */
export const TPM_HT = {
  PCR: 0x00,
  NV_INDEX: 0x01,
  HMAC_SESSION: 0x02,
  LOADED_SESSION: 0x02,
  POLICY_SESSION: 0x03,
  SAVED_SESSION: 0x03,
  PERMANENT: 0x40,
  TRANSIENT: 0x80,
  PERSISTENT: 0x81,
  AC: 0x90,
} as const;

/** TPM_CAP. */
export const TPM_CAP = {
  ALGS: 0x00000000,
  HANDLES: 0x00000001,
  COMMANDS: 0x00000002,
  PP_COMMANDS: 0x00000003,
  AUDIT_COMMANDS: 0x00000004,
  PCRS: 0x00000005,
  TPM_PROPERTIES: 0x00000006,
  PCR_PROPERTIES: 0x00000007,
  ECC_CURVES: 0x00000008,
  AUTH_POLICIES: 0x00000009,
  ACT: 0x0000000a,
} as const;

/** TPM_PT: TPM properties (fixed group 0x100, variable group 0x200). */
export const TPM_PT = {
  FAMILY_INDICATOR: 0x100,
  LEVEL: 0x101,
  REVISION: 0x102,
  DAY_OF_YEAR: 0x103,
  YEAR: 0x104,
  MANUFACTURER: 0x105,
  VENDOR_STRING_1: 0x106,
  VENDOR_STRING_2: 0x107,
  VENDOR_STRING_3: 0x108,
  VENDOR_STRING_4: 0x109,
  VENDOR_TPM_TYPE: 0x10a,
  FIRMWARE_VERSION_1: 0x10b,
  FIRMWARE_VERSION_2: 0x10c,
  INPUT_BUFFER: 0x10d,
  HR_TRANSIENT_MIN: 0x10e,
  HR_PERSISTENT_MIN: 0x10f,
  HR_LOADED_MIN: 0x110,
  ACTIVE_SESSIONS_MAX: 0x111,
  PCR_COUNT: 0x112,
  PCR_SELECT_MIN: 0x113,
  CONTEXT_GAP_MAX: 0x114,
  NV_COUNTERS_MAX: 0x116,
  NV_INDEX_MAX: 0x117,
  MEMORY: 0x118,
  CLOCK_UPDATE: 0x119,
  CONTEXT_HASH: 0x11a,
  CONTEXT_SYM: 0x11b,
  CONTEXT_SYM_SIZE: 0x11c,
  ORDERLY_COUNT: 0x11d,
  MAX_COMMAND_SIZE: 0x11e,
  MAX_RESPONSE_SIZE: 0x11f,
  MAX_DIGEST: 0x120,
  MAX_OBJECT_CONTEXT: 0x121,
  MAX_SESSION_CONTEXT: 0x122,
  PS_FAMILY_INDICATOR: 0x123,
  PS_LEVEL: 0x124,
  PS_REVISION: 0x125,
  PS_DAY_OF_YEAR: 0x126,
  PS_YEAR: 0x127,
  SPLIT_MAX: 0x128,
  TOTAL_COMMANDS: 0x129,
  LIBRARY_COMMANDS: 0x12a,
  VENDOR_COMMANDS: 0x12b,
  NV_BUFFER_MAX: 0x12c,
  MODES: 0x12d,
  MAX_CAP_BUFFER: 0x12e,
  PERMANENT: 0x200,
  STARTUP_CLEAR: 0x201,
  HR_NV_INDEX: 0x202,
  HR_LOADED: 0x203,
  HR_LOADED_AVAIL: 0x204,
  HR_ACTIVE: 0x205,
  HR_ACTIVE_AVAIL: 0x206,
  HR_TRANSIENT_AVAIL: 0x207,
  HR_PERSISTENT: 0x208,
  HR_PERSISTENT_AVAIL: 0x209,
  NV_COUNTERS: 0x20a,
  NV_COUNTERS_AVAIL: 0x20b,
  ALGORITHM_SET: 0x20c,
  LOADED_CURVES: 0x20d,
  LOCKOUT_COUNTER: 0x20e,
  MAX_AUTH_FAIL: 0x20f,
  LOCKOUT_INTERVAL: 0x210,
  LOCKOUT_RECOVERY: 0x211,
  NV_WRITE_RECOVERY: 0x212,
  AUDIT_COUNTER_0: 0x213,
  AUDIT_COUNTER_1: 0x214,
} as const;

/** TPMA_OBJECT bits. */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18, // also "encrypt" for symmetric keys
  x509sign: 1 << 19,
} as const;

/** TPMA_NV bits; the index type TPM_NT lives in bits 4..7 (see TPM_NT and nvType()). */
export const TPMA_NV = {
  PPWRITE: 1 << 0,
  OWNERWRITE: 1 << 1,
  AUTHWRITE: 1 << 2,
  POLICYWRITE: 1 << 3,
  POLICY_DELETE: 1 << 10,
  WRITELOCKED: 1 << 11,
  WRITEALL: 1 << 12,
  WRITEDEFINE: 1 << 13,
  WRITE_STCLEAR: 1 << 14,
  GLOBALLOCK: 1 << 15,
  PPREAD: 1 << 16,
  OWNERREAD: 1 << 17,
  AUTHREAD: 1 << 18,
  POLICYREAD: 1 << 19,
  NO_DA: 1 << 25,
  ORDERLY: 1 << 26,
  CLEAR_STCLEAR: 1 << 27,
  READLOCKED: 1 << 28,
  WRITTEN: 1 << 29,
  PLATFORMCREATE: 1 << 30,
  READ_STCLEAR: 2 ** 31, // kept positive: bit 31 in a JS number
} as const;

/** TPM_NT: NV index types (TPMA_NV bits 4..7). Use `TPM_NT.COUNTER << 4` in attributes. */
export const TPM_NT = { ORDINARY: 0x0, COUNTER: 0x1, BITS: 0x2, EXTEND: 0x4, PIN_FAIL: 0x8, PIN_PASS: 0x9 } as const;

export function nvType(attributes: number): number {
  return (attributes >>> 4) & 0xf;
}

/** TPMA_SESSION bits: one definition, in hardware/crypto (which depends on nothing here). */
export { TPMA_SESSION } from './crypto/session.ts';

/** TPMA_ALGORITHM bits (in TPMS_ALG_PROPERTY). */
export const TPMA_ALGORITHM = {
  asymmetric: 1 << 0,
  symmetric: 1 << 1,
  hash: 1 << 2,
  object: 1 << 3,
  signing: 1 << 8,
  encrypting: 1 << 9,
  method: 1 << 10,
} as const;

/** TPM_GENERATED_VALUE: the magic that starts every TPMS_ATTEST the TPM makes. */
export const TPM_GENERATED_VALUE = 0xff544347;

/** Response codes handled specially by the execute path. */
export const TPM_RC = {
  SUCCESS: 0x000,
  INITIALIZE: 0x100,
  FAILURE: 0x101,
  YIELDED: 0x908,
  TESTING: 0x90a,
  RETRY: 0x922,
} as const;

/** Hash algorithms we can compute in software, with their digest sizes. */
export const HASH_INFO: Readonly<Record<number, { name: string; size: number }>> = {
  [TPM_ALG.SHA1]: { name: 'sha1', size: 20 },
  [TPM_ALG.SHA256]: { name: 'sha256', size: 32 },
  [TPM_ALG.SHA384]: { name: 'sha384', size: 48 },
  [TPM_ALG.SHA512]: { name: 'sha512', size: 64 },
  [TPM_ALG.SM3_256]: { name: 'sm3', size: 32 },
  [TPM_ALG.SHA3_256]: { name: 'sha3-256', size: 32 },
  [TPM_ALG.SHA3_384]: { name: 'sha3-384', size: 48 },
  [TPM_ALG.SHA3_512]: { name: 'sha3-512', size: 64 },
};

/** The digest size of a TPM hash algorithm, or undefined when it is not a hash we know. */
export function digestSize(hashAlg: number): number | undefined {
  return HASH_INFO[hashAlg]?.size;
}

/** Reverse lookup for messages: TPM_ALG 0x000b → "SHA256"; unknown values print as hex. */
export function algName(alg: number): string {
  for (const [k, v] of Object.entries(TPM_ALG)) if (v === alg) return k;
  return `0x${alg.toString(16).padStart(4, '0')}`;
}

export function ccName(cc: number): string {
  for (const [k, v] of Object.entries(TPM_CC)) if (v === cc) return `TPM2_${k}`;
  return `TPM_CC 0x${cc.toString(16)}`;
}

export function handleType(handle: number): number {
  return handle >>> 24;
}

export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}
