// Verifying a certificate's signature with an issuer key over the tbsCertificate bytes as
// encoded. ECDSA signatures are re-read tolerantly (non-minimal or sign-less INTEGERs) and given
// to node:crypto in IEEE P1363 form; RSA signatures shorter than the modulus (leading zero octets
// dropped by the signer) are left-padded, as the verification primitive defines them.
import { constants, verify, type KeyObject } from 'node:crypto';
import { DERReader, ParseContext, TAG, UNIVERSAL, unsignedBytes } from './der.ts';
import { X509Error } from './errors.ts';
import type { X509Cert } from './certificate.ts';
import type { X509PublicKey } from './spki.ts';

export type SignatureCheck =
  | { ok: true }
  | { ok: false; reason: 'bad-signature' | 'unsupported' | 'key-mismatch'; message: string };

const CURVE_SIZE: Record<string, number> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };

/** ECDSA-Sig-Value DER → r||s, each left-padded to the curve size; undefined when it cannot be one. */
function ecdsaP1363(sig: Uint8Array, size: number): Buffer | undefined {
  try {
    const ctx = new ParseContext({ maxDepth: 2, maxNodes: 8 });
    const top = new DERReader(ctx, sig);
    const seq = top.expect(UNIVERSAL, TAG.SEQUENCE, 'ECDSA signature', true);
    if (!top.done) return undefined;
    const r = top.enter(seq, 'ECDSA signature');
    const rv = unsignedBytes(ctx, r.expect(UNIVERSAL, TAG.INTEGER, 'ECDSA r'), 'ECDSA r');
    const sv = unsignedBytes(ctx, r.expect(UNIVERSAL, TAG.INTEGER, 'ECDSA s'), 'ECDSA s');
    if (!r.done || rv.length > size || sv.length > size) return undefined;
    const out = Buffer.alloc(2 * size);
    out.set(rv, size - rv.length);
    out.set(sv, 2 * size - sv.length);
    return out;
  } catch (e) {
    if (e instanceof X509Error) return undefined;
    throw e;
  }
}

/** Checks that `cert` was signed by the holder of `issuerKey`. Never throws for a bad or odd signature. */
export function verifyCertificateSignature(cert: X509Cert, issuerKey: X509PublicKey): SignatureCheck {
  const alg = cert.signatureAlgorithm;
  if (alg.kind === 'unsupported' || !alg.hash) return { ok: false, reason: 'unsupported', message: `${alg.unsupported ?? alg.oid} is not supported` };
  const key: KeyObject | undefined = issuerKey.keyObject;
  if (!key) return { ok: false, reason: 'unsupported', message: `the issuer key cannot be used (${issuerKey.keyError ?? 'unknown key type'})` };
  try {
    if (alg.kind === 'ecdsa') {
      if (issuerKey.type !== 'ec' || !issuerKey.ec) return { ok: false, reason: 'key-mismatch', message: `an ECDSA signature cannot come from a ${issuerKey.type.toUpperCase()} key` };
      const p1363 = ecdsaP1363(cert.signature, CURVE_SIZE[issuerKey.ec.curve]!);
      if (!p1363) return { ok: false, reason: 'bad-signature', message: 'the ECDSA signature is not a valid ECDSA-Sig-Value for the issuer curve' };
      return verify(alg.hash, cert.tbs, { key, dsaEncoding: 'ieee-p1363' }, p1363) ? { ok: true } : { ok: false, reason: 'bad-signature', message: 'the ECDSA signature does not verify' };
    }
    if (issuerKey.type !== 'rsa' || !issuerKey.rsa) return { ok: false, reason: 'key-mismatch', message: `an RSA signature cannot come from a ${issuerKey.type.toUpperCase()} key` };
    const size = issuerKey.rsa.n.length;
    let sig = cert.signature;
    if (sig.length > size) return { ok: false, reason: 'bad-signature', message: `the RSA signature is ${sig.length} bytes, longer than the ${size}-byte modulus` };
    if (sig.length < size) sig = Buffer.concat([Buffer.alloc(size - sig.length), sig]);
    const padding = alg.kind === 'rsa-pss'
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength ?? 20 }
      : { key, padding: constants.RSA_PKCS1_PADDING };
    return verify(alg.hash, cert.tbs, padding, sig) ? { ok: true } : { ok: false, reason: 'bad-signature', message: 'the RSA signature does not verify' };
  } catch (e) {
    // OpenSSL refuses some inputs instead of answering false (e.g. a key too small for a PSS salt).
    return { ok: false, reason: 'bad-signature', message: `the signature does not verify (${(e as Error).message})` };
  }
}
