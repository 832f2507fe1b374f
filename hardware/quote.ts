// Quotes: TPM2_Quote over a PCR selection with a caller's nonce, and their verification in pure
// TypeScript (Node crypto only). A verifier accepts a quote when
//   1. the TPMS_ATTEST parses, starts with TPM_GENERATED_VALUE and is of type TPM_ST_ATTEST_QUOTE,
//   2. the signature over H(TPMS_ATTEST) verifies with the AK public key (ECDSA, RSASSA, RSAPSS),
//   3. extraData equals the nonce it sent,
//   4. the quoted PCR selection equals the selection of the PCR values it was given, and
//   5. pcrDigest = H(selected PCR values, in the quote's selection order), H = the signature's hash.
// Each failure has its own error code, so an appraiser can tell a replay from a changed PCR.
import { constants as nodeConstants, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { TollgateError, type ErrorClass } from './errors.ts';
import { TPM_ALG, TPM_ST, TPM_GENERATED_VALUE, TPM_PT, HASH_INFO, hex32, algName } from './constants.ts';
import { unmarshal } from './marshal.ts';
import { TPMMarshalError } from './tpmerrors.ts';
import { TPMSAttest, TPMTSignature, selectedPCRs, type TPMLPCRSelection, type TPMSQuoteInfo, type TPMSSignatureECC, type TPMSSignatureRSA } from './types.ts';
import { toKeyObject, curveParams, TpmCryptoError, type PublicKeyBytes } from './crypto/index.ts';
import { publicKeyOf } from './keys.ts';
import { bankName, formatPCRList } from './tpm2tools.ts';
import type { TPM, PCRValue } from './tpm.ts';
import type { Authorization } from './session.ts';
import type { TPMTPublic } from './types.ts';

export type QuoteErrorCode =
  | 'QUOTE_NONCE_INVALID'
  | 'QUOTE_PCRS_INVALID'
  | 'QUOTE_MALFORMED'
  | 'QUOTE_BAD_MAGIC'
  | 'QUOTE_WRONG_TYPE'
  | 'QUOTE_SIGNATURE_MALFORMED'
  | 'QUOTE_SIGNATURE_UNSUPPORTED'
  | 'QUOTE_KEY_MISMATCH'
  | 'QUOTE_SIGNATURE_INVALID'
  | 'QUOTE_NONCE_MISMATCH'
  | 'QUOTE_PCR_SELECTION_MISMATCH'
  | 'QUOTE_PCR_VALUES_INVALID'
  | 'QUOTE_PCR_DIGEST_MISMATCH'
  | 'QUOTE_PCRS_CHANGING';

const CLASS: Record<QuoteErrorCode, ErrorClass> = {
  QUOTE_NONCE_INVALID: 'usage',
  QUOTE_PCRS_INVALID: 'usage',
  QUOTE_MALFORMED: 'denied',
  QUOTE_BAD_MAGIC: 'denied',
  QUOTE_WRONG_TYPE: 'denied',
  QUOTE_SIGNATURE_MALFORMED: 'denied',
  QUOTE_SIGNATURE_UNSUPPORTED: 'denied',
  QUOTE_KEY_MISMATCH: 'denied',
  QUOTE_SIGNATURE_INVALID: 'denied',
  QUOTE_NONCE_MISMATCH: 'denied',
  QUOTE_PCR_SELECTION_MISMATCH: 'denied',
  QUOTE_PCR_VALUES_INVALID: 'denied',
  QUOTE_PCR_DIGEST_MISMATCH: 'denied',
  QUOTE_PCRS_CHANGING: 'environment',
};

export class QuoteError extends TollgateError {
  declare readonly code: QuoteErrorCode;
  constructor(code: QuoteErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'QuoteError';
  }
}

/** The largest nonce we accept: TPM2B_DATA holds a TPMT_HA, and SHA-512 digests are 64 bytes. */
export const MAX_NONCE = 64;

/** Parses a nonce given as hex (1..64 bytes, even length; an optional 0x prefix). */
export function parseNonce(hex: string): Buffer {
  const h = typeof hex === 'string' ? hex.trim().replace(/^0x/i, '') : '';
  if (h === '') throw new QuoteError('QUOTE_NONCE_INVALID', 'The nonce is empty; give 1 to 64 bytes as hex, e.g. --nonce $(openssl rand -hex 32).');
  if (!/^[0-9a-fA-F]*$/.test(h)) throw new QuoteError('QUOTE_NONCE_INVALID', 'The nonce is not hexadecimal; use only 0-9 and a-f, e.g. --nonce 8f3a…');
  if (h.length % 2 !== 0) throw new QuoteError('QUOTE_NONCE_INVALID', `The nonce has an odd number of hex digits (${h.length}); each byte needs two.`);
  if (h.length / 2 > MAX_NONCE) throw new QuoteError('QUOTE_NONCE_INVALID', `The nonce is ${h.length / 2} bytes; at most ${MAX_NONCE} fit in a quote. Use a 32-byte nonce.`);
  return Buffer.from(h, 'hex');
}

// ------------------------------------------------------------------------------------------------
// Signatures over TPMS_ATTEST

function nodeHash(alg: number, what: string): string {
  const h = alg === TPM_ALG.SHA1 || alg === TPM_ALG.SHA256 || alg === TPM_ALG.SHA384 || alg === TPM_ALG.SHA512 ? HASH_INFO[alg] : undefined;
  if (!h) throw new QuoteError('QUOTE_SIGNATURE_UNSUPPORTED', `The ${what} uses hash ${algName(alg)}; only SHA-1, SHA-256, SHA-384 and SHA-512 are verified.`);
  return h.name;
}

function keyObject(key: PublicKeyBytes): KeyObject {
  try {
    return toKeyObject(key);
  } catch (e) {
    throw new QuoteError('QUOTE_KEY_MISMATCH', `The verification key cannot be used: ${(e as Error).message}`, { cause: e });
  }
}

/** Parses TPMT_SIGNATURE bytes; any structural problem is QUOTE_SIGNATURE_MALFORMED. */
export function parseSignature(bytes: Uint8Array): TPMTSignature {
  try {
    return unmarshal(TPMTSignature, bytes);
  } catch (e) {
    if (e instanceof TPMMarshalError) throw new QuoteError('QUOTE_SIGNATURE_MALFORMED', `The signature is not a valid TPMT_SIGNATURE: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * Checks `sig` over `message` (a TPMS_ATTEST: the TPM signs H(message)) with `key`. Returns the
 * TPM hash algorithm of the signature. Throws QuoteError: SIGNATURE_UNSUPPORTED, KEY_MISMATCH,
 * SIGNATURE_MALFORMED or SIGNATURE_INVALID.
 */
export function verifyAttestSignature(key: PublicKeyBytes, message: Uint8Array, sig: TPMTSignature): number {
  const k = keyObject(key);
  let ok: boolean;
  let hashAlg: number;
  if (sig.sigAlg === TPM_ALG.ECDSA) {
    const s = sig.signature as TPMSSignatureECC;
    hashAlg = s.hash;
    const h = nodeHash(s.hash, 'signature');
    if (key.type !== 'ecc') throw new QuoteError('QUOTE_KEY_MISMATCH', 'The signature is ECDSA but the key is RSA; use the AK that made the quote.');
    const size = curveParams(key.curve).bytes;
    const fit = (v: Uint8Array, n: string): Buffer => {
      let i = 0;
      while (i < v.length && v[i] === 0) i++;
      if (v.length - i > size) throw new QuoteError('QUOTE_SIGNATURE_MALFORMED', `ECDSA ${n} is ${v.length} bytes, more than ${key.curve} allows.`);
      const out = Buffer.alloc(size);
      out.set(v.subarray(i), size - (v.length - i));
      return out;
    };
    const p1363 = Buffer.concat([fit(s.signatureR, 'r'), fit(s.signatureS, 's')]);
    ok = nodeVerify(h, message, { key: k, dsaEncoding: 'ieee-p1363' }, p1363);
  } else if (sig.sigAlg === TPM_ALG.RSASSA || sig.sigAlg === TPM_ALG.RSAPSS) {
    const s = sig.signature as TPMSSignatureRSA;
    hashAlg = s.hash;
    const h = nodeHash(s.hash, 'signature');
    if (key.type !== 'rsa') throw new QuoteError('QUOTE_KEY_MISMATCH', `The signature is ${algName(sig.sigAlg)} but the key is ECC; use the AK that made the quote.`);
    const pss = sig.sigAlg === TPM_ALG.RSAPSS;
    try {
      ok = nodeVerify(h, message, pss
        ? { key: k, padding: nodeConstants.RSA_PKCS1_PSS_PADDING, saltLength: nodeConstants.RSA_PSS_SALTLEN_AUTO }
        : { key: k, padding: nodeConstants.RSA_PKCS1_PADDING }, s.sig);
    } catch {
      ok = false; // OpenSSL refuses some malformed signature lengths outright
    }
  } else {
    throw new QuoteError('QUOTE_SIGNATURE_UNSUPPORTED', `Signature algorithm ${algName(sig.sigAlg)} is not one a quote is verified with (ECDSA, RSASSA, RSAPSS).`);
  }
  if (!ok) throw new QuoteError('QUOTE_SIGNATURE_INVALID', 'The signature does not verify with the given key: the attestation was altered or signed by another key.');
  return hashAlg;
}

/** Decodes TPMS_ATTEST bytes and checks the magic; QUOTE_MALFORMED / QUOTE_BAD_MAGIC. */
export function parseAttest(bytes: Uint8Array): TPMSAttest {
  let a: TPMSAttest;
  try {
    a = unmarshal(TPMSAttest, bytes);
  } catch (e) {
    if (e instanceof TPMMarshalError) throw new QuoteError('QUOTE_MALFORMED', `The attestation is not a valid TPMS_ATTEST: ${e.message}`, { cause: e });
    throw e;
  }
  if (a.magic !== TPM_GENERATED_VALUE) {
    throw new QuoteError('QUOTE_BAD_MAGIC', `The attestation's magic is ${hex32(a.magic)}, not TPM_GENERATED_VALUE (0xff544347): a TPM did not produce it.`);
  }
  return a;
}

// ------------------------------------------------------------------------------------------------
// PCR digests

/** The PCR values a quote covers: one per selected PCR (any order). */
export type QuotePCRValue = Pick<PCRValue, 'hash' | 'pcr'> & { digest: Uint8Array };

/** H(concatenated values in the selection's order); throws when a selected PCR has no value. */
export function pcrDigest(hashAlg: number, selection: TPMLPCRSelection, values: readonly QuotePCRValue[]): Buffer {
  const byKey = new Map<string, Uint8Array>();
  for (const v of values) {
    const k = `${v.hash}:${v.pcr}`;
    if (byKey.has(k)) throw new QuoteError('QUOTE_PCR_VALUES_INVALID', `PCR ${bankName(v.hash)}:${v.pcr} is given twice.`);
    const size = HASH_INFO[v.hash]?.size;
    if (size === undefined || !(v.digest instanceof Uint8Array) || v.digest.length !== size) {
      throw new QuoteError('QUOTE_PCR_VALUES_INVALID', `The value of PCR ${bankName(v.hash)}:${v.pcr} is not a ${bankName(v.hash)} digest.`);
    }
    byKey.set(k, v.digest);
  }
  const h = createHash(nodeHash(hashAlg, 'PCR digest'));
  for (const b of selection) {
    for (const pcr of selectedPCRs(b)) {
      const d = byKey.get(`${b.hash}:${pcr}`);
      if (!d) throw new QuoteError('QUOTE_PCR_SELECTION_MISMATCH', `The quote covers PCR ${bankName(b.hash)}:${pcr} but no value for it was given.`);
      h.update(d);
    }
  }
  return h.digest();
}

/** Same PCRs in the same bank order (bitmap lengths may differ). */
function sameSelection(a: TPMLPCRSelection, b: TPMLPCRSelection): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => x.hash === b[i]!.hash && selectedPCRs(x).join(',') === selectedPCRs(b[i]!).join(','));
}

