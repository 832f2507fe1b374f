// The verification policy: one JSON document (itself delivered as a TUF target) that says who must
// have signed an artifact, how it must have been built, and what it may contain. Validation is
// strict — unknown keys are errors, so a typo ("builderID") can never silently disable a check —
// and every error names the offending JSON path.
//
// {
//   "version": 1,                                   required; the format version
//   "name": "…", "description": "…",               optional, for people
//   "signatures": {                                 optional; omitted = signatures not checked
//     "required": true,                             default true: deny unless `threshold` signers signed
//     "threshold": 1,                               distinct signers needed (default 1, ≤ signers listed)
//     "identities": [                               Sigstore keyless signers (Fulcio certificates)
//       { "issuer": "https://token.actions.githubusercontent.com",          OIDC issuer, exact
//         "subject": "https://github.com/o/r/.github/workflows/r.yml@refs/heads/main",  SAN, exact
//         "required": false }                       true: this signer must be among the signers
//       { "issuer": "…", "subjectPattern": "https://github\\.com/o/r/.*" }  SAN regex, always anchored
//     ],
//     "keys": [                                     keys for DSSE envelopes and key-mode bundles
//       { "keyid": "release-1", "publicKey": "-----BEGIN PUBLIC KEY-----…", "scheme": "ecdsa-sha2-nistp256",
//         "required": false }
//     ],
//     "sigstore": { "tlogThreshold": 1, "ctlogThreshold": 1, "timestampThreshold": 1 }   optional
//   },
//   "provenance": {                                 optional; omitted = provenance not checked
//     "required": true,                             default true: deny without matching SLSA provenance
//     "builderId": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml",
//                                                   exact name@ref, or a name (workflows then must be
//                                                   pinned at refs/tags/vX.Y.Z); omitted = slsa-verifier's defaults
//                                                   (attest/slsa.ts); with no "signatures", GitHub Actions
//                                                   certificates are trusted for provenance from its builder
//     "sourceUri": "github.com/o/r",                required when provenance is configured
//     "sourceBranch": "main", "sourceTag": "v1.2.3", "sourceVersionedTag": "v1.2",
//     "buildWorkflowInputs": { "name": "value" },
//     "packageName": "@scope/name", "packageVersion": "1.2.3"   npm: the provenance subject pkg:npm/NAME@VERSION
//   },
//   "sbom": { … },                                  validated by attest/sbom (validateSBOMPolicy)
//   "vulnerabilities": { …,                         validated by attest/osv (validateVulnerabilityPolicy)
//     "vex": { "keys": […], "identities": […] }     who may make VEX statements (same forms as
//   }                                               signatures); their signed OpenVEX attestations
// }                                                 about the artifact are believed, nothing else
//
// A policy must require something (signatures, provenance, sbom or vulnerabilities): one that
// requires nothing verifies nothing, and verifyArtifact denies under it.
import { createHash } from 'node:crypto';
import { AttestError, PolicyError } from './errors.ts';
import { isRecord, parseJSON } from './encoding.ts';
import { MAX_POLICY_BYTES } from './limits.ts';
import { isSignatureScheme, keyFingerprint, makeVerificationKey, type SignatureScheme, type VerificationKey } from './keys.ts';
import type { ProvenanceExpectations } from './slsa.ts';
import { validateSBOMPolicy, type SBOMPolicy } from './sbom/index.ts';
import { validateVulnerabilityPolicy, type VulnerabilityPolicy } from './osv/index.ts';

export const POLICY_VERSION = 1;

export interface IdentityPolicy {
  issuer: string;
  subject?: string;
  subjectPattern?: string;
  required?: boolean;
}

export interface KeyPolicy {
  keyid: string;
  publicKey: string;
  scheme?: SignatureScheme;
  required?: boolean;
}

export interface SigstoreOptions {
  tlogThreshold?: number;
  ctlogThreshold?: number;
  timestampThreshold?: number;
}

export interface SignaturePolicy {
  required: boolean;
  threshold: number;
  identities: IdentityPolicy[];
  keys: KeyPolicy[];
  sigstore?: SigstoreOptions;
}

export interface ProvenancePolicy extends ProvenanceExpectations {
  required: boolean;
}

export interface Policy {
  version: number;
  name?: string;
  description?: string;
  signatures?: SignaturePolicy;
  provenance?: ProvenancePolicy;
  /** Validated by attest/sbom (validateSBOMPolicy). */
  sbom?: SBOMPolicy;
  /** Validated by attest/osv (validateVulnerabilityPolicy). */
  vulnerabilities?: VulnerabilityPolicy;
  /** vulnerabilities.vex: the only signers whose VEX statements are believed. */
  vexSigners?: VEXSigners;
}

export interface VEXSigners {
  identities: IdentityPolicy[];
  keys: KeyPolicy[];
}

export interface LoadedPolicy {
  policy: Policy;
  /** sha256 of the policy bytes, for the VSA. */
  digest: { sha256: string };
  uri: string;
  /** Keys parsed once, for DSSE and key-mode bundles. */
  keys: VerificationKey[];
  /** vulnerabilities.vex keys, parsed once. */
  vexKeys: VerificationKey[];
}

