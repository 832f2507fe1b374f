// NIST prime curves used by TPMs (TPM_ECC_NIST_P256 / P384), with just enough affine/Jacobian
// arithmetic to check that a point is on its curve and to verify ECDSA over a precomputed digest,
// which Node's crypto cannot do (it always hashes the input). Verification handles public data
// only, so constant time is not a concern here.
import { bytesToBigInt, fitUnsigned } from './bytes.ts';
import { TpmCryptoError, invalidArgument } from './errors.ts';

export type EccCurve = 'P-256' | 'P-384';

export interface CurveParams {
  name: EccCurve;
  /** TPM_ECC_CURVE value (Part 2 §6.4). */
  tpmId: number;
  /** Node / OpenSSL curve name. */
  nodeName: string;
  bytes: number;
  p: bigint;
  a: bigint;
  b: bigint;
  n: bigint;
  gx: bigint;
  gy: bigint;
}

const P256: CurveParams = {
  name: 'P-256', tpmId: 0x0003, nodeName: 'prime256v1', bytes: 32,
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
  b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

const P384: CurveParams = {
  name: 'P-384', tpmId: 0x0004, nodeName: 'secp384r1', bytes: 48,
  p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
  a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
  b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
  gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
};

const CURVES: Readonly<Record<EccCurve, CurveParams>> = { 'P-256': P256, 'P-384': P384 };

export function curveParams(curve: EccCurve): CurveParams {
  const c = CURVES[curve];
  if (!c) throw new TpmCryptoError('TPM_CRYPTO_UNSUPPORTED_ALG', `ECC curve ${String(curve)} is not supported; use P-256 or P-384.`);
  return c;
}

/** TPM_ECC_CURVE id → curve; undefined for a curve we do not implement. */
export function curveFromTpmId(id: number): EccCurve | undefined {
  for (const c of Object.values(CURVES)) if (c.tpmId === id) return c.name;
  return undefined;
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function modInv(a: bigint, m: bigint): bigint {
  // Extended Euclid; a is non-zero mod m (callers guarantee it).
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

export function isOnCurve(c: CurveParams, x: bigint, y: bigint): boolean {
  if (x < 0n || y < 0n || x >= c.p || y >= c.p) return false;
  return mod(y * y - (x * x * x + c.a * x + c.b), c.p) === 0n;
}

/** Normalizes (x, y) to the curve's fixed width and checks the point lies on the curve. */
export function checkPoint(curve: EccCurve, x: Uint8Array, y: Uint8Array): { x: Uint8Array; y: Uint8Array } {
  const c = curveParams(curve);
  const fx = fitUnsigned(x, c.bytes, 'ECC x coordinate');
  const fy = fitUnsigned(y, c.bytes, 'ECC y coordinate');
  if (!isOnCurve(c, bytesToBigInt(fx), bytesToBigInt(fy))) throw invalidArgument(`The ECC point is not on curve ${curve}.`);
  return { x: fx, y: fy };
}

// Jacobian coordinates (X, Y, Z) ↔ affine (X/Z², Y/Z³); Z = 0 is the point at infinity.
type J = [bigint, bigint, bigint];
const INF: J = [0n, 1n, 0n];

function jDouble(c: CurveParams, P: J): J {
  const [X, Y, Z] = P;
  if (Z === 0n || Y === 0n) return INF;
  const p = c.p;
  const YY = mod(Y * Y, p);
  const S = mod(4n * X * YY, p);
  const ZZ = mod(Z * Z, p);
  const M = mod(3n * X * X + c.a * ZZ * ZZ, p);
  const X3 = mod(M * M - 2n * S, p);
  const Y3 = mod(M * (S - X3) - 8n * YY * YY, p);
  const Z3 = mod(2n * Y * Z, p);
  return [X3, Y3, Z3];
}

function jAdd(c: CurveParams, P: J, Q: J): J {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const p = c.p;
  const Z1Z1 = mod(P[2] * P[2], p);
  const Z2Z2 = mod(Q[2] * Q[2], p);
  const U1 = mod(P[0] * Z2Z2, p);
  const U2 = mod(Q[0] * Z1Z1, p);
  const S1 = mod(P[1] * Q[2] * Z2Z2, p);
  const S2 = mod(Q[1] * P[2] * Z1Z1, p);
  if (U1 === U2) return S1 === S2 ? jDouble(c, P) : INF;
  const H = mod(U2 - U1, p);
  const R = mod(S2 - S1, p);
  const HH = mod(H * H, p);
  const HHH = mod(H * HH, p);
  const V = mod(U1 * HH, p);
  const X3 = mod(R * R - HHH - 2n * V, p);
  const Y3 = mod(R * (V - X3) - S1 * HHH, p);
  const Z3 = mod(H * P[2] * Q[2], p);
  return [X3, Y3, Z3];
}

/** u1·G + u2·Q by Shamir's trick; returns affine x, or undefined for the point at infinity. */
function doubleScalarX(c: CurveParams, u1: bigint, u2: bigint, qx: bigint, qy: bigint): bigint | undefined {
  const G: J = [c.gx, c.gy, 1n];
  const Q: J = [qx, qy, 1n];
  const GQ = jAdd(c, G, Q);
  let R: J = INF;
  const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    R = jDouble(c, R);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) R = jAdd(c, R, GQ);
    else if (b1) R = jAdd(c, R, G);
    else if (b2) R = jAdd(c, R, Q);
  }
  if (R[2] === 0n) return undefined;
  const zi = modInv(R[2], c.p);
  return mod(R[0] * zi * zi, c.p);
}

/** Scalar multiple k·(x, y) in affine form (used by tests to check curve constants). */
export function scalarMult(curve: EccCurve, k: bigint, x: bigint, y: bigint): { x: bigint; y: bigint } | undefined {
  const c = curveParams(curve);
  let R: J = INF;
  let A: J = [x, y, 1n];
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) R = jAdd(c, R, A);
    A = jDouble(c, A);
  }
  if (R[2] === 0n) return undefined;
  const zi = modInv(R[2], c.p);
  return { x: mod(R[0] * zi * zi, c.p), y: mod(R[1] * zi * zi * zi, c.p) };
}

/**
 * ECDSA verification (SEC 1 §4.1.4) over a digest already computed by the caller. A digest longer
 * than the order is truncated to its leftmost bits, as the standard requires.
 */
export function ecdsaVerifyDigest(curve: EccCurve, x: Uint8Array, y: Uint8Array, digest: Uint8Array, r: bigint, s: bigint): boolean {
  const c = curveParams(curve);
  const Q = checkPoint(curve, x, y);
  if (r <= 0n || s <= 0n || r >= c.n || s >= c.n) return false;
  const nBits = c.n.toString(2).length;
  let e = bytesToBigInt(digest);
  const dBits = digest.length * 8;
  if (dBits > nBits) e >>= BigInt(dBits - nBits);
  const w = modInv(s, c.n);
  const u1 = mod(e * w, c.n);
  const u2 = mod(r * w, c.n);
  const X = doubleScalarX(c, u1, u2, bytesToBigInt(Q.x), bytesToBigInt(Q.y));
  if (X === undefined) return false;
  return mod(X, c.n) === r;
}
