// The tolerant X.509 reader: one certificate from DER (or several concatenated, as the TCG EK
// certificate chain NV indexes hold them). tbsCertificate is kept byte-exact as encoded, so a
// signature verifies over what the issuer signed even when the encoding is not DER; every field
// the EK chain check and appraisal need is decoded; DER deviations are listed in `quirks`.
import { createHash } from 'node:crypto';
import { CONTEXT, DERReader, ParseContext, TAG, UNIVERSAL, bitString, integerBytes, malformed, readTLV, smallInteger, timeValue, tlvBytes, octets, booleanValue, oidValue, type DERLimits } from './der.ts';
import { parseAlgorithmIdentifier, signatureAlgorithm, type SignatureAlgorithm } from './algorithms.ts';
import { decodeExtensions, type DecodedExtensions, type X509Extension } from './extensions.ts';
import { parseName, type X509Name } from './name.ts';
import { EXTENSION_NAMES } from './oids.ts';
import { parseSPKI, type X509PublicKey } from './spki.ts';
import { X509Error } from './errors.ts';

/** Largest certificate we read. EK certificates are 0.5–2 KiB; vendor CA certificates a few KiB. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;
/** Most certificates one buffer of concatenated DER may hold (an NV chain index, a bundle). */
export const MAX_CONCATENATED = 32;
const MAX_EXTENSIONS = 64;

export interface X509Cert extends DecodedExtensions {
  /** The certificate's DER (the outer SEQUENCE exactly as encoded, trailing bytes excluded). */
  der: Buffer;
  /** tbsCertificate exactly as encoded: what the signature covers. */
  tbs: Buffer;
  /** 1, 2 or 3. */
  version: number;
  /** The serial INTEGER's content octets exactly as encoded (leading zeros and sign kept). */
  serial: Buffer;
  /** `serial` in lower-case hex. */
  serialHex: string;
  /** The signatureAlgorithm outside tbsCertificate: the one the signature is checked with. */
  signatureAlgorithm: SignatureAlgorithm;
  /** The signature field inside tbsCertificate (RFC 5280 wants it equal to signatureAlgorithm). */
  tbsSignatureOid: string;
  signature: Buffer;
  issuer: X509Name;
  subject: X509Name;
  notBefore: Date;
  notAfter: Date;
  /** The validity times as encoded (e.g. "99991231235959Z"). */
  notBeforeText: string;
  notAfterText: string;
  publicKey: X509PublicKey;
  extensions: X509Extension[];
  /** SHA-256 of `der`, lower-case hex. */
  fingerprint256: string;
  /** Deviations from DER and RFC 5280 that were tolerated (names, sorted). */
  quirks: string[];
}

export interface ParseOptions {
  /** Bytes after the certificate: 'padding' allows only 0x00/0xFF fill (NV indexes), 'any' ignores them, 'none' refuses (default 'padding'). */
  trailing?: 'none' | 'padding' | 'any';
  limits?: DERLimits;
}

