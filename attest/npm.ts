// npm's publish attestation: the registry's own signature (a key, not a certificate) over
// `pkg:npm/NAME@VERSION` and the tarball's digest, which the registry serves next to the SLSA
// provenance. Its keys come from the Sigstore TUF repository's `registry.npmjs.org/keys.json`
// target as shipped in @sigstore/tuf's seeds.json (offline, like the public-good trusted root),
// each valid only within its period. slsa-verifier's verify-npm-package checks the same.
import seeds from '@sigstore/tuf/seeds.json' with { type: 'json' };
import { AttestError } from './errors.ts';
import { decodeBase64, decodeUTF8, isRecord, parseJSON } from './encoding.ts';
import { makeVerificationKey, type VerificationKey } from './keys.ts';
import { matchSubject, type Statement } from './intoto.ts';
import { PUBLIC_GOOD_TUF_URL, type LoadedTrustedRoot } from './trusted-root.ts';
import { verifyBundle } from './sigstore.ts';
import { failed, passed, type Check } from './check.ts';
import type { Bundle } from '@sigstore/bundle';
import type { DigestSet } from './digest.ts';

export const NPM_PUBLISH_PREDICATE_PREFIX = 'https://github.com/npm/attestation/tree/main/specs/publish/';
const KEYS_TARGET = 'registry.npmjs.org%2Fkeys.json';

export const isNpmPublishPredicate = (predicateType: string | undefined): boolean => predicateType?.startsWith(NPM_PUBLISH_PREDICATE_PREFIX) === true;

let registryKeys: VerificationKey[] | undefined;

/** npm's attestation keys (keyUsage npm:attestations) from the embedded Sigstore TUF seeds. */
export function npmRegistryKeys(): VerificationKey[] {
  if (registryKeys) return registryKeys;
  const repo = (seeds as Record<string, { targets?: Record<string, string> }>)[PUBLIC_GOOD_TUF_URL];
  const b64 = repo?.targets?.[KEYS_TARGET];
  if (!b64) throw new AttestError('NPM_REGISTRY_KEYS_MISSING', `npm's registry keys (${KEYS_TARGET}) are missing from @sigstore/tuf's seeds.json.`, 'environment');
  const bytes = decodeBase64(b64, `seeds.json ${KEYS_TARGET}`);
  const doc = parseJSON(decodeUTF8(bytes, `seeds.json ${KEYS_TARGET}`), KEYS_TARGET);
  const keys: VerificationKey[] = [];
  for (const k of isRecord(doc) && Array.isArray(doc.keys) ? doc.keys : []) {
    if (!isRecord(k) || k.keyUsage !== 'npm:attestations' || typeof k.keyId !== 'string' || !isRecord(k.publicKey)) continue;
    const pk = k.publicKey;
    const vf = isRecord(pk.validFor) ? pk.validFor : {};
    if (pk.keyDetails !== 'PKIX_ECDSA_P256_SHA_256' || typeof pk.rawBytes !== 'string' || typeof vf.start !== 'string') continue;
    const start = new Date(vf.start);
    const end = typeof vf.end === 'string' ? new Date(vf.end) : undefined;
    if (Number.isNaN(start.getTime()) || (end && Number.isNaN(end.getTime()))) continue;
    const pem = `-----BEGIN PUBLIC KEY-----\n${pk.rawBytes}\n-----END PUBLIC KEY-----\n`;
    keys.push({ ...makeVerificationKey(k.keyId, pem, 'ecdsa-sha2-nistp256'), validFor: { start, ...(end ? { end } : {}) } });
  }
  if (keys.length === 0) throw new AttestError('NPM_REGISTRY_KEYS_MISSING', `${KEYS_TARGET} in @sigstore/tuf's seeds.json lists no usable npm:attestations key.`, 'environment');
  registryKeys = keys;
  return keys;
}

/** The package a publish attestation names (its predicate's name and version). */
export function publishedPackage(st: Statement): { name: string; version: string } | undefined {
  const p = st.predicate;
  if (!isRecord(p) || typeof p.name !== 'string' || typeof p.version !== 'string') return undefined;
  return { name: p.name, version: p.version };
}

/** A publish attestation that verified with npm's registry key and names the artifact. */
export interface VerifiedPublish {
  uri: string;
  name: string;
  version: string;
}

/** Verifies one publish attestation bundle with npm's registry keys and binds it to the artifact. */
export function verifyNpmPublish(id: string, uri: string, bundle: Bundle, trustedRoot: LoadedTrustedRoot, artifact: DigestSet): { check: Check; published?: VerifiedPublish } {
  const what = `${uri}: npm registry publish attestation`;
  const r = verifyBundle(bundle, { trustedRoot, identities: [], keys: npmRegistryKeys(), artifact: { digests: artifact } });
  if (!r.ok || !r.signer) return { check: failed(id, `${what}: ${r.reason}`, { uri, ...(r.code ? { code: r.code } : {}) }) };
  const st = r.statement;
  if (!st || !isNpmPublishPredicate(st.predicateType)) return { check: failed(id, `${what}: expected predicate type ${NPM_PUBLISH_PREDICATE_PREFIX}…, found ${st ? st.predicateType : 'no in-toto statement'}`, { uri }) };
  const m = matchSubject(st, artifact);
  if (!m.matched) return { check: failed(id, `${what} is not about this artifact: ${m.reason}`, { uri }) };
  const pkg = publishedPackage(st);
  if (!pkg) return { check: failed(id, `${what} names no package (predicate.name and predicate.version)`, { uri }) };
  return { check: passed(id, `${what} for ${pkg.name}@${pkg.version}, signed by npm's key ${r.signer.keyid}; ${m.reason}`, { uri, predicateType: st.predicateType }), published: { uri, ...pkg } };
}
