// EK certificates: where the TCG EK Credential Profile (v2.5 §2.2.1.5) puts them in NV, reading
// them (chunked NV_Read, done by TPM.nvRead), parsing them with Node's X509Certificate, matching
// a certificate's key to an EK public area, and checking the chain to a CA bundle (the TPM
// vendor's CAs; swtpm-localca's issuer and root in tests).
import { X509Certificate } from 'node:crypto';
import { TollgateError, type ErrorClass } from './errors.ts';
import { hex32 } from './constants.ts';
import { isRC, TPMError } from './rc.ts';
import { fromKeyObject, TpmCryptoError, type PublicKeyBytes } from './crypto/index.ts';
import { publicKeyOf } from './keys.ts';
import type { TPMTPublic } from './types.ts';
import type { TPM } from './tpm.ts';

export type EKCertErrorCode = 'EK_CERT_MALFORMED' | 'EK_CERT_CHAIN_INVALID' | 'EK_CERT_CA_BUNDLE_INVALID';

const CLASS: Record<EKCertErrorCode, ErrorClass> = {
  EK_CERT_MALFORMED: 'denied',
  EK_CERT_CHAIN_INVALID: 'denied',
  EK_CERT_CA_BUNDLE_INVALID: 'usage',
};

export class EKCertError extends TollgateError {
  declare readonly code: EKCertErrorCode;
  constructor(code: EKCertErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, CLASS[code], options);
    this.name = 'EKCertError';
  }
}

export type EKKeyType = 'rsa-2048' | 'ecc-p256' | 'ecc-p384' | 'ecc-p521' | 'ecc-sm2-p256' | 'rsa-3072' | 'rsa-4096';

export interface EKCertSlot {
  index: number;
  keyType: EKKeyType;
  range: 'low' | 'high';
}

/** The NV indexes of EK certificates (low range: the original two; high range: one per key type). */
export const EK_CERT_SLOTS: readonly EKCertSlot[] = [
  { index: 0x01c00002, keyType: 'rsa-2048', range: 'low' },
  { index: 0x01c0000a, keyType: 'ecc-p256', range: 'low' },
  { index: 0x01c00012, keyType: 'rsa-2048', range: 'high' },
  { index: 0x01c00014, keyType: 'ecc-p256', range: 'high' },
  { index: 0x01c00016, keyType: 'ecc-p384', range: 'high' },
  { index: 0x01c00018, keyType: 'ecc-p521', range: 'high' },
  { index: 0x01c0001a, keyType: 'ecc-sm2-p256', range: 'high' },
  { index: 0x01c0001c, keyType: 'rsa-3072', range: 'high' },
  { index: 0x01c0001e, keyType: 'rsa-4096', range: 'high' },
];

export interface EKCertificate extends EKCertSlot {
  /** The certificate's DER (NV padding removed). */
  der: Buffer;
  cert: X509Certificate;
  subject: string;
  issuer: string;
  serialNumber: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  /** The certified key, when Node can read its SPKI (some vendors use RSAES-OAEP key OIDs). */
  publicKey?: PublicKeyBytes;
}

/** Largest EK certificate we read; NV indexes are at most a few KiB. */
const MAX_CERT = 16 * 1024;

/** Length of the DER SEQUENCE at the start of `b` (the certificate), or undefined if it is not one. */
function derLength(b: Uint8Array): number | undefined {
  if (b.length < 2 || b[0] !== 0x30) return undefined;
  const l = b[1]!;
  if (l < 0x80) return 2 + l;
  const n = l & 0x7f;
  if (n === 0 || n > 3 || b.length < 2 + n) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len;
}

/** Parses the contents of an EK certificate NV index (DER, possibly followed by padding). */
export function parseEKCertificate(slot: EKCertSlot, bytes: Uint8Array): EKCertificate {
  const where = `EK certificate at NV ${hex32(slot.index)}`;
  if (bytes.length > MAX_CERT) throw new EKCertError('EK_CERT_MALFORMED', `The ${where} is ${bytes.length} bytes, larger than any certificate.`);
  const len = derLength(bytes);
  if (len === undefined || len > bytes.length) throw new EKCertError('EK_CERT_MALFORMED', `The ${where} is not a DER certificate (or is truncated).`);
  const der = Buffer.from(bytes.subarray(0, len));
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch (e) {
    throw new EKCertError('EK_CERT_MALFORMED', `The ${where} does not parse as X.509: ${(e as Error).message}.`, { cause: e });
  }
  let publicKey: PublicKeyBytes | undefined;
  try {
    publicKey = fromKeyObject(cert.publicKey);
  } catch { /* an SPKI Node cannot read: reported without a key */ }
  return {
    ...slot, der, cert, subject: cert.subject, issuer: cert.issuer, serialNumber: cert.serialNumber,
    validFrom: cert.validFrom, validTo: cert.validTo, fingerprint256: cert.fingerprint256,
    ...(publicKey ? { publicKey } : {}),
  };
}

