// SubjectPublicKeyInfo: RSA (rsaEncryption, and the RSAES-OAEP key OID some TPM vendors put on
// EK certificates) and EC on P-256/P-384/P-521. The key becomes a node KeyObject from the SPKI as
// encoded; when OpenSSL refuses that encoding (an OAEP OID, a non-minimal integer), from the
// parsed numbers instead, so a quirky encoding never hides a usable key.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { DERReader, TAG, UNIVERSAL, bitString, malformed, oidValue, tlvBytes, unsignedBytes, type ParseContext, type TLV } from './der.ts';
import { parseAlgorithmIdentifier } from './algorithms.ts';
import { OID } from './oids.ts';

export type CurveName = 'P-256' | 'P-384' | 'P-521';

const CURVES: Record<string, { name: CurveName; size: number }> = {
  [OID.p256]: { name: 'P-256', size: 32 },
  [OID.p384]: { name: 'P-384', size: 48 },
  [OID.p521]: { name: 'P-521', size: 66 },
};

export interface X509PublicKey {
  /** 'rsa' and 'ec' we can use; 'other' is recorded (algorithm OID, curve OID) but not usable. */
  type: 'rsa' | 'ec' | 'other';
  algorithmOid: string;
  /** The SubjectPublicKeyInfo exactly as encoded. */
  spki: Buffer;
  /** RSA modulus and exponent, unsigned big-endian without leading zeros. */
  rsa?: { n: Buffer; e: Buffer; bits: number };
  /** EC curve and the encoded point (04||x||y, or compressed). */
  ec?: { curve: CurveName; point: Buffer; x?: Buffer; y?: Buffer };
  /** The curve OID of an EC key on a curve we do not support (SM2, brainpool, ...). */
  curveOid?: string;
  /** Usable key (absent for 'other' and for keys OpenSSL rejects, e.g. a point not on the curve). */
  keyObject?: KeyObject;
  /** Why there is no keyObject. */
  keyError?: string;
}

function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}

function oidDER(dotted: string): Buffer {
  const arcs = dotted.split('.').map(BigInt);
  const out: number[] = [];
  const push = (v: bigint) => {
    const g = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) g.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...g);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, Buffer.from(out));
}

/** Canonical SPKI of an EC key, for when the encoded one does not import. */
function ecSPKI(curveOid: string, point: Uint8Array): Buffer {
  return tlv(0x30, Buffer.concat([tlv(0x30, Buffer.concat([oidDER(OID.ecPublicKey), oidDER(curveOid)])), tlv(0x03, Buffer.concat([Buffer.from([0]), point]))]));
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

export function parseSPKI(ctx: ParseContext, r: DERReader, t: TLV, what: string): X509PublicKey {
  if (t.cls !== UNIVERSAL || t.tag !== TAG.SEQUENCE) throw malformed(what, 'SubjectPublicKeyInfo must be a SEQUENCE', t.start);
  const sr = r.enter(t, what);
  const alg = parseAlgorithmIdentifier(ctx, sr, sr.next(`${what} algorithm`), `${what} algorithm`);
  const bits = bitString(ctx, sr.expect(UNIVERSAL, TAG.BIT_STRING, `${what} key`), `${what} key`);
  if (bits.unusedBits) ctx.quirks.add('spki-unused-bits');
  const spki = Buffer.from(tlvBytes(t));
  const key: X509PublicKey = { type: 'other', algorithmOid: alg.oid, spki };
  if (alg.oid === OID.rsaEncryption || alg.oid === OID.rsaesOaep || alg.oid === OID.rsassaPss) {
    const kr = new DERReader(ctx, bits.bytes);
    const seq = kr.expect(UNIVERSAL, TAG.SEQUENCE, `${what} RSAPublicKey`, true);
    const rr = kr.enter(seq, `${what} RSAPublicKey`);
    const n = Buffer.from(unsignedBytes(ctx, rr.expect(UNIVERSAL, TAG.INTEGER, `${what} modulus`), `${what} modulus`));
    const e = Buffer.from(unsignedBytes(ctx, rr.expect(UNIVERSAL, TAG.INTEGER, `${what} exponent`), `${what} exponent`));
    if (n.length === 1 && n[0] === 0) throw malformed(what, 'RSA modulus zero');
    key.type = 'rsa';
    key.rsa = { n, e, bits: n.length * 8 - Math.clz32(n[0]!) + 24 };
    if (alg.oid !== OID.rsaEncryption) ctx.quirks.add(alg.oid === OID.rsaesOaep ? 'rsa-oaep-key-oid' : 'rsa-pss-key-oid');
    attach(key, () => createPublicKey({ key: spki, format: 'der', type: 'spki' }), () => createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e) }, format: 'jwk' }), alg.oid === OID.rsaEncryption);
    return key;
  }
  if (alg.oid === OID.ecPublicKey) {
    if (!alg.parameters) throw malformed(what, 'an EC key without its curve');
    const pr = new DERReader(ctx, alg.parameters);
    const p = pr.next(`${what} curve`);
    if (p.cls !== UNIVERSAL || p.tag !== TAG.OID) {
      key.keyError = 'EC keys with explicit curve parameters are not supported';
      return key;
    }
    const curveOid = oidValue(ctx, p, `${what} curve`);
    const curve = CURVES[curveOid];
    if (!curve) {
      key.curveOid = curveOid;
      key.keyError = `EC curve ${curveOid} is not supported`;
      return key;
    }
    const point = Buffer.from(bits.bytes);
    key.type = 'ec';
    if (point[0] === 4 && point.length === 1 + 2 * curve.size) {
      key.ec = { curve: curve.name, point, x: point.subarray(1, 1 + curve.size), y: point.subarray(1 + curve.size) };
    } else if ((point[0] === 2 || point[0] === 3) && point.length === 1 + curve.size) {
      key.ec = { curve: curve.name, point };
    } else {
      key.ec = { curve: curve.name, point };
      key.keyError = `the ${curve.name} point is ${point.length} bytes with prefix ${point[0] ?? 'none'}`;
      return key;
    }
    attach(key, () => createPublicKey({ key: spki, format: 'der', type: 'spki' }), () => createPublicKey({ key: ecSPKI(curveOid, point), format: 'der', type: 'spki' }), true);
    return key;
  }
  key.keyError = `key algorithm ${alg.oid} is not supported`;
  return key;
}

/** Imports the key as encoded, else from the parsed parts; records OpenSSL's refusal otherwise. */
function attach(key: X509PublicKey, asEncoded: () => KeyObject, fromParts: () => KeyObject, tryEncoded: boolean): void {
  if (tryEncoded) {
    try {
      key.keyObject = asEncoded();
      return;
    } catch { /* fall through to the parsed parts */ }
  }
  try {
    key.keyObject = fromParts();
  } catch (e) {
    key.keyError = `the key does not import: ${(e as Error).message}`;
  }
}
