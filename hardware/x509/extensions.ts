// The extensions EK certificate chains carry, decoded: basicConstraints, keyUsage, extKeyUsage
// (with the TCG EK certificate purpose 2.23.133.8.1), certificatePolicies (OIDs), subjectAltName (the TCG directoryName with
// tpmManufacturer/tpmModel/tpmVersion), key identifiers, authorityInfoAccess (caIssuers URLs are
// recorded, never fetched) and subjectDirectoryAttributes (tpmSpecification). An extension whose
// value does not decode is reported in `extensionErrors` and left undefined: the chain check then
// treats a CA without readable basicConstraints as no CA, and nothing else depends on it.
import { CONTEXT, DERReader, TAG, UNIVERSAL, malformed, bitString, booleanValue, contents, integerBytes, octets, oidValue, smallInteger, stringValue, tlvBytes, type ParseContext, type TLV } from './der.ts';
import { nameFromReader, parseName, nameAttribute, type X509Name } from './name.ts';
import { OID } from './oids.ts';
import { X509Error } from './errors.ts';

export interface X509Extension {
  oid: string;
  name?: string;
  critical: boolean;
  /** extnValue contents (the DER of the extension's own value). */
  value: Buffer;
}

export type KeyUsageName = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement'
  | 'keyCertSign' | 'cRLSign' | 'encipherOnly' | 'decipherOnly';