/** Parses, validates and digests a policy document. */
export function loadPolicy(bytes: Uint8Array | string, uri = 'policy.json'): LoadedPolicy {
  let value: unknown;
  try {
    value = parseJSON(bytes, `policy ${uri}`, { maxBytes: MAX_POLICY_BYTES, maxDepth: 32 });
  } catch (e) {
    if (e instanceof AttestError) throw new PolicyError('$', e.message);
    throw e;
  }
  const policy = validatePolicy(value);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const parse = (list: KeyPolicy[] | undefined) => (list ?? []).map((k) => makeVerificationKey(k.keyid, k.publicKey, k.scheme));
  return { policy, digest: { sha256: digest }, uri, keys: parse(policy.signatures?.keys), vexKeys: parse(policy.vexSigners?.keys) };
}

function fields(v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isRecord(v)) throw new PolicyError(path, 'must be an object');
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new PolicyError(`${path}.${k}`, `is not a known field (expected one of ${allowed.join(', ')})`);
  }
  return v;
}

function optString(o: Record<string, unknown>, k: string, path: string, nonEmpty = true): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new PolicyError(`${path}.${k}`, 'must be a string');
  if (nonEmpty && v === '') throw new PolicyError(`${path}.${k}`, 'must not be empty');
  return v;
}

function optBool(o: Record<string, unknown>, k: string, path: string): boolean | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new PolicyError(`${path}.${k}`, 'must be true or false');
  return v;
}

function optInt(o: Record<string, unknown>, k: string, path: string, min: number): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new PolicyError(`${path}.${k}`, `must be an integer ≥ ${min}`);
  return v;
}

/** Validates a parsed policy value; throws PolicyError naming the path of the first problem. */
export function validatePolicy(value: unknown): Policy {
  const o = fields(value, '$', ['version', 'name', 'description', 'signatures', 'provenance', 'sbom', 'vulnerabilities']);
  if (o.version !== POLICY_VERSION) throw new PolicyError('$.version', `must be ${POLICY_VERSION}`);
  const policy: Policy = { version: POLICY_VERSION };
  const name = optString(o, 'name', '$');
  if (name !== undefined) policy.name = name;
  const description = optString(o, 'description', '$', false);
  if (description !== undefined) policy.description = description;
  if (o.signatures !== undefined) policy.signatures = validateSignatures(o.signatures, '$.signatures');
  if (o.provenance !== undefined) policy.provenance = validateProvenance(o.provenance, '$.provenance');
  if (o.sbom !== undefined) policy.sbom = validateSBOMPolicy(o.sbom, '$.sbom');
  if (o.vulnerabilities !== undefined) {
    policy.vulnerabilities = validateVulnerabilityPolicy(o.vulnerabilities, '$.vulnerabilities');
    const vex = (o.vulnerabilities as Record<string, unknown>).vex;
    if (isRecord(vex)) {
      const path = '$.vulnerabilities.vex';
      fields(vex, path, ['identities', 'keys']);
      const { identities, keys } = validateSignatures(vex, path);
      policy.vexSigners = { identities, keys };
    }
  }
  return policy;
}

/** True when the policy requires anything at all of an artifact. */
export function policyRequiresSomething(p: Policy): boolean {
  return p.signatures !== undefined || p.provenance !== undefined || p.sbom !== undefined || p.vulnerabilities !== undefined;
}