function parseTBS(ctx: ParseContext, r: DERReader) {
  const w = 'tbsCertificate';
  let version = 1;
  const v = r.optional(CONTEXT, 0, `${w} version`);
  if (v) {
    const vr = r.enter(v, `${w} version`);
    const n = smallInteger(ctx, vr.expect(UNIVERSAL, TAG.INTEGER, `${w} version`), `${w} version`);
    if (n < 0 || n > 2) throw malformed(`${w} version`, `unknown version ${n + 1}`);
    if (n === 0) ctx.quirks.add('explicit-default');
    version = n + 1;
  }
  const serialT = r.expect(UNIVERSAL, TAG.INTEGER, `${w} serialNumber`);
  const serial = Buffer.from(integerBytes(ctx, serialT, `${w} serialNumber`));
  if (serial[0]! & 0x80) ctx.quirks.add('negative-serial');
  if (serial.length > 20) ctx.quirks.add('serial-longer-than-20-octets');
  if (serial.every((b) => b === 0)) ctx.quirks.add('zero-serial');
  const sig = parseAlgorithmIdentifier(ctx, r, r.next(`${w} signature`), `${w} signature`);
  const issuer = parseName(ctx, r, r.next(`${w} issuer`), `${w} issuer`);
  const valT = r.expect(UNIVERSAL, TAG.SEQUENCE, `${w} validity`, true);
  const vr = r.enter(valT, `${w} validity`);
  const nb = timeValue(ctx, vr.next(`${w} notBefore`), `${w} notBefore`);
  const na = timeValue(ctx, vr.next(`${w} notAfter`), `${w} notAfter`);
  if (nb.date > na.date) ctx.quirks.add('validity-inverted');
  const subject = parseName(ctx, r, r.next(`${w} subject`), `${w} subject`);
  const publicKey = parseSPKI(ctx, r, r.next(`${w} subjectPublicKeyInfo`), `${w} subjectPublicKeyInfo`);
  const rawExtensions: X509Extension[] = [];
  while (!r.done) {
    const t = r.next(`${w} optional fields`);
    if (t.cls !== CONTEXT) {
      ctx.quirks.add('tbs-trailing-data');
      break;
    }
    if (t.tag === 1 || t.tag === 2) continue; // issuerUniqueID / subjectUniqueID: unused by EK chains
    if (t.tag !== 3) {
      ctx.quirks.add('tbs-unknown-field');
      continue;
    }
    if (version < 3) ctx.quirks.add('extensions-in-v1-or-v2');
    const er = r.enter(t, `${w} extensions`);
    const seq = er.expect(UNIVERSAL, TAG.SEQUENCE, `${w} extensions`, true);
    const xr = er.enter(seq, `${w} extensions`);
    while (!xr.done) {
      if (rawExtensions.length >= MAX_EXTENSIONS) throw new X509Error('X509_TOO_LARGE', `More than ${MAX_EXTENSIONS} extensions in one certificate.`);
      const e = xr.expect(UNIVERSAL, TAG.SEQUENCE, `${w} extension`, true);
      const exr = xr.enter(e, `${w} extension`);
      const oid = oidValue(ctx, exr.expect(UNIVERSAL, TAG.OID, `${w} extension id`), `${w} extension id`);
      let critical = false;
      const c = exr.optional(UNIVERSAL, TAG.BOOLEAN, `${w} extension critical`);
      if (c) {
        critical = booleanValue(ctx, c, `${oid} critical`);
        if (!critical) ctx.quirks.add('explicit-default');
      }
      const value = Buffer.from(octets(exr.expect(UNIVERSAL, TAG.OCTET_STRING, `${oid} extnValue`), `${oid} extnValue`));
      const name = EXTENSION_NAMES[oid];
      rawExtensions.push({ oid, ...(name ? { name } : {}), critical, value });
    }
  }
  return {
    version, serial, serialHex: serial.toString('hex'), tbsSignatureOid: sig.oid, issuer,
    notBefore: nb.date, notAfter: na.date, notBeforeText: nb.text, notAfterText: na.text, subject, publicKey,
    extensions: rawExtensions, rawExtensions,
  };
}

/** Length of the certificate (outer TLV) at the start of `input`. */
function outerLength(ctx: ParseContext, input: Uint8Array): number {
  const t = readTLV(ctx, input, 0, input.length, 'certificate');
  if (t.cls !== UNIVERSAL || t.tag !== TAG.SEQUENCE || !t.constructed) throw malformed('certificate', 'a certificate starts with a SEQUENCE', 0);
  return t.end;
}

