// Every TPM command we use, as one declarative definition each (Library Part 3): handles and which
// need authorization, parameter schema, response handle, response schema, and the effect on the
// TPM's entities. The execute path in command.ts runs them all.
import { TPM_CC } from './constants.ts';
import { defineCommand } from './command.ts';
import { struct, u8, u16, u32, u64, i32, yesNo } from './marshal.ts';
import {
  TPM2BDigest, TPM2BNonce, TPM2BAuth, TPM2BData, TPM2BName, TPM2BEvent, TPM2BMaxBuffer, TPM2BMaxNVBuffer, TPM2BTimeout,
  TPM2BSensitiveData, TPM2BPrivate, TPM2BIDObject, TPM2BEncryptedSecret, TPM2BAttest,
  TPM2BPublic, TPM2BSensitiveCreate, TPM2BSensitive, TPM2BCreationData, TPM2BNVPublic,
  TPMLPCRSelection, TPMLDigest, TPMLDigestValues, TPMTTKCreation, TPMTTKHashcheck, TPMTTKVerified, TPMTTKAuth,
  TPMTSigScheme, TPMTSignature, TPMTSymDef, TPMSTimeInfo, TPMSCapabilityData, TPMSContext,
} from './types.ts';

const none = struct('none', {});
const CC = TPM_CC;

// -- Start-up, capabilities, randomness, clock ----------------------------------------------------

export const Startup = defineCommand({
  name: 'TPM2_Startup', code: CC.Startup, handles: [], params: struct('Startup_In', { startupType: u16 }), response: none,
  effects: { resets: true },
});
export const Shutdown = defineCommand({ name: 'TPM2_Shutdown', code: CC.Shutdown, handles: [], params: struct('Shutdown_In', { shutdownType: u16 }), response: none });
export const SelfTest = defineCommand({ name: 'TPM2_SelfTest', code: CC.SelfTest, handles: [], params: struct('SelfTest_In', { fullTest: yesNo }), response: none });

export const GetCapability = defineCommand({
  name: 'TPM2_GetCapability', code: CC.GetCapability, handles: [],
  params: struct('GetCapability_In', { capability: u32, property: u32, propertyCount: u32 }),
  response: struct('GetCapability_Out', { moreData: yesNo, capabilityData: TPMSCapabilityData }),
});

export const GetRandom = defineCommand({
  name: 'TPM2_GetRandom', code: CC.GetRandom, handles: [],
  params: struct('GetRandom_In', { bytesRequested: u16 }),
  response: struct('GetRandom_Out', { randomBytes: TPM2BDigest }),
});
export const StirRandom = defineCommand({
  name: 'TPM2_StirRandom', code: CC.StirRandom, handles: [], params: struct('StirRandom_In', { inData: TPM2BSensitiveData }), response: none,
});

export const ReadClock = defineCommand({
  name: 'TPM2_ReadClock', code: CC.ReadClock, handles: [], params: none, response: struct('ReadClock_Out', { currentTime: TPMSTimeInfo }),
});

// -- Objects ----------------------------------------------------------------------------------------

const createIn = { inSensitive: TPM2BSensitiveCreate, inPublic: TPM2BPublic, outsideInfo: TPM2BData, creationPCR: TPMLPCRSelection } as const;

export const CreatePrimary = defineCommand({
  name: 'TPM2_CreatePrimary', code: CC.CreatePrimary, handles: [{ name: 'primaryHandle', auth: 'user' }],
  params: struct('CreatePrimary_In', createIn),
  responseHandle: 'objectHandle',
  response: struct('CreatePrimary_Out', {
    outPublic: TPM2BPublic, creationData: TPM2BCreationData, creationHash: TPM2BDigest, creationTicket: TPMTTKCreation, name: TPM2BName,
  }),
  effects: { creates: 'object', nameOf: { field: 'name', handle: 'response' } },
});

export const Create = defineCommand({
  name: 'TPM2_Create', code: CC.Create, handles: [{ name: 'parentHandle', auth: 'user' }],
  params: struct('Create_In', createIn),
  response: struct('Create_Out', {
    outPrivate: TPM2BPrivate, outPublic: TPM2BPublic, creationData: TPM2BCreationData, creationHash: TPM2BDigest, creationTicket: TPMTTKCreation,
  }),
});

