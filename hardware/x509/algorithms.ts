// AlgorithmIdentifiers: the signature algorithms EK certificate chains use (RSA PKCS#1 v1.5 with
// SHA-1/2, RSASSA-PSS, ECDSA with SHA-1/2) with their parameters, checked enough to verify with
// node:crypto and to say exactly what we do not support.
import { CONTEXT, DERReader, TAG, UNIVERSAL, malformed, nullValue, oidValue, smallInteger, tlvBytes, type ParseContext, type TLV } from './der.ts';
import { OID } from './oids.ts';

export type HashName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface AlgorithmIdentifier {
  oid: string;
  /** The parameters element, exactly as encoded (undefined when absent). */
  parameters?: Buffer;
  /** The whole AlgorithmIdentifier as encoded. */
  der: Buffer;
}

export interface SignatureAlgorithm extends AlgorithmIdentifier {
  /** What we verify it as; 'unsupported' carries why in `unsupported`. */
  kind: 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa' | 'unsupported';
  name: string;
  hash?: HashName;
  /** RSASSA-PSS salt length (RFC 4055 default 20). */
  saltLength?: number;
  unsupported?: string;
}

const HASHES: Record<string, HashName> = {
  [OID.sha1]: 'sha1', [OID.sha224]: 'sha224', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512',
};

const PKCS1: Record<string, [string, HashName]> = {
  [OID.sha1WithRSAEncryption]: ['sha1WithRSAEncryption', 'sha1'],
  [OID.sha224WithRSAEncryption]: ['sha224WithRSAEncryption', 'sha224'],
  [OID.sha256WithRSAEncryption]: ['sha256WithRSAEncryption', 'sha256'],
  [OID.sha384WithRSAEncryption]: ['sha384WithRSAEncryption', 'sha384'],
  [OID.sha512WithRSAEncryption]: ['sha512WithRSAEncryption', 'sha512'],
};

const ECDSA: Record<string, [string, HashName]> = {
  [OID.ecdsaWithSHA1]: ['ecdsa-with-SHA1', 'sha1'],
  [OID.ecdsaWithSHA256]: ['ecdsa-with-SHA256', 'sha256'],
  [OID.ecdsaWithSHA384]: ['ecdsa-with-SHA384', 'sha384'],
  [OID.ecdsaWithSHA512]: ['ecdsa-with-SHA512', 'sha512'],
};

export function parseAlgorithmIdentifier(ctx: ParseContext, r: DERReader, t: TLV, what: string): AlgorithmIdentifier {
  if (t.cls !== UNIVERSAL || t.tag !== TAG.SEQUENCE) throw malformed(what, 'an AlgorithmIdentifier must be a SEQUENCE', t.start);
  const ar = r.enter(t, what);
  const oid = oidValue(ctx, ar.expect(UNIVERSAL, TAG.OID, what), what);
  const p = ar.done ? undefined : ar.next(`${what} parameters`);
  if (!ar.done) ctx.quirks.add('extra-algorithm-fields');
  return { oid, ...(p ? { parameters: Buffer.from(tlvBytes(p)) } : {}), der: Buffer.from(tlvBytes(t)) };
}

function hashOf(ctx: ParseContext, alg: AlgorithmIdentifier, what: string): HashName | undefined {
  if (alg.parameters) {
    const r = new DERReader(ctx, alg.parameters);
    const p = r.next(what);
    if (p.cls === UNIVERSAL && p.tag === TAG.NULL) nullValue(p, what);
  }
  return HASHES[alg.oid];
}

/** Interprets a signature AlgorithmIdentifier. Parameter errors are malformed; unknown algorithms are 'unsupported'. */
export function signatureAlgorithm(ctx: ParseContext, alg: AlgorithmIdentifier, what: string): SignatureAlgorithm {
  const pk = PKCS1[alg.oid];
  if (pk) {
    // RFC 4055: parameters NULL; absent is a common slip.
    if (alg.parameters) {
      const r = new DERReader(ctx, alg.parameters);
      const p = r.next(what);
      if (p.cls === UNIVERSAL && p.tag === TAG.NULL) nullValue(p, what);
      else ctx.quirks.add('rsa-signature-parameters-not-null');
    } else ctx.quirks.add('rsa-signature-parameters-absent');
    return { ...alg, kind: 'rsa-pkcs1', name: pk[0], hash: pk[1] };
  }
  const ec = ECDSA[alg.oid];
  if (ec) {
    // RFC 5758: parameters absent; NULL is a common slip.
    if (alg.parameters) ctx.quirks.add('ecdsa-signature-parameters-present');
    return { ...alg, kind: 'ecdsa', name: ec[0], hash: ec[1] };
  }
  if (alg.oid === OID.rsassaPss) return pssAlgorithm(ctx, alg, what);
  return { ...alg, kind: 'unsupported', name: alg.oid, unsupported: `signature algorithm ${alg.oid}` };
}

/** RSASSA-PSS-params (RFC 4055 §3.1): [0] hash, [1] MGF1(hash), [2] salt length, [3] trailer 1. */
function pssAlgorithm(ctx: ParseContext, alg: AlgorithmIdentifier, what: string): SignatureAlgorithm {
  let hash: HashName | undefined = 'sha1';
  let mgfHash: HashName | undefined = 'sha1';
  let saltLength = 20;
  let trailer = 1;
  const base = { ...alg, name: 'RSASSA-PSS' };
  if (alg.parameters) {
    const top = new DERReader(ctx, alg.parameters);
    const seq = top.expect(UNIVERSAL, TAG.SEQUENCE, `${what} PSS parameters`, true);
    const r = top.enter(seq, `${what} PSS parameters`);
    while (!r.done) {
      const f = r.next(`${what} PSS parameters`);
      if (f.cls !== CONTEXT || !f.constructed) throw malformed(what, 'PSS parameters hold an untagged field', f.start);
      const fr = r.enter(f, `${what} PSS parameters`);
      const inner = fr.next(`${what} PSS parameters`);
      if (f.tag === 0) hash = hashOf(ctx, parseAlgorithmIdentifier(ctx, fr, inner, `${what} PSS hash`), what);
      else if (f.tag === 1) {
        const mgf = parseAlgorithmIdentifier(ctx, fr, inner, `${what} PSS mask generation`);
        if (mgf.oid !== OID.mgf1 || !mgf.parameters) return { ...base, kind: 'unsupported', unsupported: `PSS mask generation function ${mgf.oid}` };
        const mr = new DERReader(ctx, mgf.parameters);
        mgfHash = hashOf(ctx, parseAlgorithmIdentifier(ctx, mr, mr.next(what), `${what} MGF1 hash`), what);
      } else if (f.tag === 2) saltLength = smallInteger(ctx, inner, `${what} PSS salt length`);
      else if (f.tag === 3) trailer = smallInteger(ctx, inner, `${what} PSS trailer field`);
      else throw malformed(what, `unknown PSS parameter [${f.tag}]`, f.start);
    }
  }
  if (!hash) return { ...base, kind: 'unsupported', unsupported: 'a PSS hash we do not know' };
  if (mgfHash !== hash) return { ...base, kind: 'unsupported', unsupported: `PSS with MGF1-${mgfHash ?? '?'} over ${hash}` };
  if (trailer !== 1) return { ...base, kind: 'unsupported', unsupported: `PSS trailer field ${trailer}` };
  if (saltLength < 0 || saltLength > 1024) throw malformed(what, `PSS salt length ${saltLength}`);
  return { ...base, kind: 'rsa-pss', hash, saltLength };
}
