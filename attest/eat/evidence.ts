// tollgate evidence on the wire: the claims set (claims.ts) as the payload of a tagged COSE_Sign1
// signed by the device key, protected header {1: alg, 16: "application/eat+cwt" (+ 4: kid)}.
import { parseAttest } from '../../hardware/index.ts';
import {
  decodeCBOR, decodeSign1, encodeCBOR, isCborMap, signSign1, verifySign1, COSE_HEADER,
  type CborKey, type CborMap, type CoseAlg, type CoseSigner, type CoseVerifyKey, type Sign1,
} from '../cose/index.ts';
import {
  CLAIM, EAT_MEDIA_TYPE, claimsDigest, claimsFromCbor, quoteExtraData, sealClaims,
  type EvidenceClaims, type ParsedTpmClaims, type TpmAttestation,
} from './claims.ts';
import { EatError } from './errors.ts';

/** Largest evidence accepted (event logs make up most of it). */
export const MAX_EVIDENCE_BYTES = 32 * 1024 * 1024;
/** Caps for the claims payload: shallow, but room for a long installed-software list. */
const PAYLOAD_LIMITS = { maxDepth: 8, maxItems: 1_000_000 } as const;

/** Signs the claims (which must carry a bound quote) as tollgate evidence. */
export async function encodeEvidence(claims: EvidenceClaims, signer: CoseSigner): Promise<Uint8Array> {
  if (!claims.quote) throw new EatError('EAT_QUOTE_MISSING', 'The claims carry no quote yet: quote with qualifyingData = quoteExtraData(claims), then withQuote(claims, quote).');
  const { payload } = sealClaims(claims, claims.quote);
  return signSign1(payload, signer, { protectedHeader: new Map([[COSE_HEADER.typ, EAT_MEDIA_TYPE]]) });
}

export interface DecodedEvidence {
  claims: EvidenceClaims & { quote: TpmAttestation };
  /** The TPM structures inside the claims, parsed. */
  parsed: ParsedTpmClaims & { quote: NonNullable<ParsedTpmClaims['quote']> };
  /** The claims map as received (what the claims digest covers). */
  rawClaims: CborMap;
  /** Claim keys the profile does not define (kept, and covered by the digest). */
  unknownClaims: CborKey[];
  /** SHA-256 of the claims without the quote; the quote's extraData is SHA-256(nonce ‖ this). */
  claimsDigest: Uint8Array;
  /** SHA-256(nonce ‖ claimsDigest): what the quote's extraData must be. */
  expectedExtraData: Uint8Array;
  /** Whether the quote's extraData is expectedExtraData (always true unless decoded with binding: 'report'). */
  bindingValid: boolean;
  alg: CoseAlg;
  kid?: Uint8Array;
  protectedHeader: CborMap;
  /** The COSE_Sign1, for verifyEvidenceSignature(). */
  sign1: Sign1;
}

/**
 * Decodes tollgate evidence and checks everything that needs no key: the COSE_Sign1 structure
 * (tag 18, protected alg, typ application/eat+cwt), the claims against the profile, the TPM
 * structures' shapes, and that the quote's extraData binds the nonce and all other claims.
 * It does NOT check any signature: verifyEvidenceSignature() needs the device key from enrolment,
 * and the quote and key certification need the enrolled AK.
 */
export function decodeEvidence(bytes: Uint8Array, options: { maxBytes?: number; binding?: 'check' | 'report' } = {}): DecodedEvidence {
  const maxBytes = options.maxBytes ?? MAX_EVIDENCE_BYTES;
  if (!(bytes instanceof Uint8Array)) throw new EatError('EAT_MALFORMED', 'The evidence is not a byte array.');
  if (bytes.length > maxBytes) throw new EatError('EAT_TOO_LARGE', `The evidence is ${bytes.length} bytes, more than the ${maxBytes}-byte limit.`, { details: { size: bytes.length, maxBytes } });
  // The COSE wrapper is 4 items and two small header maps.
  const sign1 = decodeSign1(bytes, { tag: 'required', maxBytes, maxDepth: 2, maxItems: 64 });
  const typ = sign1.protectedHeader.get(COSE_HEADER.typ);
  if (typ !== EAT_MEDIA_TYPE) {
    throw new EatError('EAT_MEDIA_TYPE_MISMATCH', `The evidence's protected typ header is ${typ === undefined ? 'missing' : JSON.stringify(String(typ))}; tollgate evidence is ${EAT_MEDIA_TYPE}.`);
  }
  const payload = decodeCBOR(sign1.payload, { maxBytes, ...PAYLOAD_LIMITS });
  if (!isCborMap(payload)) throw new EatError('EAT_MALFORMED', 'The evidence payload is not a CWT claims map.');
  const { claims, parsed, unknown } = claimsFromCbor(payload);
  if (!claims.quote || !parsed.quote) throw new EatError('EAT_CLAIM_MISSING', `The evidence has no quote claim (key ${CLAIM.quote}), which the tollgate profile requires.`, { details: { claim: 'quote' } });
  // One digest of the (possibly large) claims map, used twice.
  const digest = claimsDigest(payload);
  const expected = quoteExtraData(claims.nonce, digest);
  const bindingValid = Buffer.from(parsed.quote.attest.extraData).equals(expected);
  // An appraiser reports a broken binding as a failed claim, next to the signature checks.
  if (!bindingValid && options.binding !== 'report') {
    throw new EatError('EAT_QUOTE_BINDING_MISMATCH', "The quote's extraData is not SHA-256(nonce ‖ claims digest): the quote was not made for these claims (claims changed after quoting, or a quote replayed from other evidence).", {
      details: { extraData: Buffer.from(parsed.quote.attest.extraData).toString('hex'), expected: Buffer.from(expected).toString('hex') },
    });
  }
  return {
    claims: claims as DecodedEvidence['claims'],
    parsed: parsed as DecodedEvidence['parsed'],
    rawClaims: payload,
    unknownClaims: unknown,
    claimsDigest: digest,
    expectedExtraData: expected,
    bindingValid,
    alg: sign1.alg,
    ...(sign1.kid ? { kid: sign1.kid } : {}),
    protectedHeader: sign1.protectedHeader,
    sign1,
  };
}

/** Verifies the COSE signature with the device key (a KeyObject or JWK); CoseError when it fails. */
export function verifyEvidenceSignature(decoded: DecodedEvidence, deviceKey: CoseVerifyKey): void {
  verifySign1(decoded.sign1, deviceKey);
}

/** The quote's extraData as the TPM signed it (for display and checks). */
export function quoteExtraDataOf(quote: TpmAttestation): Uint8Array {
  return parseAttest(quote.attest).extraData;
}