export interface EKCertReadResult {
  certificates: EKCertificate[];
  /** Indexes that exist but could not be read or parsed, with why. */
  problems: Array<{ index: number; code: string; message: string }>;
}

/** Reads every EK certificate the TPM has in the standard NV indexes. */
export async function readEKCertificates(tpm: TPM): Promise<EKCertReadResult> {
  const present = new Set(await tpm.handles(0x01));
  const out: EKCertReadResult = { certificates: [], problems: [] };
  for (const slot of EK_CERT_SLOTS) {
    if (!present.has(slot.index)) continue;
    try {
      const bytes = await tpm.nvRead(slot.index);
      out.certificates.push(parseEKCertificate(slot, bytes));
    } catch (e) {
      if (isRC(e, 0x08b)) continue; // TPM_RC_HANDLE: gone between listing and reading
      // A certificate that does not parse, or an index this TPM will not let us read, is reported;
      // a broken link to the TPM is not "no certificate" and propagates.
      if (e instanceof EKCertError || e instanceof TPMError) {
        out.problems.push({ index: slot.index, code: e.code, message: e.message });
        continue;
      }
      throw e;
    }
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** True when the certificate certifies exactly the EK whose public area is `ek`. */
export function ekCertMatches(cert: Pick<EKCertificate, 'publicKey'>, ek: TPMTPublic): boolean {
  const c = cert.publicKey;
  if (!c) return false;
  let k: PublicKeyBytes;
  try {
    k = publicKeyOf(ek);
  } catch (e) {
    if (e instanceof TpmCryptoError) return false;
    throw e;
  }
  if (c.type === 'rsa' && k.type === 'rsa') return sameBytes(stripZeros(c.n), stripZeros(k.n)) && (c.e || 65537) === (k.e || 65537);
  if (c.type === 'ecc' && k.type === 'ecc') return c.curve === k.curve && sameBytes(c.x, k.x) && sameBytes(c.y, k.y);
  return false;
}

// ------------------------------------------------------------------------------------------------
// Chain checking

/** Parses a PEM bundle (one or more CERTIFICATE blocks, e.g. several files concatenated). */
export function parseCABundle(pem: string): X509Certificate[] {
  if (typeof pem !== 'string' || pem.length > 4 * 1024 * 1024) throw new EKCertError('EK_CERT_CA_BUNDLE_INVALID', 'The CA bundle is empty or too large.');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new EKCertError('EK_CERT_CA_BUNDLE_INVALID', 'The CA bundle holds no PEM certificates ("-----BEGIN CERTIFICATE-----"); give the TPM vendor\'s CA certificates.');
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new EKCertError('EK_CERT_CA_BUNDLE_INVALID', `Certificate ${i + 1} of the CA bundle does not parse: ${(e as Error).message}.`, { cause: e });
    }
  });
}

function inValidity(c: X509Certificate, at: Date): boolean {
  return new Date(c.validFrom) <= at && at <= new Date(c.validTo);
}

function selfSigned(c: X509Certificate): boolean {
  return c.checkIssued(c) && c.verify(c.publicKey);
}

/**
 * Checks that `leaf` chains to a certificate of `bundle`: every link's signature verifies, every
 * issuer is a CA, every certificate is valid at `at`, and the chain ends at a self-signed root
 * or at the last bundle certificate that has no issuer in the bundle. Returns the chain, leaf first.
 */
export function verifyEKCertChain(leaf: X509Certificate, bundle: readonly X509Certificate[], at: Date = new Date()): X509Certificate[] {
  const fail = (why: string): EKCertError => new EKCertError('EK_CERT_CHAIN_INVALID', `The EK certificate does not chain to the CA bundle: ${why}.`, { details: { subject: leaf.subject, issuer: leaf.issuer } });
  if (!inValidity(leaf, at)) throw fail(`it is not valid at ${at.toISOString()} (valid ${leaf.validFrom} to ${leaf.validTo})`);
  const chain = [leaf];
  let cur = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const issuer = bundle.find((c) => c !== cur && cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!issuer) {
      if (depth === 0) throw fail(`no certificate in the bundle issued it (its issuer is "${cur.issuer}") with a matching signature`);
      return chain;
    }
    if (!issuer.ca) throw fail(`"${issuer.subject}" is not a CA certificate`);
    if (!inValidity(issuer, at)) throw fail(`the CA certificate "${issuer.subject}" is not valid at ${at.toISOString()}`);
    chain.push(issuer);
    if (selfSigned(issuer)) return chain;
    cur = issuer;
  }
  throw fail('the chain is longer than 8 certificates');
}