/** The same PCRs, whatever the bank order. */
function samePCRs(a: TPMLPCRSelection, b: TPMLPCRSelection): boolean {
  const key = (s: TPMLPCRSelection) => s.filter((x) => selectedPCRs(x).length > 0).map((x) => `${x.hash}:${selectedPCRs(x).join(',')}`).sort().join('+');
  return key(a) === key(b);
}

/** The selection `values` describe: banks in order of first appearance, PCRs ascending. */
export function selectionOf(values: readonly QuotePCRValue[]): TPMLPCRSelection {
  const banks: Array<{ hash: number; pcrs: Set<number> }> = [];
  for (const v of values) {
    let b = banks.find((x) => x.hash === v.hash);
    if (!b) banks.push(b = { hash: v.hash, pcrs: new Set() });
    if (!Number.isInteger(v.pcr) || v.pcr < 0 || v.pcr > 255) throw new QuoteError('QUOTE_PCR_VALUES_INVALID', `PCR index ${v.pcr} is not valid.`);
    b.pcrs.add(v.pcr);
  }
  return banks.map((b) => {
    const sel = new Uint8Array(Math.max(3, (Math.max(...b.pcrs) >> 3) + 1));
    for (const p of b.pcrs) sel[p >> 3]! |= 1 << (p & 7);
    return { hash: b.hash, pcrSelect: sel };
  });
}

