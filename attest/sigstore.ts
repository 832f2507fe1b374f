// Sigstore bundles v0.1–v0.3 (message signatures and DSSE; Rekor v1 and v2 entries, SETs,
// checkpoints and inclusion proofs, RFC 3161 timestamps), verified by @sigstore/verify 4.x. What we
// add around it:
// - hostile-input guards before @sigstore/bundle's lenient base64/JSON handling;
// - identity policy by exact issuer and exact or ANCHORED SAN (the library matches the SAN as an
//   unanchored regex, so an "exact" value would match any SAN containing it);
// - key mode, which refuses bundles that carry a certificate;
// - message signatures checked against the digest we computed in our single pass over the
//   artifact (the library would need the whole artifact in memory), also for `sha256:HEX` input.
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { toSignedEntity, Verifier, type SignedEntity } from '@sigstore/verify';
import { AttestError } from './errors.ts';
import { checkBase64, isRecord, parseJSON, type JSONLimits } from './encoding.ts';
import { keyFingerprint, verifySignatureOverDigest, type VerificationKey } from './keys.ts';
import { anchoredPattern, type IdentityPolicy, type SigstoreOptions } from './policy.ts';
import { INTOTO_PAYLOAD_TYPE, parseStatement, type Statement } from './intoto.ts';
import type { Envelope } from './dsse.ts';
import type { DigestAlgorithm, DigestSet } from './digest.ts';
import type { LoadedTrustedRoot } from './trusted-root.ts';
import { fulcioClaims, type FulcioClaims } from './fulcio.ts';

export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

// Bundle JSON fields that carry base64; checked strictly before protobuf-specs decodes them
// (Buffer.from(…, 'base64') would silently skip garbage).
const B64_FIELDS = new Set(['payload', 'sig', 'signature', 'digest', 'rawBytes', 'canonicalizedBody', 'signedEntryTimestamp', 'rootHash', 'hashes', 'keyId', 'signedTimestamp']);

function checkBase64Fields(v: unknown, path: string, depth: number): void {
  if (depth > 12) return;
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkBase64Fields(x, `${path}[${i}]`, depth + 1));
    return;
  }
  if (!isRecord(v)) return;
  for (const [k, x] of Object.entries(v)) {
    const p = `${path}.${k}`;
    if (B64_FIELDS.has(k)) {
      if (typeof x === 'string') checkBase64(x, `bundle ${p}`);
      else if (Array.isArray(x)) x.forEach((h, i) => (typeof h === 'string' ? checkBase64(h, `bundle ${p}[${i}]`) : checkBase64Fields(h, `${p}[${i}]`, depth + 1)));
      else checkBase64Fields(x, p, depth + 1);
    } else checkBase64Fields(x, p, depth + 1);
  }
}

// Verification material @sigstore/verify checks entry by entry (each timestamp costs ~7 ms, each
// SCT in the certificate a signature check): real bundles carry one of each, so these caps bound
// the time one bundle can take (a 1.3 MB bundle of 1000 timestamps took 7 s).
export const MAX_BUNDLE_TLOG_ENTRIES = 8;
export const MAX_BUNDLE_TIMESTAMPS = 8;
export const MAX_BUNDLE_CERTIFICATES = 8;
/** Base64 characters of one certificate (32 KiB of DER; a Fulcio leaf is about 1 KiB). */
const MAX_CERTIFICATE_BASE64 = Math.ceil((32 * 1024) / 3) * 4;
/** Hashes in one inclusion proof: a Merkle tree of 2^64 leaves needs 64. */
const MAX_PROOF_HASHES = 64;

