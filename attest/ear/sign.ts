// Signed EARs, signed by the verifier's key: JSON as a JWT (JWS compact serialization, ES256 or
// ES384, as Veraison issues them) and CBOR as a CWT in a tagged COSE_Sign1.
import { createHash, verify as nodeVerify } from 'node:crypto';
import { parseJSON } from '../encoding.ts';
import { AttestError } from '../errors.ts';
import {
  COSE_HEADER, coseAlgInfo, decodeCBOR, decodeSign1, encodeCBOR, isCoseAlg, publicKeyOf, rawSignature, signSign1, verifySign1,
  type CoseAlg, type CoseSigner, type CoseVerifyKey, type Sign1,
} from '../cose/index.ts';
import { EarError } from './errors.ts';
import { decodeBase64Url, earFromCbor, earFromJSON, earToCbor, earToJSON, EAR_PROFILE, type EAR } from './model.ts';

/** HTTP content types of the two forms (RFC 9782 media types with the EAR profile). */
export const EAR_JWT_CONTENT_TYPE = `application/eat+jwt; eat_profile="${EAR_PROFILE}"`;
export const EAR_CWT_CONTENT_TYPE = `application/eat+cwt; eat_profile="${EAR_PROFILE}"`;

/** Room for ear.raw-evidence carrying a full evidence blob. */
export const MAX_EAR_BYTES = 64 * 1024 * 1024;

const JOSE_ALG: Readonly<Record<string, CoseAlg>> = { ES256: -7, ES384: -35 };

// ------------------------------------------------------------------------------------------------
// JWT

/** Signs the EAR as a JWT: header {alg, typ: "JWT", kid?}, payload = the JSON claims. */
export async function signEARJWT(ear: EAR, signer: CoseSigner, options: { kid?: string } = {}): Promise<string> {
  if (!isCoseAlg(signer.alg)) throw new EarError('EAR_KEY_MISMATCH', `The signer's algorithm ${String(signer.alg)} is not ES256 or ES384.`);
  const header = { alg: coseAlgInfo(signer.alg).name, typ: 'JWT', ...(options.kid ? { kid: options.kid } : {}) };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(earToJSON(ear))).toString('base64url')}`;
  const bytes = Buffer.from(input, 'ascii');
  const { r, s } = await signWith(signer, createHash(coseAlgInfo(signer.alg).hash).update(bytes).digest(), bytes);
  return `${input}.${Buffer.from(rawSignature(signer.alg, r, s)).toString('base64url')}`;
}

async function signWith(signer: CoseSigner, digest: Uint8Array, tbs: Uint8Array): Promise<{ r: Uint8Array; s: Uint8Array }> {
  try {
    return await signer.sign(digest, tbs);
  } catch (e) {
    if (e instanceof AttestError) throw e;
    throw new EarError('EAR_KEY_MISMATCH', `The EAR signer failed: ${(e as Error).message}`, { cause: e });
  }
}

export interface DecodedEARJWT {
  ear: EAR;
  header: Record<string, unknown>;
  alg: CoseAlg;
  /** What the signature covers: "<header b64>.<payload b64>". */
  signingInput: string;
  signature: Uint8Array;
}

/** Parses a JWT EAR without verifying its signature (for display; verifyEARJWT for trust). */
export function decodeEARJWT(token: string): DecodedEARJWT {
  if (typeof token !== 'string') throw new EarError('EAR_MALFORMED', 'The EAR JWT is not a string.');
  if (token.length > MAX_EAR_BYTES) throw new EarError('EAR_TOO_LARGE', `The EAR JWT is ${token.length} characters, more than the ${MAX_EAR_BYTES} accepted.`);
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new EarError('EAR_MALFORMED', `The EAR JWT has ${parts.length} part(s); a JWS compact serialization has 3 (header.payload.signature).`);
  const [h, p, sig] = parts as [string, string, string];
  const header = jsonPart(h, 'header');
  const alg = header.alg;
  if (typeof alg !== 'string' || !Object.hasOwn(JOSE_ALG, alg)) throw new EarError('EAR_ALG_UNSUPPORTED', `The EAR JWT's alg is ${JSON.stringify(alg)}; tollgate accepts ES256 and ES384 (never "none").`);
  if (header.crit !== undefined) throw new EarError('EAR_MALFORMED', 'The EAR JWT header has crit, and tollgate understands no JWS extension.');
  if (header.b64 !== undefined) throw new EarError('EAR_MALFORMED', 'The EAR JWT header has b64; unencoded payloads are not accepted.');
  const ear = earFromJSON(jsonPart(p, 'payload'));
  return { ear, header, alg: JOSE_ALG[alg]!, signingInput: `${h}.${p}`, signature: decodeBase64Url(sig, 'The EAR JWT signature', 'EAR_MALFORMED') };
}

