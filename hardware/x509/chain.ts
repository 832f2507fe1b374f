// EK certificate chain validation: a path from the EK certificate through the intermediates the
// device supplied (NV 0x01c00100–0x01c001ff, or sent along) to a trust anchor in the root store.
//
// Path building: issuers are found by name (byte-equal, else normalised), candidates whose
// subjectKeyIdentifier matches the child's authorityKeyIdentifier are tried first, anchors before
// supplied intermediates; every candidate is tried until one completes the path (depth-first,
// no certificate twice, at most `maxPathLength` certificates and 64 signature checks in all).
// Each link: the issuer's signature over the child's tbsCertificate verifies, the issuer is a CA
// (basicConstraints cA=true; an anchor without basicConstraints is accepted, an anchor that says
// cA=false is not; keyUsage, when present, allows keyCertSign) and its pathLenConstraint holds.
//
// Validity (the `validity` option):
//  - 'ek' (default): notBefore is enforced on every certificate of the path; notAfter is not —
//    it is reported in `expired`. An EK certificate certifies a key that lives as long as the
//    TPM: the TCG EK Credential Profile recommends notAfter 99991231235959Z for EK certificates,
//    and vendor intermediates (Infineon's "IFX TPM EK Intermediate CA 01" expired in 2025) expire
//    long before the TPMs they certified leave service. keylime does not check EK validity at all;
//    go-attestation's Verify checks it and so refuses TPMs in the field once a CA expires.
//  - 'strict': notBefore and notAfter enforced on every certificate (RFC 5280).
//  - 'none': no time checks.
// Unknown critical extensions are tolerated (TCG certificates mark extensions critical that
// general-purpose verifiers do not know) and reported in `warnings`.
import { parseCertificate, type X509Cert } from './certificate.ts';
import { EKChainError, X509Error, type EKChainErrorCode } from './errors.ts';
import { sameName } from './name.ts';
import { OID } from './oids.ts';
import { verifyCertificateSignature } from './signature.ts';
import type { EKAnchor, EKRootStore } from './store.ts';
import type { TPMIdentity } from './extensions.ts';
import { tpmVendor, type TPMVendor } from './vendors.ts';

export type ValidityPolicy = 'ek' | 'strict' | 'none';

export interface VerifyEKChainOptions {
  /** The time to check validity at (default now). */
  at?: Date;
  validity?: ValidityPolicy;
  /** Most certificates in a path, leaf and anchor included (default 8). */
  maxPathLength?: number;
}

export interface EKChainLink {
  cert: X509Cert;
  /** 'leaf', an intermediate the device supplied, or a store certificate. */
  from: 'leaf' | 'intermediate' | 'store';
  /** For store certificates: the store entry's source. */
  source?: string;
}

export interface EKChainResult {
  /** Leaf first. Ends at the anchor, or above it at the store's root when the store has one that verifies. */
  links: EKChainLink[];
  /** The certificates of `links`. */
  path: X509Cert[];
  /** The store certificate the trust comes from (the first store certificate on the path). */
  anchor: EKAnchor;
  /** The TPM vendor named by the leaf's SAN tpmManufacturer. */
  vendor?: TPMVendor;
  /** tpmManufacturer / tpmModel / tpmVersion from the leaf's SAN. */
  tpm?: TPMIdentity;
  /** Certificates on the path past their notAfter at `at` (allowed by the 'ek' policy). */
  expired: Array<{ subject: string; notAfter: string }>;
  /** Tolerated oddities worth showing an operator (unknown critical extensions, undecodable extensions). */
  warnings: string[];
}

export const MAX_INTERMEDIATES = 16;
const MAX_SIGNATURE_CHECKS = 64;

/** How a certificate is named in messages: its subject, or for the usual empty EK subject, serial and issuer. */
export function describeCert(c: X509Cert): string {
  return c.subject.text ? `"${c.subject.text}"` : `the certificate with serial ${c.serialHex} issued by "${c.issuer.text}"`;
}

function toCert(x: Uint8Array | X509Cert, what: string): X509Cert {
  if (!(x instanceof Uint8Array)) return x;
  try {
    return parseCertificate(x, { trailing: 'padding' });
  } catch (e) {
    if (e instanceof X509Error) throw new EKChainError('EK_CHAIN_MALFORMED', `The ${what} does not parse: ${e.message}`, { cause: e });
    throw e;
  }
}

function selfIssued(c: X509Cert): boolean {
  return sameName(c.subject, c.issuer);
}