function checkBundleBounds(v: Record<string, unknown>, what: string): void {
  const tooMany = (path: string, n: number, max: number): never => {
    throw new AttestError('SIGSTORE_BUNDLE_INVALID', `${what} has ${n} entries at ${path}, more than the ${max} accepted.`, 'denied', { details: { path, max } });
  };
  const vm = isRecord(v.verificationMaterial) ? v.verificationMaterial : undefined;
  if (!vm) return;
  const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
  const tlog = list(vm.tlogEntries);
  if (tlog.length > MAX_BUNDLE_TLOG_ENTRIES) tooMany('verificationMaterial.tlogEntries', tlog.length, MAX_BUNDLE_TLOG_ENTRIES);
  tlog.forEach((e, i) => {
    const hashes = list(isRecord(e) && isRecord(e.inclusionProof) ? e.inclusionProof.hashes : undefined);
    if (hashes.length > MAX_PROOF_HASHES) tooMany(`verificationMaterial.tlogEntries[${i}].inclusionProof.hashes`, hashes.length, MAX_PROOF_HASHES);
  });
  const ts = list(isRecord(vm.timestampVerificationData) ? vm.timestampVerificationData.rfc3161Timestamps : undefined);
  if (ts.length > MAX_BUNDLE_TIMESTAMPS) tooMany('verificationMaterial.timestampVerificationData.rfc3161Timestamps', ts.length, MAX_BUNDLE_TIMESTAMPS);
  const chain = list(isRecord(vm.x509CertificateChain) ? vm.x509CertificateChain.certificates : undefined);
  if (chain.length > MAX_BUNDLE_CERTIFICATES) tooMany('verificationMaterial.x509CertificateChain.certificates', chain.length, MAX_BUNDLE_CERTIFICATES);
  for (const c of [vm.certificate, ...chain]) {
    const raw = isRecord(c) ? c.rawBytes : undefined;
    if (typeof raw === 'string' && raw.length > MAX_CERTIFICATE_BASE64) {
      throw new AttestError('SIGSTORE_BUNDLE_INVALID', `${what} carries a certificate of more than 32 KiB; a signing certificate is about 1 KiB.`, 'denied');
    }
  }
}

/** Parses a Sigstore bundle (JSON text/bytes or a parsed value) into @sigstore/bundle's form. */
export function parseBundle(input: string | Uint8Array | unknown, what = 'Sigstore bundle', limits: JSONLimits = { maxBytes: MAX_BUNDLE_BYTES }): Bundle {
  const v = typeof input === 'string' || input instanceof Uint8Array ? parseJSON(input, what, limits) : input;
  if (!isRecord(v)) throw new AttestError('SIGSTORE_BUNDLE_INVALID', `${what} must be a JSON object.`);
  checkBundleBounds(v, what);
  checkBase64Fields(v, '$', 0);
  try {
    return bundleFromJSON(v);
  } catch (e) {
    const fields = (e as { fields?: string[] }).fields;
    throw new AttestError('SIGSTORE_BUNDLE_INVALID', `${what} is not a valid Sigstore bundle${fields?.length ? ` (bad: ${fields.join(', ')})` : ''}: ${(e as Error).message}.`, 'denied', { cause: e });
  }
}

const HASH_ALG: Partial<Record<HashAlgorithm, DigestAlgorithm>> = {
  [HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED]: 'sha256',
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
};

/** The digest algorithm a message-signature bundle needs from the artifact (none for DSSE). */
export function bundleDigestAlgorithm(b: Bundle): DigestAlgorithm | undefined {
  if (b.content.$case !== 'messageSignature') return undefined;
  return HASH_ALG[b.content.messageSignature.messageDigest.algorithm];
}

export interface SigstoreContext {
  trustedRoot: LoadedTrustedRoot;
  /** Keyless signers; a certificate bundle must match one. */
  identities: IdentityPolicy[];
  /** Trusted keys; a public-key bundle must verify with one. Certificate bundles are refused when there are no identities. */
  keys: VerificationKey[];
  options?: SigstoreOptions;
  artifact: { digests: DigestSet; bytes?: Buffer };
}

export interface BundleSigner {
  /** Certificate bundles: the SAN and OIDC issuer, and every policy identity it matches. */
  subjectAlternativeName?: string;
  issuer?: string;
  identityIndices?: number[];
  /** Certificate bundles: the GitHub Actions claims Fulcio wrote into the certificate (repository, ref, runner). */
  claims?: FulcioClaims;
  /** Key bundles: the policy keyid that verified. */
  keyid?: string;
  /** Key bundles: sha256 of the key's SPKI (distinct keys are counted by it; certificate signers by identity). */
  fingerprint?: string;
}

/** Failure codes that mean "validly made, perhaps, but not by anyone the policy trusts". */
export const UNTRUSTED_SIGNER_CODES: ReadonlySet<string> = new Set(['SIGSTORE_IDENTITY_MISMATCH', 'SIGSTORE_KEY_MODE_CERTIFICATE', 'SIGSTORE_NO_KEYS']);

export interface BundleVerification {
  ok: boolean;
  /** What was verified, or why verification failed (expected and found). */
  reason: string;
  code?: string;
  mediaType: string;
  content: 'messageSignature' | 'dsseEnvelope';
  keyMaterial: 'certificate' | 'publicKey';
  signer?: BundleSigner;
  /** DSSE content: the verified envelope and, for in-toto payloads, its statement. */
  envelope?: Envelope;
  statement?: Statement;
  /** Message signatures: the signature covers the artifact (digest compared and signature checked). */
  signsArtifact: boolean;
}

function fail(base: Omit<BundleVerification, 'ok' | 'reason' | 'signsArtifact'>, code: string, reason: string): BundleVerification {
  return { ...base, ok: false, code, reason, signsArtifact: false };
}