export const Load = defineCommand({
  name: 'TPM2_Load', code: CC.Load, handles: [{ name: 'parentHandle', auth: 'user' }],
  params: struct('Load_In', { inPrivate: TPM2BPrivate, inPublic: TPM2BPublic }),
  responseHandle: 'objectHandle',
  response: struct('Load_Out', { name: TPM2BName }),
  effects: { creates: 'object', nameOf: { field: 'name', handle: 'response' } },
});

export const LoadExternal = defineCommand({
  name: 'TPM2_LoadExternal', code: CC.LoadExternal, handles: [],
  params: struct('LoadExternal_In', { inPrivate: TPM2BSensitive, inPublic: TPM2BPublic, hierarchy: u32 }),
  responseHandle: 'objectHandle',
  response: struct('LoadExternal_Out', { name: TPM2BName }),
  effects: { creates: 'object', nameOf: { field: 'name', handle: 'response' } },
});

export const ReadPublic = defineCommand({
  name: 'TPM2_ReadPublic', code: CC.ReadPublic, handles: [{ name: 'objectHandle' }], params: none,
  response: struct('ReadPublic_Out', { outPublic: TPM2BPublic, name: TPM2BName, qualifiedName: TPM2BName }),
  effects: { nameOf: { field: 'name', handle: 0 } },
});

export const EvictControl = defineCommand({
  name: 'TPM2_EvictControl', code: CC.EvictControl, handles: [{ name: 'auth', auth: 'user' }, { name: 'objectHandle' }],
  params: struct('EvictControl_In', { persistentHandle: u32 }), response: none,
  effects: { renames: [{ handle: 1 }, { param: 'persistentHandle' }] },
});

export const FlushContext = defineCommand({
  name: 'TPM2_FlushContext', code: CC.FlushContext, handles: [], params: struct('FlushContext_In', { flushHandle: u32 }), response: none,
  effects: { removes: [{ param: 'flushHandle' }] },
});

export const ContextSave = defineCommand({
  name: 'TPM2_ContextSave', code: CC.ContextSave, handles: [{ name: 'saveHandle' }], params: none,
  response: struct('ContextSave_Out', { context: TPMSContext }),
});

export const ContextLoad = defineCommand({
  name: 'TPM2_ContextLoad', code: CC.ContextLoad, handles: [], params: struct('ContextLoad_In', { context: TPMSContext }),
  responseHandle: 'loadedHandle', response: none,
  effects: { creates: 'context' },
});

export const Unseal = defineCommand({
  name: 'TPM2_Unseal', code: CC.Unseal, handles: [{ name: 'itemHandle', auth: 'user' }], params: none,
  response: struct('Unseal_Out', { outData: TPM2BSensitiveData }),
});

export const ObjectChangeAuth = defineCommand({
  name: 'TPM2_ObjectChangeAuth', code: CC.ObjectChangeAuth, handles: [{ name: 'objectHandle', auth: 'admin' }, { name: 'parentHandle' }],
  params: struct('ObjectChangeAuth_In', { newAuth: TPM2BAuth }), response: struct('ObjectChangeAuth_Out', { outPrivate: TPM2BPrivate }),
});

// -- NV -----------------------------------------------------------------------------------------------

export const NV_DefineSpace = defineCommand({
  name: 'TPM2_NV_DefineSpace', code: CC.NV_DefineSpace, handles: [{ name: 'authHandle', auth: 'user' }],
  params: struct('NV_DefineSpace_In', { auth: TPM2BAuth, publicInfo: TPM2BNVPublic }), response: none,
});

export const NV_UndefineSpace = defineCommand({
  name: 'TPM2_NV_UndefineSpace', code: CC.NV_UndefineSpace, handles: [{ name: 'authHandle', auth: 'user' }, { name: 'nvIndex' }],
  params: none, response: none, effects: { removes: [{ handle: 1 }] },
});