/** Why `c` may not issue certificates, or undefined. */
function caProblem(c: X509Cert, isAnchor: boolean): string | undefined {
  if (c.extensionErrors.some((e) => e.oid === OID.basicConstraints)) return 'its basicConstraints extension does not decode';
  const bc = c.basicConstraints;
  if (bc && !bc.cA) return 'its basicConstraints say it is not a CA';
  if (!bc && !isAnchor) return 'it has no basicConstraints, which an intermediate CA must have (cA=true)';
  if (c.extensionErrors.some((e) => e.oid === OID.keyUsage)) return 'its keyUsage extension does not decode';
  if (c.keyUsage && !c.keyUsage.includes('keyCertSign')) return 'its keyUsage does not allow certificate signing';
  return undefined;
}

interface Failure {
  depth: number;
  code: EKChainErrorCode;
  message: string;
  details: Record<string, unknown>;
}

/**
 * Validates an EK certificate chain. Returns the path and the TPM vendor, or throws EKChainError
 * naming the link that failed (EK_CHAIN_NO_ISSUER, EK_CHAIN_BAD_SIGNATURE, EK_CHAIN_NOT_CA, ...).
 */
export function verifyEKChain(
  leafIn: Uint8Array | X509Cert,
  intermediatesIn: readonly (Uint8Array | X509Cert)[],
  store: EKRootStore,
  opts: VerifyEKChainOptions = {},
): EKChainResult {
  const at = opts.at ?? new Date();
  const policy = opts.validity ?? 'ek';
  const maxLen = Math.max(2, Math.min(opts.maxPathLength ?? 8, 16));
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new EKChainError('EK_CHAIN_OPTIONS_INVALID', 'The time to check the EK chain at is not a valid date.');
  if (intermediatesIn.length > MAX_INTERMEDIATES) throw new EKChainError('EK_CHAIN_TOO_LONG', `${intermediatesIn.length} intermediate certificates were supplied; at most ${MAX_INTERMEDIATES} are considered.`);
  const leaf = toCert(leafIn, 'EK certificate');
  const intermediates = intermediatesIn.map((x, i) => toCert(x, `intermediate certificate ${i + 1}`)).filter((c) => !store.has(c));
  const expired = new Map<string, { subject: string; notAfter: string }>();
  let sigChecks = 0;
  let best: Failure | undefined;
  const fail = (f: Failure): void => {
    if (!best || f.depth > best.depth) best = f;
  };

  /** Validity of `c` at `at` under the policy, or the failure. */
  const timeProblem = (c: X509Cert, role: string, depth: number): Failure | undefined => {
    if (policy === 'none') return undefined;
    const window = `valid from ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()}`;
    if (at < c.notBefore) return { depth, code: 'EK_CHAIN_NOT_YET_VALID', message: `the ${role} ${describeCert(c)} is not valid at ${at.toISOString()}: it is ${window}`, details: { subject: c.subject.text, notBefore: c.notBefore.toISOString() } };
    if (at > c.notAfter) {
      if (policy === 'strict') return { depth, code: 'EK_CHAIN_EXPIRED', message: `the ${role} ${describeCert(c)} is not valid at ${at.toISOString()}: it expired (${window})`, details: { subject: c.subject.text, notAfter: c.notAfter.toISOString() } };
      expired.set(c.fingerprint256, { subject: c.subject.text || describeCert(c), notAfter: c.notAfter.toISOString() });
    }
    return undefined;
  };

  /** Checks that `issuer` issued `child` (the last of `path`); a failure is recorded and false returned. */
  const link = (path: readonly X509Cert[], issuer: X509Cert, isAnchor: boolean): boolean => {
    const child = path[path.length - 1]!;
    const depth = path.length;
    const role = isAnchor ? 'root store certificate' : 'intermediate';
    const details = { link: depth, child: child.subject.text, issuer: issuer.subject.text, issuerFingerprint256: issuer.fingerprint256 };
    if (++sigChecks > MAX_SIGNATURE_CHECKS) {
      throw new EKChainError('EK_CHAIN_TOO_LONG', `Building the EK chain gave up after ${MAX_SIGNATURE_CHECKS} signature checks; the supplied intermediates name the same issuers too often.`, { details });
    }
    const sig = verifyCertificateSignature(child, issuer.publicKey);
    if (!sig.ok) {
      const code: EKChainErrorCode = sig.reason === 'unsupported' ? 'EK_CHAIN_UNSUPPORTED_ALGORITHM' : 'EK_CHAIN_BAD_SIGNATURE';
      fail({ depth, code, message: `${describeCert(child)} names ${describeCert(issuer)} (${role}) as its issuer, but ${sig.message}`, details });
      return false;
    }
    const ca = caProblem(issuer, isAnchor);
    if (ca) {
      fail({ depth, code: 'EK_CHAIN_NOT_CA', message: `${describeCert(issuer)} (${role}) signed ${describeCert(child)}, but ${ca}`, details });
      return false;
    }
    const below = path.slice(1).filter((c) => !selfIssued(c)).length;
    const pathLen = issuer.basicConstraints?.pathLen;
    if (pathLen !== undefined && below > pathLen) {
      fail({ depth, code: 'EK_CHAIN_PATH_LENGTH', message: `${describeCert(issuer)} allows ${pathLen} intermediate CA certificate(s) below it, but the path has ${below}`, details });
      return false;
    }
    const t = timeProblem(issuer, role, depth);
    if (t) {
      fail({ ...t, details: { ...details, ...t.details } });
      return false;
    }
    return true;
  };

  const candidates = (c: X509Cert, path: readonly X509Cert[]): Array<{ cert: X509Cert; anchor?: EKAnchor }> => {
    const inPath = (x: X509Cert) => path.some((p) => p.fingerprint256 === x.fingerprint256);
    const aki = c.authorityKeyIdentifier?.keyIdentifier;
    const score = (x: X509Cert): number => (!aki || !x.subjectKeyIdentifier ? 1 : x.subjectKeyIdentifier.equals(aki) ? 0 : 2);
    const fromStore = store.issuersOf(c).filter((a) => !inPath(a.cert)).map((a) => ({ cert: a.cert, anchor: a }));
    const supplied = intermediates.filter((x) => sameName(x.subject, c.issuer) && !inPath(x)).map((x) => ({ cert: x }));
    // Stable sort: key-identifier matches first, anchors before supplied intermediates within a score.
    return [...fromStore, ...supplied].sort((a, b) => score(a.cert) - score(b.cert));
  };

  /** Above an anchor: the store's own issuers of it, greedily, for a complete path to a root. */
  const complete = (path: X509Cert[], links: EKChainLink[]): void => {
    let cur = path[path.length - 1]!;
    while (!selfIssued(cur) && path.length < maxLen) {
      const next = store.issuersOf(cur).find((a) => !path.some((p) => p.fingerprint256 === a.cert.fingerprint256)
        && verifyCertificateSignature(cur, a.cert.publicKey).ok && !caProblem(a.cert, true) && !timeProblem(a.cert, 'root', 0));
      if (!next) return;
      path.push(next.cert);
      links.push({ cert: next.cert, from: 'store', source: next.source });
      cur = next.cert;
    }
  };

  const search = (path: X509Cert[], links: EKChainLink[]): { path: X509Cert[]; links: EKChainLink[]; anchor: EKAnchor } | undefined => {
    const cur = path[path.length - 1]!;
    const cands = candidates(cur, path);
    if (cands.length === 0) {
      const what = path.length === 1 ? 'The EK certificate' : `The intermediate ${describeCert(cur)}`;
      const why = selfIssued(cur) ? 'is a self-signed root that is not in the root store' : `names "${cur.issuer.text}" as its issuer, and no certificate in the root store or the supplied intermediates has that subject`;
      fail({ depth: path.length, code: 'EK_CHAIN_NO_ISSUER', message: `${what} ${why}`, details: { link: path.length, issuer: cur.issuer.text } });
      return undefined;
    }
    for (const c of cands) {
      if (!link(path, c.cert, c.anchor !== undefined)) continue;
      const p = [...path, c.cert];
      const l: EKChainLink[] = [...links, c.anchor ? { cert: c.cert, from: 'store', source: c.anchor.source } : { cert: c.cert, from: 'intermediate' }];
      if (c.anchor) {
        complete(p, l);
        return { path: p, links: l, anchor: c.anchor };
      }
      if (p.length >= maxLen) {
        fail({ depth: p.length, code: 'EK_CHAIN_TOO_LONG', message: `the path reaches ${maxLen} certificates without a root store certificate`, details: { link: p.length } });
        continue;
      }
      const r = search(p, l);
      if (r) return r;
    }
    return undefined;
  };

  const leafTime = timeProblem(leaf, 'EK certificate', 0);
  if (leafTime) throw new EKChainError(leafTime.code, `The EK certificate chain is not valid: ${leafTime.message}.`, { details: leafTime.details });
  const found = search([leaf], [{ cert: leaf, from: 'leaf' }]);
  if (!found) {
    const f = best!;
    throw new EKChainError(f.code, `The EK certificate chain is not valid: ${f.message}.`, { details: f.details });
  }
  const warnings: string[] = [];
  for (const c of found.path) {
    for (const oid of c.unknownCritical) warnings.push(`${describeCert(c)} has a critical extension ${oid} that was not interpreted`);
    for (const e of c.extensionErrors) warnings.push(`${describeCert(c)}: extension ${e.oid}: ${e.message}`);
  }
  const vendor = leaf.tpm?.manufacturer ? tpmVendor(leaf.tpm.manufacturer) : undefined;
  return {
    links: found.links, path: found.path, anchor: found.anchor,
    ...(vendor ? { vendor } : {}), ...(leaf.tpm ? { tpm: leaf.tpm } : {}),
    expired: found.path.filter((c) => expired.has(c.fingerprint256)).map((c) => expired.get(c.fingerprint256)!),
    warnings,
  };
}
