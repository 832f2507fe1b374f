// ECDSA verification over a digest the caller already has (P-256, P-384). Node's crypto always
// hashes the message itself, so a Sigstore message signature over a 1 GiB artifact could otherwise
// only be checked by reading the artifact a second time, and a digest-only verification
// (`sha256:HEX`) could not be checked at all. Public inputs only: no constant-time concerns.
import type { KeyObject } from 'node:crypto';

interface Curve {
  p: bigint;
  n: bigint;
  b: bigint;
  gx: bigint;
  gy: bigint;
  bits: number;
  bytes: number;
}

const P256: Curve = {
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  bits: 256,
  bytes: 32,
};

const P384: Curve = {
  p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
  n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
  gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
  bits: 384,
  bytes: 48,
};

export function curveOf(key: KeyObject): Curve | undefined {
  if (key.asymmetricKeyType !== 'ec') return undefined;
  const c = key.asymmetricKeyDetails?.namedCurve;
  return c === 'prime256v1' ? P256 : c === 'secp384r1' ? P384 : undefined;
}

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function inv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

// Jacobian points; Z = 0 is the point at infinity. Both curves have a = -3.
type J = [bigint, bigint, bigint];
const INF: J = [1n, 1n, 0n];

function dbl(P: J, p: bigint): J {
  const [x, y, z] = P;
  if (z === 0n || y === 0n) return INF;
  const delta = (z * z) % p;
  const gamma = (y * y) % p;
  const beta = (x * gamma) % p;
  const alpha = mod(3n * (x - delta) * (x + delta), p);
  const x3 = mod(alpha * alpha - 8n * beta, p);
  const z3 = mod((y + z) * (y + z) - gamma - delta, p);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * gamma * gamma, p);
  return [x3, y3, z3];
}

function add(P: J, Q: J, p: bigint): J {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const [x1, y1, z1] = P;
  const [x2, y2, z2] = Q;
  const z1z1 = (z1 * z1) % p;
  const z2z2 = (z2 * z2) % p;
  const u1 = (x1 * z2z2) % p;
  const u2 = (x2 * z1z1) % p;
  const s1 = (((y1 * z2) % p) * z2z2) % p;
  const s2 = (((y2 * z1) % p) * z1z1) % p;
  if (u1 === u2) return s1 === s2 ? dbl(P, p) : INF;
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const hh = (h * h) % p;
  const hhh = (hh * h) % p;
  const v = (u1 * hh) % p;
  const x3 = mod(r * r - hhh - 2n * v, p);
  const y3 = mod(r * (v - x3) - s1 * hhh, p);
  const z3 = (((h * z1) % p) * z2) % p;
  return [x3, y3, z3];
}

function onCurve(c: Curve, x: bigint, y: bigint): boolean {
  if (x < 0n || x >= c.p || y < 0n || y >= c.p) return false;
  return mod(y * y - (x * x * x - 3n * x + c.b), c.p) === 0n;
}

const b2i = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex')));

/** Parses an ECDSA signature as DER SEQUENCE{r, s} or as IEEE P1363 r‖s; undefined when neither. */
export function parseECDSASignature(sig: Uint8Array, bytes: number): { r: bigint; s: bigint } | undefined {
  if (sig.length === 2 * bytes && sig[0] !== 0x30) return { r: b2i(sig.subarray(0, bytes)), s: b2i(sig.subarray(bytes)) };
  const der = parseDER(sig);
  if (der) return der;
  if (sig.length === 2 * bytes) return { r: b2i(sig.subarray(0, bytes)), s: b2i(sig.subarray(bytes)) };
  return undefined;
}

function parseDER(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  if (sig.length < 8 || sig[0] !== 0x30) return undefined;
  let i = 1;
  let len = sig[i++]!;
  if (len === 0x81) len = sig[i++]!;
  else if (len > 0x80) return undefined;
  if (i + len !== sig.length) return undefined;
  const ints: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (sig[i++] !== 0x02) return undefined;
    const l = sig[i++]!;
    if (l === 0 || l > 0x7f || i + l > sig.length) return undefined;
    ints.push(b2i(sig.subarray(i, i + l)));
    i += l;
  }
  if (i !== sig.length) return undefined;
  return { r: ints[0]!, s: ints[1]! };
}

/** Verifies an ECDSA signature over `digest` (any length; truncated to the curve order's bits). */
export function verifyECDSADigest(key: KeyObject, digest: Uint8Array, sig: Uint8Array): boolean {
  const c = curveOf(key);
  if (!c) return false;
  const jwk = key.export({ format: 'jwk' });
  if (!jwk.x || !jwk.y) return false;
  const qx = b2i(Buffer.from(jwk.x, 'base64url'));
  const qy = b2i(Buffer.from(jwk.y, 'base64url'));
  if (!onCurve(c, qx, qy)) return false;
  const rs = parseECDSASignature(sig, c.bytes);
  if (!rs) return false;
  const { r, s } = rs;
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  let e = b2i(digest);
  const dbits = digest.length * 8;
  if (dbits > c.bits) e >>= BigInt(dbits - c.bits);
  const w = inv(s, c.n);
  const u1 = (e * w) % c.n;
  const u2 = (r * w) % c.n;
  // Shamir's trick: one double-and-add pass over both scalars.
  const G: J = [c.gx, c.gy, 1n];
  const Q: J = [qx, qy, 1n];
  const GQ = add(G, Q, c.p);
  let R: J = INF;
  const top = Math.max(u1.toString(2).length, u2.toString(2).length);
  for (let i = top - 1; i >= 0; i--) {
    R = dbl(R, c.p);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) R = add(R, GQ, c.p);
    else if (b1) R = add(R, G, c.p);
    else if (b2) R = add(R, Q, c.p);
  }
  if (R[2] === 0n) return false;
  const zi = inv(R[2], c.p);
  const x = (R[0] * ((zi * zi) % c.p)) % c.p;
  return x % c.n === r;
}