/** Verifies one bundle against the trusted root, identities/keys and the artifact digests. */
export function verifyBundle(bundle: Bundle, ctx: SigstoreContext): BundleVerification {
  const vm = bundle.verificationMaterial.content;
  const base = {
    mediaType: bundle.mediaType,
    content: bundle.content.$case,
    keyMaterial: vm.$case === 'publicKey' ? ('publicKey' as const) : ('certificate' as const),
  };
  if (base.keyMaterial === 'certificate' && ctx.identities.length === 0) {
    return fail(base, 'SIGSTORE_KEY_MODE_CERTIFICATE', 'the bundle carries a certificate, but verification is in key mode (only keys are trusted), which refuses certificate bundles');
  }
  if (base.keyMaterial === 'publicKey' && ctx.keys.length === 0) {
    return fail(base, 'SIGSTORE_NO_KEYS', 'the bundle is signed by a public key, but no keys are trusted');
  }

  // Message signatures sign the artifact itself: bind to OUR digest before anything else.
  let digestCheck: { alg: DigestAlgorithm; digest: Buffer } | undefined;
  if (bundle.content.$case === 'messageSignature') {
    const md = bundle.content.messageSignature.messageDigest;
    const alg = HASH_ALG[md.algorithm];
    if (!alg) return fail(base, 'SIGSTORE_DIGEST_ALGORITHM', `the bundle digests the artifact with unsupported algorithm ${HashAlgorithm[md.algorithm] ?? md.algorithm}`);
    const ours = ctx.artifact.digests[alg];
    if (ours === undefined) return fail(base, 'SIGSTORE_DIGEST_ALGORITHM', `the bundle signs the artifact's ${alg} digest, but the artifact is known only by ${Object.keys(ctx.artifact.digests).join(', ')}`);
    const theirs = Buffer.from(md.digest).toString('hex');
    if (theirs !== ours) return fail(base, 'SIGSTORE_ARTIFACT_MISMATCH', `expected the bundle to sign ${alg}:${ours}, found ${alg}:${theirs}`);
    digestCheck = { alg, digest: Buffer.from(ours, 'hex') };
  }

  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle, ctx.artifact.bytes ?? EMPTY);
  } catch (e) {
    return fail(base, 'SIGSTORE_BUNDLE_INVALID', `the bundle's key material could not be parsed: ${(e as Error).message}`);
  }
  if (digestCheck && !ctx.artifact.bytes) entity = withDigestSignature(entity, digestCheck.alg, digestCheck.digest);

  const options = {
    tlogThreshold: ctx.options?.tlogThreshold ?? 1,
    ctlogThreshold: ctx.options?.ctlogThreshold ?? 1,
    timestampThreshold: ctx.options?.timestampThreshold ?? 1,
  };

  let signer: BundleSigner;
  if (base.keyMaterial === 'certificate') {
    let identity;
    try {
      identity = new Verifier(ctx.trustedRoot.material, options).verify(entity).identity;
    } catch (e) {
      return fail(base, errorCode(e), verifyFailure(e));
    }
    const san = identity?.subjectAlternativeName;
    const issuer = identity?.extensions?.issuer;
    const matching = ctx.identities.flatMap((p, i) => (identityMatches(p, san, issuer) ? [i] : []));
    if (matching.length === 0) {
      return fail(
        base,
        'SIGSTORE_IDENTITY_MISMATCH',
        `expected a certificate for ${describeIdentities(ctx.identities)}; found SAN ${JSON.stringify(san ?? null)} issued by ${JSON.stringify(issuer ?? null)}`,
      );
    }
    let claims: FulcioClaims | undefined;
    const leaf = vm.$case === 'x509CertificateChain' ? vm.x509CertificateChain.certificates[0]?.rawBytes : vm.$case === 'certificate' ? vm.certificate.rawBytes : undefined;
    try {
      if (leaf) claims = fulcioClaims(leaf);
    } catch (e) {
      return fail(base, (e as AttestError).code ?? 'SIGSTORE_CERTIFICATE_MALFORMED', (e as Error).message);
    }
    signer = { ...(san !== undefined ? { subjectAlternativeName: san } : {}), ...(issuer !== undefined ? { issuer } : {}), identityIndices: matching, ...(claims ? { claims } : {}) };
  } else {
    const hint = vm.$case === 'publicKey' ? vm.publicKey.hint : '';
    // The hint only orders the attempts; every trusted key is tried.
    const order = [...ctx.keys].sort((a, b) => Number(b.keyid === hint || keyFingerprint(b.key) === hint) - Number(a.keyid === hint || keyFingerprint(a.key) === hint));
    let lastError: unknown;
    let hit: VerificationKey | undefined;
    for (const k of order) {
      const vf = k.validFor;
      const material = { ...ctx.trustedRoot.material, publicKey: () => ({ publicKey: k.key, validFor: (d: Date) => !vf || (d >= vf.start && (vf.end === undefined || d <= vf.end)) }) };
      try {
        new Verifier(material, options).verify(entity);
        hit = k;
        break;
      } catch (e) {
        lastError = e;
      }
    }
    if (!hit) return fail(base, errorCode(lastError), `no trusted key verified the bundle (keys ${ctx.keys.map((k) => k.keyid).join(', ')}): ${verifyFailure(lastError)}`);
    signer = { keyid: hit.keyid, fingerprint: keyFingerprint(hit.key) };
  }

  const who = signer.keyid !== undefined ? `key ${signer.keyid}` : `${signer.subjectAlternativeName} (${signer.issuer})`;
  if (bundle.content.$case === 'messageSignature') {
    return { ...base, ok: true, reason: `message signature over the artifact by ${who}`, signer, signsArtifact: true };
  }
  const dsse = bundle.content.dsseEnvelope;
  const envelope: Envelope = { payloadType: dsse.payloadType, payload: Buffer.from(dsse.payload), signatures: dsse.signatures.map((s) => ({ ...(s.keyid ? { keyid: s.keyid } : {}), sig: Buffer.from(s.sig) })) };
  let statement: Statement | undefined;
  if (envelope.payloadType === INTOTO_PAYLOAD_TYPE) {
    try {
      statement = parseStatement(envelope.payload, 'bundle DSSE statement');
    } catch (e) {
      return fail(base, (e as AttestError).code ?? 'INTOTO_MALFORMED', (e as Error).message);
    }
  }
  return { ...base, ok: true, reason: `DSSE envelope (${envelope.payloadType}) signed by ${who}`, signer, envelope, ...(statement ? { statement } : {}), signsArtifact: false };
}

