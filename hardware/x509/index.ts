// Public surface of hardware/x509: a tolerant X.509 reader for TPM EK certificates and the EK
// chain check against a store of vendor CAs.
export { X509Error, EKChainError, type X509ErrorCode, type EKChainErrorCode } from './errors.ts';
export { DEFAULT_LIMITS, type DERLimits } from './der.ts';
export { OID } from './oids.ts';
export { sameName, nameAttribute, type X509Name, type NameAttribute } from './name.ts';
export type { AlgorithmIdentifier, SignatureAlgorithm, HashName } from './algorithms.ts';
export type { X509PublicKey, CurveName } from './spki.ts';
export type { X509Extension, KeyUsageName, GeneralName, TPMIdentity, TPMSpecification, DecodedExtensions } from './extensions.ts';
export { parseCertificate, parseCertificates, MAX_CERTIFICATE_BYTES, MAX_CONCATENATED, type X509Cert, type ParseOptions } from './certificate.ts';
export { verifyCertificateSignature, type SignatureCheck } from './signature.ts';
export { pemCertificates, toPEM, MAX_PEM_TEXT, MAX_PEM_BLOCKS } from './pem.ts';
export { EKRootStore, anchorsFromPEM, anchorFromDER, type EKAnchor } from './store.ts';
export {
  verifyEKChain, describeCert, MAX_INTERMEDIATES,
  type VerifyEKChainOptions, type ValidityPolicy, type EKChainLink, type EKChainResult,
} from './chain.ts';
export { tpmVendor, type TPMVendor } from './vendors.ts';