export const NV_ReadPublic = defineCommand({
  name: 'TPM2_NV_ReadPublic', code: CC.NV_ReadPublic, handles: [{ name: 'nvIndex' }], params: none,
  response: struct('NV_ReadPublic_Out', { nvPublic: TPM2BNVPublic, nvName: TPM2BName }),
  effects: { nameOf: { field: 'nvName', handle: 0 } },
});

const nvAuth = [{ name: 'authHandle', auth: 'user' }, { name: 'nvIndex' }] as const;
const nvRenamed = { renames: [{ handle: 1 }] } as const;

export const NV_Read = defineCommand({
  name: 'TPM2_NV_Read', code: CC.NV_Read, handles: nvAuth,
  params: struct('NV_Read_In', { size: u16, offset: u16 }), response: struct('NV_Read_Out', { data: TPM2BMaxNVBuffer }),
});
export const NV_Write = defineCommand({
  name: 'TPM2_NV_Write', code: CC.NV_Write, handles: nvAuth,
  params: struct('NV_Write_In', { data: TPM2BMaxNVBuffer, offset: u16 }), response: none, effects: nvRenamed,
});
export const NV_WriteLock = defineCommand({ name: 'TPM2_NV_WriteLock', code: CC.NV_WriteLock, handles: nvAuth, params: none, response: none, effects: nvRenamed });
export const NV_ReadLock = defineCommand({ name: 'TPM2_NV_ReadLock', code: CC.NV_ReadLock, handles: nvAuth, params: none, response: none, effects: nvRenamed });
export const NV_Increment = defineCommand({ name: 'TPM2_NV_Increment', code: CC.NV_Increment, handles: nvAuth, params: none, response: none, effects: nvRenamed });
export const NV_Extend = defineCommand({
  name: 'TPM2_NV_Extend', code: CC.NV_Extend, handles: nvAuth, params: struct('NV_Extend_In', { data: TPM2BMaxNVBuffer }), response: none, effects: nvRenamed,
});
export const NV_SetBits = defineCommand({
  name: 'TPM2_NV_SetBits', code: CC.NV_SetBits, handles: nvAuth, params: struct('NV_SetBits_In', { bits: u64 }), response: none, effects: nvRenamed,
});
// The AK (signHandle) signs a TPMS_ATTEST of type TPM_ST_ATTEST_NV over `size` bytes at `offset`
// of the index, read with authHandle's authorization (the index itself, owner or platform).
export const NV_Certify = defineCommand({
  name: 'TPM2_NV_Certify', code: CC.NV_Certify, handles: [{ name: 'signHandle', auth: 'user' }, { name: 'authHandle', auth: 'user' }, { name: 'nvIndex' }],
  params: struct('NV_Certify_In', { qualifyingData: TPM2BData, inScheme: TPMTSigScheme, size: u16, offset: u16 }),
  response: struct('NV_Certify_Out', { certifyInfo: TPM2BAttest, signature: TPMTSignature }),
});

// -- Sessions and policy ------------------------------------------------------------------------------

export const StartAuthSession = defineCommand({
  name: 'TPM2_StartAuthSession', code: CC.StartAuthSession, handles: [{ name: 'tpmKey' }, { name: 'bind' }],
  params: struct('StartAuthSession_In', { nonceCaller: TPM2BNonce, encryptedSalt: TPM2BEncryptedSecret, sessionType: u8, symmetric: TPMTSymDef, authHash: u16 }),
  responseHandle: 'sessionHandle',
  response: struct('StartAuthSession_Out', { nonceTPM: TPM2BNonce }),
  effects: { creates: 'session' },
});

export const PolicyRestart = defineCommand({ name: 'TPM2_PolicyRestart', code: CC.PolicyRestart, handles: [{ name: 'sessionHandle' }], params: none, response: none });

export const PolicySecret = defineCommand({
  name: 'TPM2_PolicySecret', code: CC.PolicySecret, handles: [{ name: 'authHandle', auth: 'user' }, { name: 'policySession' }],
  params: struct('PolicySecret_In', { nonceTPM: TPM2BNonce, cpHashA: TPM2BDigest, policyRef: TPM2BNonce, expiration: i32 }),
  response: struct('PolicySecret_Out', { timeout: TPM2BTimeout, policyTicket: TPMTTKAuth }),
});