function validateSignatures(v: unknown, path: string): SignaturePolicy {
  const o = fields(v, path, ['required', 'threshold', 'identities', 'keys', 'sigstore']);
  const identities: IdentityPolicy[] = [];
  if (o.identities !== undefined) {
    if (!Array.isArray(o.identities)) throw new PolicyError(`${path}.identities`, 'must be an array');
    o.identities.forEach((x, i) => identities.push(validateIdentity(x, `${path}.identities[${i}]`)));
  }
  const keys: KeyPolicy[] = [];
  const keyids = new Set<string>();
  const fingerprints = new Map<string, string>();
  if (o.keys !== undefined) {
    if (!Array.isArray(o.keys)) throw new PolicyError(`${path}.keys`, 'must be an array');
    o.keys.forEach((x, i) => {
      const p = `${path}.keys[${i}]`;
      const k = fields(x, p, ['keyid', 'publicKey', 'scheme', 'required']);
      const keyid = optString(k, 'keyid', p);
      if (keyid === undefined) throw new PolicyError(`${p}.keyid`, 'is required');
      if (keyids.has(keyid)) throw new PolicyError(`${p}.keyid`, `duplicates keyid ${keyid}`);
      keyids.add(keyid);
      const publicKey = optString(k, 'publicKey', p);
      if (publicKey === undefined) throw new PolicyError(`${p}.publicKey`, 'is required (a PEM public key)');
      let scheme: SignatureScheme | undefined;
      if (k.scheme !== undefined) {
        if (!isSignatureScheme(k.scheme)) throw new PolicyError(`${p}.scheme`, `is not a supported scheme`);
        scheme = k.scheme;
      }
      let vk: VerificationKey;
      try {
        vk = makeVerificationKey(keyid, publicKey, scheme);
      } catch (e) {
        throw new PolicyError(`${p}.publicKey`, (e as Error).message);
      }
      const fp = keyFingerprint(vk.key);
      const dup = fingerprints.get(fp);
      if (dup !== undefined) throw new PolicyError(`${p}.publicKey`, `is the same key as keyid ${dup}; list each key once`);
      fingerprints.set(fp, keyid);
      const required = optBool(k, 'required', p);
      keys.push({ keyid, publicKey, ...(scheme ? { scheme } : {}), ...(required !== undefined ? { required } : {}) });
    });
  }
  const signers = identities.length + keys.length;
  if (signers === 0) throw new PolicyError(path, 'must list at least one identity or key');
  const threshold = optInt(o, 'threshold', path, 1) ?? 1;
  if (threshold > signers) throw new PolicyError(`${path}.threshold`, `is ${threshold} but only ${signers} signer(s) are listed`);
  const required = optBool(o, 'required', path) ?? true;
  const out: SignaturePolicy = { required, threshold, identities, keys };
  if (o.sigstore !== undefined) {
    const p = `${path}.sigstore`;
    const s = fields(o.sigstore, p, ['tlogThreshold', 'ctlogThreshold', 'timestampThreshold']);
    const so: SigstoreOptions = {};
    const t = optInt(s, 'tlogThreshold', p, 0);
    if (t !== undefined) so.tlogThreshold = t;
    const c = optInt(s, 'ctlogThreshold', p, 0);
    if (c !== undefined) so.ctlogThreshold = c;
    const ts = optInt(s, 'timestampThreshold', p, 0);
    if (ts !== undefined) so.timestampThreshold = ts;
    out.sigstore = so;
  }
  return out;
}

function validateIdentity(v: unknown, path: string): IdentityPolicy {
  const o = fields(v, path, ['issuer', 'subject', 'subjectPattern', 'required']);
  const issuer = optString(o, 'issuer', path);
  if (issuer === undefined) throw new PolicyError(`${path}.issuer`, 'is required (the OIDC issuer URL, matched exactly)');
  const subject = optString(o, 'subject', path);
  const subjectPattern = optString(o, 'subjectPattern', path);
  if ((subject === undefined) === (subjectPattern === undefined)) throw new PolicyError(path, 'must have exactly one of subject or subjectPattern');
  if (subjectPattern !== undefined) {
    try {
      anchoredPattern(subjectPattern);
    } catch (e) {
      throw new PolicyError(`${path}.subjectPattern`, `is not a valid regular expression (${(e as Error).message})`);
    }
  }
  const required = optBool(o, 'required', path);
  return { issuer, ...(subject !== undefined ? { subject } : { subjectPattern: subjectPattern! }), ...(required !== undefined ? { required } : {}) };
}

/** A pattern anchored at both ends, whatever the author wrote: `^(?:…)$`. */
export function anchoredPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

function validateProvenance(v: unknown, path: string): ProvenancePolicy {
  const o = fields(v, path, ['required', 'builderId', 'sourceUri', 'sourceBranch', 'sourceTag', 'sourceVersionedTag', 'buildWorkflowInputs', 'packageName', 'packageVersion']);
  const out: ProvenancePolicy = { required: optBool(o, 'required', path) ?? true };
  const sourceUri = optString(o, 'sourceUri', path);
  if (sourceUri === undefined) throw new PolicyError(`${path}.sourceUri`, 'is required (the repository the artifact must be built from)');
  out.sourceUri = sourceUri;
  for (const k of ['builderId', 'sourceBranch', 'sourceTag', 'sourceVersionedTag', 'packageName', 'packageVersion'] as const) {
    const s = optString(o, k, path);
    if (s !== undefined) out[k] = s;
  }
  if (out.builderId !== undefined && out.builderId.split('@').length > 2) throw new PolicyError(`${path}.builderId`, 'has more than one @');
  if (out.sourceVersionedTag !== undefined && !/^v?\d+(\.\d+(\.\d+(-[0-9A-Za-z.-]+)?)?)?(\+[0-9A-Za-z.-]+)?$/.test(out.sourceVersionedTag)) {
    throw new PolicyError(`${path}.sourceVersionedTag`, 'must be a semantic version such as v1, v1.2 or v1.2.3');
  }
  if (o.buildWorkflowInputs !== undefined) {
    const p = `${path}.buildWorkflowInputs`;
    if (!isRecord(o.buildWorkflowInputs)) throw new PolicyError(p, 'must be an object of strings');
    const inputs: Record<string, string> = {};
    for (const [k, val] of Object.entries(o.buildWorkflowInputs)) {
      if (typeof val !== 'string') throw new PolicyError(`${p}.${k}`, 'must be a string');
      inputs[k] = val;
    }
    out.buildWorkflowInputs = inputs;
  }
  return out;
}
