// EK certificates: where the TCG EK Credential Profile (v2.5 §2.2.1.5) puts them in NV, reading
// them and the EK chain's intermediate CAs (chunked NV_Read, done by TPM.nvRead), parsing them with
// the tolerant reader in x509/ (Node's X509Certificate, i.e. OpenSSL, refuses some real EK
// certificates; its view is added when it accepts one), matching a certificate's key to an EK
// public area, and checking the chain to a CA bundle (the TPM vendor's CAs; swtpm-localca's
// issuer and root in tests) with x509/'s verifyEKChain.
import { X509Certificate } from 'node:crypto';
import { TollgateError, type ErrorClass } from './errors.ts';
import { hex32 } from './constants.ts';
import { isRC, TPMError } from './rc.ts';
import { fromKeyObject, TpmCryptoError, type PublicKeyBytes } from './crypto/index.ts';
import { publicKeyOf } from './keys.ts';
import type { TPMTPublic } from './types.ts';
import type { TPM } from './tpm.ts';
import {
  EKChainError, EKRootStore, X509Error, anchorsFromPEM, parseCertificate, parseCertificates, tpmVendor, verifyEKChain,
  type TPMIdentity, type TPMVendor, type X509Cert,
} from './x509/index.ts';

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

/** The NV range of EK certificate chains: each index holds one or more concatenated DER CA certificates, the EK certificate's issuer first (TCG EK Credential Profile 2.x §2.2.1.5.2; Intel PTT keeps its on-die CA chain there). */
export const EK_CHAIN_NV_FIRST = 0x01c00100;
export const EK_CHAIN_NV_LAST = 0x01c001ff;

export interface EKCertificate extends EKCertSlot {
  /** The certificate's DER (NV padding removed). */
  der: Buffer;
  /** The certificate as the tolerant reader sees it: every field, the raw tbsCertificate, quirks. */
  x509: X509Cert;
  /** Node's view, present only when OpenSSL accepts the encoding. */
  cert?: X509Certificate;
  /** One line, e.g. "C=DE, O=Infineon Technologies AG, CN=..." ('' for the usual empty EK subject). */
  subject: string;
  issuer: string;
  /** Upper-case hex of the serial without leading zero octets (as Node prints it). */
  serialNumber: string;
  /** Validity in Node's format ("Jul 11 00:00:00 2028 GMT"). */
  validFrom: string;
  validTo: string;
  /** SHA-256 of the DER, colon-separated upper-case hex (as Node prints it). */
  fingerprint256: string;
  /** The certified key, when it is RSA or ECC P-256/P-384 (RSAES-OAEP-labelled RSA keys included). */
  publicKey?: PublicKeyBytes;
  /** The TPM vendor named by the SAN tpmManufacturer attribute. */
  vendor?: TPMVendor;
  /** tpmManufacturer / tpmModel / tpmVersion from the SAN. */
  tpm?: TPMIdentity;
}

/** An intermediate CA certificate from an EK chain NV index. */
export interface EKChainCertificate {
  index: number;
  der: Buffer;
  x509: X509Cert;
}

/** Largest EK certificate NV index we read; NV indexes are at most a few KiB. */
const MAX_CERT = 16 * 1024;
/** Largest EK chain NV index we read (a few CA certificates). */
const MAX_CHAIN_INDEX = 64 * 1024;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Node's X509Certificate.validFrom format: "Jul 11 00:00:00 2028 GMT". */
function nodeTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
}

function nodeSerial(serial: Buffer): string {
  let i = 0;
  while (i < serial.length - 1 && serial[i] === 0) i++;
  return serial.subarray(i).toString('hex').toUpperCase();
}

/** Parses the contents of an EK certificate NV index (DER, possibly followed by padding). */
export function parseEKCertificate(slot: EKCertSlot, bytes: Uint8Array): EKCertificate {
  const where = `EK certificate at NV ${hex32(slot.index)}`;
  if (bytes.length > MAX_CERT) throw new EKCertError('EK_CERT_MALFORMED', `The ${where} is ${bytes.length} bytes, larger than any certificate.`);
  let x509: X509Cert;
  try {
    // Bytes after the certificate are outside its signature: NV padding, or leftovers of an older,
    // longer certificate in an index that was not cleared. Recorded as a quirk, not refused.
    x509 = parseCertificate(bytes, { trailing: 'any' });
  } catch (e) {
    if (e instanceof X509Error) throw new EKCertError('EK_CERT_MALFORMED', `The ${where} does not parse as X.509: ${e.message}`, { cause: e, details: { reason: e.code } });
    throw e;
  }
  let cert: X509Certificate | undefined;
  try {
    cert = new X509Certificate(x509.der);
  } catch { /* an encoding OpenSSL refuses: the tolerant reader's view stands alone */ }
  let publicKey: PublicKeyBytes | undefined;
  try {
    if (x509.publicKey.keyObject) publicKey = fromKeyObject(x509.publicKey.keyObject);
  } catch (e) {
    if (!(e instanceof TpmCryptoError)) throw e; // a key TPM crypto does not model (P-521): reported without a key
  }
  const vendor = x509.tpm?.manufacturer ? tpmVendor(x509.tpm.manufacturer) : undefined;
  return {
    ...slot, der: x509.der, x509, ...(cert ? { cert } : {}), subject: x509.subject.text, issuer: x509.issuer.text,
    serialNumber: nodeSerial(x509.serial), validFrom: nodeTime(x509.notBefore), validTo: nodeTime(x509.notAfter),
    fingerprint256: (x509.fingerprint256.toUpperCase().match(/../g) ?? []).join(':'),
    ...(publicKey ? { publicKey } : {}), ...(vendor ? { vendor } : {}), ...(x509.tpm ? { tpm: x509.tpm } : {}),
  };
}