// ------------------------------------------------------------------------------------------------
// Verification

export interface VerifyQuoteInput {
  /** The AK public key (PEM-derived bytes, or the TPMT_PUBLIC). */
  ak: PublicKeyBytes | TPMTPublic;
  /** The marshalled TPMS_ATTEST exactly as signed. */
  attest: Uint8Array;
  /** The TPMT_SIGNATURE, marshalled or decoded. */
  signature: Uint8Array | TPMTSignature;
  /** The nonce the verifier chose. */
  nonce: Uint8Array;
  /** The PCR values the quote claims to cover. */
  pcrs: readonly QuotePCRValue[];
  /**
   * The selection the PCR values came with (e.g. from a tpm2-tools PCR file). Default: derived
   * from `pcrs`. Either way it must equal the quote's selection.
   */
  selection?: TPMLPCRSelection;
}

export interface VerifiedQuote {
  attest: TPMSAttest;
  quote: TPMSQuoteInfo;
  signature: TPMTSignature;
  /** TPM_ALG of the signature hash (and of pcrDigest). */
  hashAlg: number;
  selection: TPMLPCRSelection;
}

function isTPMTPublic(k: PublicKeyBytes | TPMTPublic): k is TPMTPublic {
  return typeof (k as TPMTPublic).objectAttributes === 'number';
}