export const PolicyOR = defineCommand({
  name: 'TPM2_PolicyOR', code: CC.PolicyOR, handles: [{ name: 'policySession' }], params: struct('PolicyOR_In', { pHashList: TPMLDigest }), response: none,
});

export const PolicyCommandCode = defineCommand({
  name: 'TPM2_PolicyCommandCode', code: CC.PolicyCommandCode, handles: [{ name: 'policySession' }], params: struct('PolicyCommandCode_In', { code: u32 }), response: none,
});

export const PolicyPCR = defineCommand({
  name: 'TPM2_PolicyPCR', code: CC.PolicyPCR, handles: [{ name: 'policySession' }], params: struct('PolicyPCR_In', { pcrDigest: TPM2BDigest, pcrs: TPMLPCRSelection }), response: none,
});

export const PolicyAuthValue = defineCommand({ name: 'TPM2_PolicyAuthValue', code: CC.PolicyAuthValue, handles: [{ name: 'policySession' }], params: none, response: none });
export const PolicyPassword = defineCommand({ name: 'TPM2_PolicyPassword', code: CC.PolicyPassword, handles: [{ name: 'policySession' }], params: none, response: none });

export const PolicyGetDigest = defineCommand({
  name: 'TPM2_PolicyGetDigest', code: CC.PolicyGetDigest, handles: [{ name: 'policySession' }], params: none,
  response: struct('PolicyGetDigest_Out', { policyDigest: TPM2BDigest }),
});

// -- Credentials, attestation, signing -----------------------------------------------------------------

export const MakeCredential = defineCommand({
  name: 'TPM2_MakeCredential', code: CC.MakeCredential, handles: [{ name: 'handle' }],
  params: struct('MakeCredential_In', { credential: TPM2BDigest, objectName: TPM2BName }),
  response: struct('MakeCredential_Out', { credentialBlob: TPM2BIDObject, secret: TPM2BEncryptedSecret }),
});

export const ActivateCredential = defineCommand({
  name: 'TPM2_ActivateCredential', code: CC.ActivateCredential, handles: [{ name: 'activateHandle', auth: 'admin' }, { name: 'keyHandle', auth: 'user' }],
  params: struct('ActivateCredential_In', { credentialBlob: TPM2BIDObject, secret: TPM2BEncryptedSecret }),
  response: struct('ActivateCredential_Out', { certInfo: TPM2BDigest }),
});

export const Certify = defineCommand({
  name: 'TPM2_Certify', code: CC.Certify, handles: [{ name: 'objectHandle', auth: 'admin' }, { name: 'signHandle', auth: 'user' }],
  params: struct('Certify_In', { qualifyingData: TPM2BData, inScheme: TPMTSigScheme }),
  response: struct('Certify_Out', { certifyInfo: TPM2BAttest, signature: TPMTSignature }),
});

export const CertifyCreation = defineCommand({
  name: 'TPM2_CertifyCreation', code: CC.CertifyCreation, handles: [{ name: 'signHandle', auth: 'user' }, { name: 'objectHandle' }],
  params: struct('CertifyCreation_In', { qualifyingData: TPM2BData, creationHash: TPM2BDigest, inScheme: TPMTSigScheme, creationTicket: TPMTTKCreation }),
  response: struct('CertifyCreation_Out', { certifyInfo: TPM2BAttest, signature: TPMTSignature }),
});

export const Quote = defineCommand({
  name: 'TPM2_Quote', code: CC.Quote, handles: [{ name: 'signHandle', auth: 'user' }],
  params: struct('Quote_In', { qualifyingData: TPM2BData, inScheme: TPMTSigScheme, PCRselect: TPMLPCRSelection }),
  response: struct('Quote_Out', { quoted: TPM2BAttest, signature: TPMTSignature }),
});

export const GetTime = defineCommand({
  name: 'TPM2_GetTime', code: CC.GetTime, handles: [{ name: 'privacyAdminHandle', auth: 'user' }, { name: 'signHandle', auth: 'user' }],
  params: struct('GetTime_In', { qualifyingData: TPM2BData, inScheme: TPMTSigScheme }),
  response: struct('GetTime_Out', { timeInfo: TPM2BAttest, signature: TPMTSignature }),
});