/** Parses the contents of an EK chain NV index: one or more concatenated DER certificates, then padding. */
export function parseEKChainIndex(index: number, bytes: Uint8Array): EKChainCertificate[] {
  const where = `EK certificate chain at NV ${hex32(index)}`;
  if (bytes.length > MAX_CHAIN_INDEX) throw new EKCertError('EK_CERT_MALFORMED', `The ${where} is ${bytes.length} bytes, larger than a CA chain.`);
  try {
    return parseCertificates(bytes).map((x509) => ({ index, der: x509.der, x509 }));
  } catch (e) {
    if (e instanceof X509Error) throw new EKCertError('EK_CERT_MALFORMED', `The ${where} does not hold DER certificates: ${e.message}`, { cause: e, details: { reason: e.code } });
    throw e;
  }
}

export interface EKCertReadResult {
  certificates: EKCertificate[];
  /** Intermediate CA certificates from the EK chain NV indexes (0x01c00100–0x01c001ff), in index order. */
  intermediates: EKChainCertificate[];
  /** Indexes that exist but could not be read or parsed, with why. */
  problems: Array<{ index: number; code: string; message: string }>;
}

/** Reads and parses an index; "unreadable" and "unparsable" become a problem, "gone" nothing. */
async function readIndex<T>(tpm: TPM, index: number, parse: (b: Buffer) => T, out: EKCertReadResult): Promise<T | undefined> {
  try {
    return parse(await tpm.nvRead(index));
  } catch (e) {
    if (isRC(e, 0x08b)) return undefined; // TPM_RC_HANDLE: gone between listing and reading
    // A certificate that does not parse, or an index this TPM will not let us read, is reported;
    // a broken link to the TPM is not "no certificate" and propagates.
    if (e instanceof EKCertError || e instanceof TPMError) {
      out.problems.push({ index, code: e.code, message: e.message });
      return undefined;
    }
    throw e;
  }
}

/** Reads every EK certificate the TPM has in the standard NV indexes, and the EK chain indexes. */
export async function readEKCertificates(tpm: TPM): Promise<EKCertReadResult> {
  const handles = await tpm.handles(0x01);
  const present = new Set(handles);
  const out: EKCertReadResult = { certificates: [], intermediates: [], problems: [] };
  for (const slot of EK_CERT_SLOTS) {
    if (!present.has(slot.index)) continue;
    const c = await readIndex(tpm, slot.index, (b) => parseEKCertificate(slot, b), out);
    if (c) out.certificates.push(c);
  }
  for (const index of handles.filter((h) => h >= EK_CHAIN_NV_FIRST && h <= EK_CHAIN_NV_LAST).sort((a, b) => a - b)) {
    const certs = await readIndex(tpm, index, (b) => parseEKChainIndex(index, b), out);
    if (certs) out.intermediates.push(...certs);
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
export function parseCABundle(pem: string): X509Cert[] {
  if (typeof pem !== 'string' || pem.length > 4 * 1024 * 1024) throw new EKCertError('EK_CERT_CA_BUNDLE_INVALID', 'The CA bundle is empty or too large.');
  try {
    return anchorsFromPEM(pem, 'The CA bundle').map((a) => a.cert);
  } catch (e) {
    if (e instanceof EKChainError) throw new EKCertError('EK_CERT_CA_BUNDLE_INVALID', e.message.replace(/^The CA bundle#(\d+)/, 'Certificate $1 of the CA bundle'), { cause: e });
    throw e;
  }
}

/** A certificate as Node, the tolerant reader, or readEKCertificates gives it. */
export type AnyCertificate = X509Certificate | X509Cert | EKCertificate;

function toX509(c: AnyCertificate): X509Cert {
  if (c instanceof X509Certificate) return parseCertificate(c.raw, { trailing: 'none' });
  return 'x509' in c ? c.x509 : c;
}

/** One certificate of a chain verifyEKCertChain returns. */
export interface EKCertChainEntry {
  subject: string;
  issuer: string;
  fingerprint256: string;
  x509: X509Cert;
}

/**
 * Checks that `leaf` chains to a certificate of `bundle`: every link's signature verifies, every
 * issuer is a CA, every certificate is valid at `at` (strict RFC 5280 validity here; the
 * verifier-side verifyEKChain defaults to the EK policy that does not enforce notAfter), and the
 * path ends at a bundle certificate (continuing to a self-signed bundle root when there is one).
 * Returns the chain, leaf first.
 */
export function verifyEKCertChain(leaf: AnyCertificate, bundle: readonly AnyCertificate[], at: Date = new Date()): EKCertChainEntry[] {
  let l: X509Cert;
  let store: EKRootStore;
  try {
    l = toX509(leaf);
    store = new EKRootStore(bundle.map((c, i) => ({ cert: toX509(c), source: `bundle#${i + 1}` })));
  } catch (e) {
    if (e instanceof X509Error) throw new EKCertError('EK_CERT_MALFORMED', `A certificate does not parse: ${e.message}`, { cause: e });
    throw e;
  }
  try {
    return verifyEKChain(l, [], store, { at, validity: 'strict' }).path.map((x509) => ({ subject: x509.subject.text, issuer: x509.issuer.text, fingerprint256: x509.fingerprint256, x509 }));
  } catch (e) {
    if (e instanceof EKChainError) {
      throw new EKCertError('EK_CERT_CHAIN_INVALID', `The EK certificate does not chain to the CA bundle: ${e.message.replace(/^The EK certificate chain is not valid: /, '')}`, { cause: e, details: { subject: l.subject.text, issuer: l.issuer.text, reason: e.code } });
    }
    throw e;
  }
}
