// X.501 Names: the raw DER (issuer/subject matching uses it first), the attributes, a readable
// one-line form, and a normalised key for matching names whose encodings differ (PrintableString
// vs UTF8String, case, spacing, the order inside a multi-valued RDN) as RFC 5280 §7.1 allows.
import { DERReader, UNIVERSAL, TAG, malformed, oidValue, stringValue, tlvBytes, type ParseContext, type TLV } from './der.ts';
import { ATTRIBUTE_NAMES } from './oids.ts';

export interface NameAttribute {
  oid: string;
  /** Short name (CN, O, tpmManufacturer, ...) or the dotted OID. */
  type: string;
  /** The decoded string, or `#` and the DER in hex for a non-string value (RFC 4514). */
  value: string;
}

export interface X509Name {
  /** The Name exactly as encoded. */
  der: Buffer;
  /** RDNs in encoded order; each is a set of attributes (usually one). */
  rdns: NameAttribute[][];
  /** One line, in encoded order: `C=DE, O=Infineon Technologies AG, CN=...`; '' for an empty name. */
  text: string;
  /** Normalised form for matching. */
  key: string;
}

const MAX_RDNS = 64;

function escape(v: string): string {
  let s = v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (s.startsWith(' ') || s.startsWith('#')) s = `\\${s}`;
  if (s.endsWith(' ') && s.length > 1) s = `${s.slice(0, -1)}\\ `;
  return s;
}

const normalise = (a: NameAttribute): string => `${a.oid}=${a.value.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase()}`;

/** Compares two DER encodings as DER orders a SET OF (shorter first when one is a prefix). */
function derLess(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) < 0;
}

/** Parses a Name (SEQUENCE OF SET OF AttributeTypeAndValue) from its element. */
export function parseName(ctx: ParseContext, r: DERReader, t: TLV, what: string): X509Name {
  if (t.cls !== UNIVERSAL || t.tag !== TAG.SEQUENCE) throw malformed(what, 'a Name must be a SEQUENCE', t.start);
  return nameFromReader(ctx, r.enter(t, what), tlvBytes(t), what);
}

/** Parses the RDNs of a Name from a reader positioned on its contents (also used for [4] directoryName written implicitly). */
export function nameFromReader(ctx: ParseContext, seq: DERReader, der: Uint8Array, what: string): X509Name {
  const rdns: NameAttribute[][] = [];
  while (!seq.done) {
    if (rdns.length >= MAX_RDNS) throw malformed(what, `more than ${MAX_RDNS} name components`);
    const set = seq.expect(UNIVERSAL, TAG.SET, `${what} RDN`, true);
    const sr = seq.enter(set, `${what} RDN`);
    const rdn: NameAttribute[] = [];
    let prev: Uint8Array | undefined;
    while (!sr.done) {
      if (rdn.length >= MAX_RDNS) throw malformed(what, `more than ${MAX_RDNS} attributes in one RDN`);
      const atv = sr.expect(UNIVERSAL, TAG.SEQUENCE, `${what} attribute`, true);
      const enc = tlvBytes(atv);
      // DER sorts SET OF by encoding; Nuvoton root CAs (keylime issue #944) do not.
      if (prev && derLess(enc, prev)) ctx.quirks.add('set-not-sorted');
      prev = enc;
      const ar = sr.enter(atv, `${what} attribute`);
      const oid = oidValue(ctx, ar.expect(UNIVERSAL, TAG.OID, `${what} attribute type`), `${what} attribute type`);
      const v = ar.next(`${what} attribute value`);
      const s = v.constructed ? undefined : stringValue(v, `${what} attribute value`);
      rdn.push({ oid, type: ATTRIBUTE_NAMES[oid] ?? oid, value: s ?? `#${Buffer.from(tlvBytes(v)).toString('hex')}` });
    }
    if (rdn.length === 0) throw malformed(what, 'an empty RDN', set.start);
    rdns.push(rdn);
  }
  const text = rdns.map((rdn) => rdn.map((a) => `${a.type}=${escape(a.value)}`).join(' + ')).join(', ');
  const key = rdns.map((rdn) => rdn.map(normalise).sort().join('+')).join(',');
  return { der: Buffer.from(der), rdns, text, key };
}

/** True when two names are the same: byte-equal, or equal after normalisation. */
export function sameName(a: X509Name, b: X509Name): boolean {
  return a.der.equals(b.der) || a.key === b.key;
}

/** The first value of an attribute in a name, if any. */
export function nameAttribute(n: X509Name, oid: string): string | undefined {
  for (const rdn of n.rdns) for (const a of rdn) if (a.oid === oid) return a.value;
  return undefined;
}