const KEY_USAGES: KeyUsageName[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

export type GeneralName =
  | { type: 'otherName'; oid: string; value: Buffer }
  | { type: 'rfc822Name' | 'dNSName' | 'uniformResourceIdentifier'; value: string }
  | { type: 'directoryName'; name: X509Name }
  | { type: 'iPAddress'; value: Buffer }
  | { type: 'registeredID'; oid: string }
  | { type: 'other'; tag: number; value: Buffer };

/** What the TCG EK Credential Profile's SAN directoryName says about the TPM. */
export interface TPMIdentity {
  /** e.g. "id:4E544300". */
  manufacturer?: string;
  model?: string;
  version?: string;
}

export interface TPMSpecification {
  family: string;
  level: number;
  revision: number;
}

export interface DecodedExtensions {
  basicConstraints?: { cA: boolean; pathLen?: number };
  keyUsage?: KeyUsageName[];
  extKeyUsage?: string[];
  subjectAltName?: GeneralName[];
  subjectKeyIdentifier?: Buffer;
  authorityKeyIdentifier?: { keyIdentifier?: Buffer; authorityCertIssuer?: GeneralName[]; authorityCertSerialNumber?: Buffer };
  /** certificatePolicies policy OIDs (recorded; EK chains carry no policy constraints to enforce). */
  certificatePolicies?: string[];
  /** authorityInfoAccess caIssuers URLs: where the issuer's certificate can be downloaded. Recorded only. */
  caIssuers: string[];
  ocsp: string[];
  tpm?: TPMIdentity;
  tpmSpecification?: TPMSpecification;
  /** Critical extensions this reader does not interpret (RFC 5280 would reject; EK practice tolerates them). */
  unknownCritical: string[];
  extensionErrors: Array<{ oid: string; message: string }>;
}

const MAX_ITEMS = 64;

function generalName(ctx: ParseContext, r: DERReader, t: TLV, what: string): GeneralName {
  if (t.cls !== CONTEXT) throw malformed(what, 'a GeneralName must be context-tagged', t.start);
  switch (t.tag) {
    case 0: {
      const or = r.enter(t, what);
      const oid = oidValue(ctx, or.expect(UNIVERSAL, TAG.OID, what), what);
      const v = or.next(what);
      return { type: 'otherName', oid, value: Buffer.from(tlvBytes(v)) };
    }
    case 1: case 2: case 6: {
      const type = t.tag === 1 ? 'rfc822Name' : t.tag === 2 ? 'dNSName' : 'uniformResourceIdentifier';
      return { type, value: Buffer.from(octets(t, what)).toString('latin1') };
    }
    case 4: {
      // EXPLICIT: [4] holds a Name. Some encoders write it IMPLICIT ([4] holds the RDNs directly).
      const dr = r.enter(t, what);
      const first = dr.peek(what);
      if (first && first.cls === UNIVERSAL && first.tag === TAG.SEQUENCE) {
        const name = parseName(ctx, dr, dr.next(what), what);
        return { type: 'directoryName', name };
      }
      ctx.quirks.add('directory-name-implicit');
      return { type: 'directoryName', name: nameFromReader(ctx, dr, contents(t), what) };
    }
    case 7:
      return { type: 'iPAddress', value: Buffer.from(octets(t, what)) };
    case 8:
      return { type: 'registeredID', oid: oidValue(ctx, t, what) };
    default:
      return { type: 'other', tag: t.tag, value: Buffer.from(tlvBytes(t)) };
  }
}

function generalNames(ctx: ParseContext, r: DERReader, what: string): GeneralName[] {
  const out: GeneralName[] = [];
  while (!r.done) {
    if (out.length >= MAX_ITEMS) throw malformed(what, `more than ${MAX_ITEMS} names`);
    out.push(generalName(ctx, r, r.next(what), what));
  }
  return out;
}

/** A reader over an extension value that must be one element of the given universal tag. */
function single(ctx: ParseContext, value: Buffer, tag: number, what: string): { r: DERReader; t: TLV } {
  const top = new DERReader(ctx, value);
  const t = top.expect(UNIVERSAL, tag, what);
  if (!top.done) ctx.quirks.add('extension-trailing-data');
  return { r: top, t };
}

function decodeOne(ctx: ParseContext, ext: X509Extension, out: DecodedExtensions): boolean {
  const what = ext.name ?? ext.oid;
  switch (ext.oid) {
    case OID.basicConstraints: {
      const { r, t } = single(ctx, ext.value, TAG.SEQUENCE, what);
      const br = r.enter(t, what);
      let cA = false;
      let pathLen: number | undefined;
      const b = br.optional(UNIVERSAL, TAG.BOOLEAN, what);
      if (b) {
        cA = booleanValue(ctx, b, what);
        if (!cA) ctx.quirks.add('explicit-default');
      }
      const p = br.optional(UNIVERSAL, TAG.INTEGER, what);
      if (p) {
        pathLen = smallInteger(ctx, p, what);
        if (pathLen < 0) throw malformed(what, 'a negative pathLenConstraint');
      }
      out.basicConstraints = { cA, ...(pathLen !== undefined ? { pathLen } : {}) };
      return true;
    }
    case OID.keyUsage: {
      const { t } = single(ctx, ext.value, TAG.BIT_STRING, what);
      const bits = bitString(ctx, t, what).bytes;
      out.keyUsage = KEY_USAGES.filter((_, i) => i < bits.length * 8 && (bits[i >> 3]! & (0x80 >> (i & 7))) !== 0);
      return true;
    }
    case OID.extKeyUsage: {
      const { r, t } = single(ctx, ext.value, TAG.SEQUENCE, what);
      const er = r.enter(t, what);
      const oids: string[] = [];
      while (!er.done) {
        if (oids.length >= MAX_ITEMS) throw malformed(what, `more than ${MAX_ITEMS} purposes`);
        oids.push(oidValue(ctx, er.expect(UNIVERSAL, TAG.OID, what), what));
      }
      out.extKeyUsage = oids;
      return true;
    }
    case OID.subjectAltName: {
      const { r, t } = single(ctx, ext.value, TAG.SEQUENCE, what);
      out.subjectAltName = generalNames(ctx, r.enter(t, what), what);
      const tpm: TPMIdentity = {};
      for (const g of out.subjectAltName) {
        if (g.type !== 'directoryName') continue;
        tpm.manufacturer ??= nameAttribute(g.name, OID.tpmManufacturer);
        tpm.model ??= nameAttribute(g.name, OID.tpmModel);
        tpm.version ??= nameAttribute(g.name, OID.tpmVersion);
      }
      for (const k of ['manufacturer', 'model', 'version'] as const) if (tpm[k] === undefined) delete tpm[k];
      if (Object.keys(tpm).length) out.tpm = tpm;
      return true;
    }
    case OID.subjectKeyIdentifier: {
      const { t } = single(ctx, ext.value, TAG.OCTET_STRING, what);
      out.subjectKeyIdentifier = Buffer.from(octets(t, what));
      return true;
    }
    case OID.authorityKeyIdentifier: {
      const { r, t } = single(ctx, ext.value, TAG.SEQUENCE, what);
      const ar = r.enter(t, what);
      const aki: NonNullable<DecodedExtensions['authorityKeyIdentifier']> = {};
      while (!ar.done) {
        const f = ar.next(what);
        if (f.cls !== CONTEXT) throw malformed(what, 'an untagged field', f.start);
        if (f.tag === 0) aki.keyIdentifier = Buffer.from(octets(f, what));
        else if (f.tag === 1) aki.authorityCertIssuer = generalNames(ctx, ar.enter(f, what), what);
        else if (f.tag === 2) aki.authorityCertSerialNumber = Buffer.from(integerBytes(ctx, f, what));
      }
      out.authorityKeyIdentifier = aki;
      return true;
    }
    case OID.authorityInfoAccess: {
      const { r, t } = single(ctx, ext.value, TAG.SEQUENCE, what);
      const ar = r.enter(t, what);
      let n = 0;
      while (!ar.done) {
        if (++n > MAX_ITEMS) throw malformed(what, `more than ${MAX_ITEMS} access descriptions`);
        const ad = ar.expect(UNIVERSAL, TAG.SEQUENCE, what, true);
        const dr = ar.enter(ad, what);
        const method = oidValue(ctx, dr.expect(UNIVERSAL, TAG.OID, what), what);
        const loc = generalName(ctx, dr, dr.next(what), what);
        if (loc.type !== 'uniformResourceIdentifier') continue;
        if (method === OID.caIssuers) out.caIssuers.push(loc.value);
        else if (method === OID.ocsp) out.ocsp.push(loc.value);
      }
      return true;
    }
    case OID.certificatePolicies: {
      const { r, t } = single(ctx, ext.value, TAG.SEQUENCE, what);
      const pr = r.enter(t, what);
      const oids: string[] = [];
      while (!pr.done) {
        if (oids.length >= MAX_ITEMS) throw malformed(what, `more than ${MAX_ITEMS} policies`);
        const pi = pr.expect(UNIVERSAL, TAG.SEQUENCE, what, true);
        const ir = pr.enter(pi, what);
        oids.push(oidValue(ctx, ir.expect(UNIVERSAL, TAG.OID, what), what));
      }
      out.certificatePolicies = oids;
      return true;
    }
    case OID.subjectDirectoryAttributes: {
      // SEQUENCE OF Attribute { type, SET OF value }; TCG puts tpmSpecification and
      // tpmSecurityAssertions here. Only tpmSpecification is decoded.
      const { r, t } = single(ctx, ext.value, TAG.SEQUENCE, what);
      const ar = r.enter(t, what);
      let n = 0;
      while (!ar.done) {
        if (++n > MAX_ITEMS) throw malformed(what, `more than ${MAX_ITEMS} attributes`);
        const a = ar.expect(UNIVERSAL, TAG.SEQUENCE, what, true);
        const atr = ar.enter(a, what);
        const type = oidValue(ctx, atr.expect(UNIVERSAL, TAG.OID, what), what);
        const set = atr.expect(UNIVERSAL, TAG.SET, what, true);
        if (type !== OID.tpmSpecification) continue;
        const sr = atr.enter(set, what);
        const spec = sr.expect(UNIVERSAL, TAG.SEQUENCE, what, true);
        const pr = sr.enter(spec, what);
        const family = stringValue(pr.next(what), what) ?? '';
        const level = smallInteger(ctx, pr.expect(UNIVERSAL, TAG.INTEGER, what), what);
        const revision = smallInteger(ctx, pr.expect(UNIVERSAL, TAG.INTEGER, what), what);
        out.tpmSpecification = { family, level, revision };
      }
      return true;
    }
    default:
      return false;
  }
}

/** Decodes the known extensions; unknown ones stay raw, unknown critical ones are listed. */
export function decodeExtensions(ctx: ParseContext, exts: readonly X509Extension[]): DecodedExtensions {
  const out: DecodedExtensions = { caIssuers: [], ocsp: [], unknownCritical: [], extensionErrors: [] };
  const seen = new Set<string>();
  for (const ext of exts) {
    if (seen.has(ext.oid)) {
      // RFC 5280 4.2: at most one instance of an extension; the first one counts.
      out.extensionErrors.push({ oid: ext.oid, message: 'duplicate extension; the first one is used' });
      continue;
    }
    seen.add(ext.oid);
    try {
      if (!decodeOne(ctx, ext, out) && ext.critical) out.unknownCritical.push(ext.oid);
    } catch (e) {
      // A limit hit is a limit hit, whichever extension met it.
      if (!(e instanceof X509Error) || e.code !== 'X509_MALFORMED') throw e;
      out.extensionErrors.push({ oid: ext.oid, message: (e as Error).message });
    }
  }
  return out;
}