/** Verifies a quote (see the file comment); throws a QuoteError naming the first check that fails. */
export function verifyQuote(input: VerifyQuoteInput): VerifiedQuote {
  const key = isTPMTPublic(input.ak) ? akKey(input.ak) : input.ak;
  const attest = parseAttest(input.attest);
  if (attest.type !== TPM_ST.ATTEST_QUOTE) {
    throw new QuoteError('QUOTE_WRONG_TYPE', `The attestation is of type 0x${attest.type.toString(16)}, not a quote (TPM_ST_ATTEST_QUOTE, 0x8018).`);
  }
  const signature = input.signature instanceof Uint8Array ? parseSignature(input.signature) : input.signature;
  const hashAlg = verifyAttestSignature(key, input.attest, signature);
  if (!Buffer.from(attest.extraData).equals(Buffer.from(input.nonce))) {
    throw new QuoteError('QUOTE_NONCE_MISMATCH', 'The quote was made for another nonce: it is a replay or answers another request.', {
      details: { expected: Buffer.from(input.nonce).toString('hex'), quoted: Buffer.from(attest.extraData).toString('hex') },
    });
  }
  const q = attest.attested as TPMSQuoteInfo;
  // An explicit selection (e.g. from a PCR file) must equal the quote's, bank order included; bare
  // values only need to cover the same PCRs.
  const given = input.selection ?? selectionOf(input.pcrs);
  if (input.selection ? !sameSelection(q.pcrSelect, given) : !samePCRs(q.pcrSelect, given)) {
    throw new QuoteError('QUOTE_PCR_SELECTION_MISMATCH', `The quote covers PCRs ${formatPCRList(q.pcrSelect) || '(none)'} but the PCR values given are for ${formatPCRList(given) || '(none)'}.`);
  }
  if (input.selection && !samePCRs(selectionOf(input.pcrs), input.selection)) {
    throw new QuoteError('QUOTE_PCR_VALUES_INVALID', 'The PCR values do not match the selection they came with.');
  }
  const digest = pcrDigest(hashAlg, q.pcrSelect, input.pcrs);
  if (!digest.equals(Buffer.from(q.pcrDigest))) {
    throw new QuoteError('QUOTE_PCR_DIGEST_MISMATCH', 'The PCR values given are not the ones the TPM quoted (their digest differs from the quote\'s pcrDigest).');
  }
  return { attest, quote: q, signature, hashAlg, selection: q.pcrSelect };
}