/** Parses one certificate. Throws X509Error (X509_MALFORMED / X509_TOO_LARGE) and nothing else. */
export function parseCertificate(input: Uint8Array, opts: ParseOptions = {}): X509Cert {
  if (!(input instanceof Uint8Array)) throw malformed('certificate', 'expected bytes');
  const ctx = new ParseContext(opts.limits);
  // The cap applies to the certificate; an NV index may be larger than its certificate (padding).
  const end = outerLength(ctx, input);
  if (end > MAX_CERTIFICATE_BYTES) throw new X509Error('X509_TOO_LARGE', `The certificate is ${end} bytes; certificates over ${MAX_CERTIFICATE_BYTES} bytes are refused.`);
  if (end < input.length) {
    const rest = input.subarray(end);
    const padding = rest.every((b) => b === 0xff) || rest.every((b) => b === 0);
    const mode = opts.trailing ?? 'padding';
    if (mode === 'none' || (mode === 'padding' && !padding)) throw malformed('certificate', `${rest.length} bytes follow the certificate`, end);
    ctx.quirks.add(padding ? 'trailing-padding' : 'trailing-data');
  }
  const der = Buffer.from(input.subarray(0, end));
  return parseOwned(ctx, der);
}

function parseOwned(ctx: ParseContext, der: Buffer): X509Cert {
  const top = new DERReader(ctx, der);
  const outer = top.next('certificate');
  const cr = top.enter(outer, 'certificate');
  const tbsT = cr.expect(UNIVERSAL, TAG.SEQUENCE, 'tbsCertificate', true);
  const tbs = Buffer.from(tlvBytes(tbsT));
  const body = parseTBS(ctx, cr.enter(tbsT, 'tbsCertificate'));
  const alg = signatureAlgorithm(ctx, parseAlgorithmIdentifier(ctx, cr, cr.next('signatureAlgorithm'), 'signatureAlgorithm'), 'signatureAlgorithm');
  if (alg.oid !== body.tbsSignatureOid) ctx.quirks.add('signature-algorithm-mismatch');
  const sigBits = bitString(ctx, cr.expect(UNIVERSAL, TAG.BIT_STRING, 'signatureValue'), 'signatureValue');
  if (sigBits.unusedBits) ctx.quirks.add('signature-unused-bits');
  if (!cr.done) ctx.quirks.add('certificate-trailing-fields');
  const decoded = decodeExtensions(ctx, body.rawExtensions);
  const { rawExtensions: _raw, ...fields } = body;
  return {
    der, tbs, ...fields, signatureAlgorithm: alg, signature: Buffer.from(sigBits.bytes), ...decoded,
    fingerprint256: createHash('sha256').update(der).digest('hex'),
    quirks: [...ctx.quirks].sort(),
  };
}

/**
 * Parses concatenated DER certificates (an EK chain NV index, a DER bundle). 0x00/0xFF padding
 * after the last one is ignored; anything else that is not a certificate is malformed.
 */
export function parseCertificates(input: Uint8Array, opts: { limits?: DERLimits } = {}): X509Cert[] {
  if (!(input instanceof Uint8Array)) throw malformed('certificates', 'expected bytes');
  const out: X509Cert[] = [];
  let pos = 0;
  while (pos < input.length) {
    const rest = input.subarray(pos);
    if (out.length > 0 && (rest.every((b) => b === 0xff) || rest.every((b) => b === 0))) break;
    if (out.length >= MAX_CONCATENATED) throw new X509Error('X509_TOO_LARGE', `More than ${MAX_CONCATENATED} concatenated certificates.`);
    const ctx = new ParseContext(opts.limits);
    let end: number;
    try {
      end = outerLength(ctx, rest);
    } catch (e) {
      if (e instanceof X509Error && out.length > 0) throw malformed(`certificate ${out.length + 1}`, `${e.message.replace(/\.$/, '')}`, pos);
      throw e;
    }
    if (end > MAX_CERTIFICATE_BYTES) throw new X509Error('X509_TOO_LARGE', `Certificate ${out.length + 1} is ${end} bytes; certificates over ${MAX_CERTIFICATE_BYTES} bytes are refused.`);
    out.push(parseOwned(ctx, Buffer.from(rest.subarray(0, end))));
    pos += end;
  }
  if (out.length === 0) throw malformed('certificates', 'no certificate');
  return out;
}
