// Public surface of hardware/crypto: the TPM stack's pure cryptography (no TPM I/O).
export { TpmCryptoError, type TpmCryptoErrorCode } from './errors.ts';
export { concat, u16, u32, tpm2b, toHex, fromHex, equalBytes, ByteReader } from './bytes.ts';
export { type HashAlg, HASH_ALG_ID, isHashAlg, digestSize, hashAlgId, hashAlgFromId, hash, hmac } from './hash.ts';
export { KDFa, KDFe } from './kdf.ts';
export { TPMA_SESSION, stripTrailingZeros, sessionKey, cpHash, rpHash, type HmacKeyInput, sessionHmacKey, commandHmac, responseHmac, checkResponseHmac } from './session.ts';
export { type ParamSymmetric, type ParamSession, parameterKeyMaterial, encryptCommandParameter, decryptResponseParameter, decryptCommandParameter, encryptResponseParameter } from './paramenc.ts';
export { type EccCurve, curveParams, curveFromTpmId, checkPoint, ecdsaVerifyDigest } from './ecc.ts';
export { type SymmetricDef, type RsaPublicKey, type EccPublicKey, type PublicKeyBytes, type TpmPublicKey, toKeyObject, fromKeyObject, toPem, fromPem } from './pubkey.ts';
export { type SignatureScheme, type DigestSignature, ecdsaToDer, ecdsaFromDer, verifyDigestSignature } from './signature.ts';
export { type SharedSecret, type ShareSecretOptions, MAX_ENCRYPTED_SECRET, shareSecretWith, recoverSharedSecret, encryptSalt, parseEccPointSecret, checkEncryptedSecret } from './secret.ts';
export { type MakeCredentialResult, MAX_ID_OBJECT, makeCredential, wrapCredential, unwrapCredential, parseIdObject, activateCredentialWithKey } from './credential.ts';
export { TPM2_TOOLS_MAGIC, CREDENTIAL_FILE_VERSION, encodeCredentialFile, parseCredentialFile } from './credfile.ts';
export { type NvPublic, objectName, handleName, marshalNvPublic, nvName, parseName } from './name.ts';
export { TPM_CC, startDigest, policySecret, policyOR, policyCommandCode, policyAuthValue, policyPassword, policyAuthorizeNV } from './policy.ts';
export { TPM_RH_ENDORSEMENT, type EkPolicyHash, EK_POLICY_NV_INDEX, EK_POLICY_NV_ATTRIBUTES, EK_POLICY_PUBLISHED, ekPolicyA, ekPolicyIndexName, ekPolicyC, ekPolicyB } from './ekpolicy.ts';