function jsonPart(part: string, what: string): Record<string, unknown> {
  const bytes = decodeBase64Url(part, `The EAR JWT ${what}`, 'EAR_MALFORMED');
  let v: unknown;
  try {
    v = parseJSON(bytes, `EAR JWT ${what}`, { maxBytes: MAX_EAR_BYTES, maxDepth: 16 });
  } catch (e) {
    throw new EarError('EAR_MALFORMED', `The EAR JWT ${what} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EarError('EAR_MALFORMED', `The EAR JWT ${what} is not a JSON object.`);
  return v as Record<string, unknown>;
}

/** Verifies a JWT EAR with the verifier's public key and returns the EAR. */
export function verifyEARJWT(token: string, key: CoseVerifyKey): EAR {
  const d = decodeEARJWT(token);
  const info = coseAlgInfo(d.alg);
  const pub = publicKeyOf(key);
  if (pub.asymmetricKeyDetails?.namedCurve !== info.curve) throw new EarError('EAR_KEY_MISMATCH', `The EAR is signed with ${info.name}, which needs a ${info.crv} key.`);
  let ok = false;
  try {
    ok = d.signature.length === 2 * info.size && nodeVerify(info.hash, Buffer.from(d.signingInput, 'ascii'), { key: pub, dsaEncoding: 'ieee-p1363' }, d.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new EarError('EAR_SIGNATURE_INVALID', 'The EAR JWT signature does not verify with the verifier key: it was altered or signed by another key.');
  return d.ear;
}

// ------------------------------------------------------------------------------------------------
// CWT

/** Signs the EAR as a CWT: a tagged COSE_Sign1, protected {1: alg, 16: "application/eat+cwt"}. */
export async function signEARCWT(ear: EAR, signer: CoseSigner): Promise<Uint8Array> {
  return signSign1(encodeCBOR(earToCbor(ear)), signer, { protectedHeader: new Map([[COSE_HEADER.typ, 'application/eat+cwt']]) });
}

/** Parses a CWT EAR without verifying its signature. */
export function decodeEARCWT(bytes: Uint8Array): { ear: EAR; sign1: Sign1 } {
  if (bytes instanceof Uint8Array && bytes.length > MAX_EAR_BYTES) throw new EarError('EAR_TOO_LARGE', `The EAR CWT is ${bytes.length} bytes, more than the ${MAX_EAR_BYTES} accepted.`);
  const sign1 = decodeSign1(bytes, { tag: 'required', maxBytes: MAX_EAR_BYTES, maxDepth: 2, maxItems: 64 });
  const payload = decodeCBOR(sign1.payload, { maxBytes: MAX_EAR_BYTES, maxDepth: 8, maxItems: 200_000 });
  return { ear: earFromCbor(payload), sign1 };
}

/** Verifies a CWT EAR with the verifier's public key and returns the EAR. */
export function verifyEARCWT(bytes: Uint8Array, key: CoseVerifyKey): EAR {
  const { ear, sign1 } = decodeEARCWT(bytes);
  verifySign1(sign1, key);
  return ear;
}