function akKey(pub: TPMTPublic): PublicKeyBytes {
  try {
    return publicKeyOf(pub);
  } catch (e) {
    if (e instanceof TpmCryptoError) throw new QuoteError('QUOTE_KEY_MISMATCH', e.message, { cause: e });
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------
// Quoting

export interface QuoteOptions {
  /** The signing key, e.g. AK_HANDLE (see requireAK). */
  akHandle: number;
  nonce: Uint8Array;
  selection: TPMLPCRSelection;
  auth?: Authorization;
}

export interface QuoteResult {
  attestBytes: Buffer;
  signatureBytes: Buffer;
  attest: TPMSAttest;
  signature: TPMTSignature;
  selection: TPMLPCRSelection;
  /** The quoted PCR values, in selection order. */
  pcrs: PCRValue[];
  nonce: Buffer;
}

/** The largest qualifyingData this TPM takes: sizeof(TPMT_HA) = 2 + its largest digest, capped at MAX_NONCE. */
export async function maxNonce(tpm: TPM): Promise<number> {
  const md = await tpm.property(TPM_PT.MAX_DIGEST);
  return Math.min(MAX_NONCE, md === undefined ? 32 : md + 2);
}

/**
 * TPM2_Quote with the PCR values it covers. The PCRs are read first and the quote's pcrDigest is
 * checked against them; if an extend slipped in between, both are taken again.
 */
export async function quote(tpm: TPM, opts: QuoteOptions): Promise<QuoteResult> {
  const limit = await maxNonce(tpm);
  if (opts.nonce.length === 0 || opts.nonce.length > limit) {
    throw new QuoteError('QUOTE_NONCE_INVALID', `The nonce is ${opts.nonce.length} bytes; this TPM takes 1 to ${limit}.`);
  }
  if (opts.selection.length === 0 || opts.selection.every((b) => selectedPCRs(b).length === 0)) {
    throw new QuoteError('QUOTE_PCRS_INVALID', 'No PCRs selected; name at least one, e.g. sha256:0,1,2,3,4,5,6,7.');
  }
  for (let attempt = 0; attempt < 4; attempt++) {
    const { values } = await tpm.pcrRead(opts.selection);
    const r = await tpm.quote(opts.akHandle, opts.nonce, opts.selection, opts.auth !== undefined ? { auth: opts.auth } : {});
    const q = r.attest.attested as TPMSQuoteInfo;
    const alg = (r.signature.signature as { hash?: number } | null)?.hash ?? TPM_ALG.SHA256;
    if (pcrDigest(alg, q.pcrSelect, values).equals(Buffer.from(q.pcrDigest))) {
      return { attestBytes: r.attestBytes, signatureBytes: r.signatureBytes, attest: r.attest, signature: r.signature, selection: q.pcrSelect, pcrs: values, nonce: Buffer.from(opts.nonce) };
    }
  }
  throw new QuoteError('QUOTE_PCRS_CHANGING', 'The PCRs kept changing between reading and quoting them; retry when the system is quieter.');
}