export const Sign = defineCommand({
  name: 'TPM2_Sign', code: CC.Sign, handles: [{ name: 'keyHandle', auth: 'user' }],
  params: struct('Sign_In', { digest: TPM2BDigest, inScheme: TPMTSigScheme, validation: TPMTTKHashcheck }),
  response: struct('Sign_Out', { signature: TPMTSignature }),
});

export const VerifySignature = defineCommand({
  name: 'TPM2_VerifySignature', code: CC.VerifySignature, handles: [{ name: 'keyHandle' }],
  params: struct('VerifySignature_In', { digest: TPM2BDigest, signature: TPMTSignature }),
  response: struct('VerifySignature_Out', { validation: TPMTTKVerified }),
});

// -- Hashing ----------------------------------------------------------------------------------------------

export const Hash = defineCommand({
  name: 'TPM2_Hash', code: CC.Hash, handles: [],
  params: struct('Hash_In', { data: TPM2BMaxBuffer, hashAlg: u16, hierarchy: u32 }),
  response: struct('Hash_Out', { outHash: TPM2BDigest, validation: TPMTTKHashcheck }),
});

export const HashSequenceStart = defineCommand({
  name: 'TPM2_HashSequenceStart', code: CC.HashSequenceStart, handles: [],
  params: struct('HashSequenceStart_In', { auth: TPM2BAuth, hashAlg: u16 }),
  responseHandle: 'sequenceHandle', response: none,
  effects: { creates: 'sequence' },
});

export const SequenceUpdate = defineCommand({
  name: 'TPM2_SequenceUpdate', code: CC.SequenceUpdate, handles: [{ name: 'sequenceHandle', auth: 'user' }],
  params: struct('SequenceUpdate_In', { buffer: TPM2BMaxBuffer }), response: none,
});

export const SequenceComplete = defineCommand({
  name: 'TPM2_SequenceComplete', code: CC.SequenceComplete, handles: [{ name: 'sequenceHandle', auth: 'user' }],
  params: struct('SequenceComplete_In', { buffer: TPM2BMaxBuffer, hierarchy: u32 }),
  response: struct('SequenceComplete_Out', { result: TPM2BDigest, validation: TPMTTKHashcheck }),
  effects: { removes: [{ handle: 0 }] },
});

// -- PCRs ---------------------------------------------------------------------------------------------------

export const PCR_Read = defineCommand({
  name: 'TPM2_PCR_Read', code: CC.PCR_Read, handles: [],
  params: struct('PCR_Read_In', { pcrSelectionIn: TPMLPCRSelection }),
  response: struct('PCR_Read_Out', { pcrUpdateCounter: u32, pcrSelectionOut: TPMLPCRSelection, pcrValues: TPMLDigest }),
});

export const PCR_Extend = defineCommand({
  name: 'TPM2_PCR_Extend', code: CC.PCR_Extend, handles: [{ name: 'pcrHandle', auth: 'user' }],
  params: struct('PCR_Extend_In', { digests: TPMLDigestValues }), response: none,
});

export const PCR_Event = defineCommand({
  name: 'TPM2_PCR_Event', code: CC.PCR_Event, handles: [{ name: 'pcrHandle', auth: 'user' }],
  params: struct('PCR_Event_In', { eventData: TPM2BEvent }), response: struct('PCR_Event_Out', { digests: TPMLDigestValues }),
});

export const PCR_Reset = defineCommand({
  name: 'TPM2_PCR_Reset', code: CC.PCR_Reset, handles: [{ name: 'pcrHandle', auth: 'user' }], params: none, response: none,
});

// -- Dictionary attack ----------------------------------------------------------------------------------------

export const DictionaryAttackLockReset = defineCommand({
  name: 'TPM2_DictionaryAttackLockReset', code: CC.DictionaryAttackLockReset, handles: [{ name: 'lockHandle', auth: 'user' }], params: none, response: none,
});
