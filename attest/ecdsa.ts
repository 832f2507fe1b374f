// ECDSA verification over a digest the caller already has (P-256, P-384). Node's crypto always
// hashes the message itself, so a Sigstore message signature over a 1 GiB artifact could otherwise
// only be checked by reading the artifact a second time, and a digest-only verification
// (`sha256:HEX`) could not be checked at all. The curve arithmetic is hardware/crypto's (the TPM
// stack needs the same for quotes); this file adds what Sigstore/DSSE signatures need on top:
// KeyObject input and lenient DER-or-P1363 signature parsing.
import type { KeyObject } from 'node:crypto';
import { ecdsaVerifyDigest, type EccCurve } from '../hardware/index.ts';

interface Curve {
  curve: EccCurve;
  /** Coordinate (and r, s) size in bytes. */
  bytes: number;
}

const P256: Curve = { curve: 'P-256', bytes: 32 };
const P384: Curve = { curve: 'P-384', bytes: 48 };

export function curveOf(key: KeyObject): Curve | undefined {
  if (key.asymmetricKeyType !== 'ec') return undefined;
  const c = key.asymmetricKeyDetails?.namedCurve;
  return c === 'prime256v1' ? P256 : c === 'secp384r1' ? P384 : undefined;
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
  const rs = parseECDSASignature(sig, c.bytes);
  if (!rs) return false;
  try {
    return ecdsaVerifyDigest(c.curve, Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url'), digest, rs.r, rs.s);
  } catch {
    return false; // a public key off its curve
  }
}