const EMPTY = Buffer.alloc(0);

/** Replaces the message-signature check by one over our digest (no artifact bytes needed). */
function withDigestSignature(entity: SignedEntity, alg: DigestAlgorithm, digest: Buffer): SignedEntity {
  const orig = entity.signature;
  return {
    ...entity,
    signature: {
      signature: orig.signature,
      compareSignature: (s) => orig.compareSignature(s),
      compareDigest: (d) => orig.compareDigest(d),
      compareSignedDigest: (d) => orig.compareSignedDigest(d),
      verifySignature: (key) => {
        const r = verifySignatureOverDigest(key, alg, digest, orig.signature);
        if (r === undefined) {
          throw new AttestError('SIGSTORE_NEEDS_ARTIFACT', `the bundle is signed with a ${key.asymmetricKeyType} key, which signs the artifact bytes themselves; verify the file, not its digest`);
        }
        return r;
      },
    },
  };
}

// Each identity's pattern compiled once, not once per bundle (a policy may list thousands).
const compiled = new WeakMap<IdentityPolicy, RegExp>();

export function identityMatches(p: IdentityPolicy, san: string | undefined, issuer: string | undefined): boolean {
  if (san === undefined || issuer === undefined || issuer !== p.issuer) return false;
  if (p.subject !== undefined) return san === p.subject;
  let re = compiled.get(p);
  if (!re) compiled.set(p, (re = anchoredPattern(p.subjectPattern!)));
  return re.test(san);
}

/** A few of the identities, for a message (a policy may list thousands: a 4 MiB one made 4 MB per message). */
function describeIdentities(ids: readonly IdentityPolicy[]): string {
  const shown = ids.slice(0, 3).map(describeIdentity).join(' or ');
  return ids.length > 3 ? `${shown} or ${ids.length - 3} more trusted identities` : shown;
}

export function describeIdentity(p: IdentityPolicy): string {
  return `${p.subject !== undefined ? JSON.stringify(p.subject) : `/^(?:${p.subjectPattern})$/`} issued by ${JSON.stringify(p.issuer)}`;
}

function errorCode(e: unknown): string {
  if (e instanceof AttestError) return e.code;
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? `SIGSTORE_${code}` : 'SIGSTORE_VERIFY_FAILED';
}

function verifyFailure(e: unknown): string {
  if (e === undefined) return 'no key was tried';
  const msg = (e as Error)?.message ?? String(e);
  const cause = (e as { cause?: unknown })?.cause;
  const cmsg = cause instanceof Error ? `: ${cause.message}` : '';
  const code = (e as { code?: unknown })?.code;
  return `${typeof code === 'string' ? `${code}: ` : ''}${msg}${cmsg}`;
}
