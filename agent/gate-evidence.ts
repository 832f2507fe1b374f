// Where the install gate finds what vouches for a TUF target. Everything it reads is itself a TUF
// target, fetched and hash-checked through the same trusted metadata as the artifact:
//
//   the artifact's custom metadata (signed by the role that lists the artifact):
//     "custom": { "tollgate": {
//       "attestations": ["app.bin.intoto.jsonl"],   DSSE envelopes / Sigstore bundles / JSON Lines of
//                                                   either, carrying in-toto statements (SLSA
//                                                   provenance, SBOM predicates, …)
//       "bundles": ["app.bin.sigstore.json"],       Sigstore bundles over the artifact itself
//       "sboms": ["app.bin.cdx.json"],              bare CycloneDX / SPDX JSON
//       "vex": ["app.bin.openvex.json"],            OpenVEX attestations (believed only when signed by
//                                                   a VEX signer the policy names; attest/vex/signed.ts)
//       "osv": "tollgate/osv.json",                 see "Who decides what" below
//       "trustedRoot": "tollgate/trusted_root.json" see "Who decides what" below
//     } }
//   A `tollgate` object, even an empty one, puts the target under verification. Unknown keys are
//   errors (a typo such as "attestation" must never silently drop evidence). Any role may list the
//   evidence: it is judged by the policy (signatures), never trusted for being listed.
//
//   repository-wide targets (fixed names, used only when the TOP-LEVEL targets role lists them):
//     tollgate/policy.json        the policy (attest/policy.ts format), unless init named another
//     tollgate/osv.json           the OSV database, fetched only when the policy checks vulnerabilities
//     tollgate/trusted_root.json  the Sigstore trusted root; without it, the public-good root shipped
//                                 inside @sigstore/tuf (offline)
//
// Who decides what (README): the policy, the OSV database and the trusted root come from the
// operator (init --policy-target/--osv-target/--trusted-root-target, kept in gate.json) or from
// the names above, and must be listed by the top-level targets role; one listed only by a
// delegated role is refused (a failed check). A target's own "osv"/"trustedRoot" counts only when
// the top-level role lists that target and the operator named none at init; named by a target a
// delegated role lists (or against the operator's choice), it is refused with a failed
// gate.trust-inputs.* check — the target is denied — and the operator's/repository's input is
// still what judges it, so the report shows what that would have found.
import { checkTargetPath } from '../tuf/index.ts';

export const DEFAULT_POLICY_TARGET = 'tollgate/policy.json';
export const DEFAULT_OSV_TARGET = 'tollgate/osv.json';
export const DEFAULT_TRUSTED_ROOT_TARGET = 'tollgate/trusted_root.json';

/** At most this many evidence targets per artifact (hostile metadata cannot fan out downloads). */
export const MAX_EVIDENCE_TARGETS = 64;

export const EVIDENCE_LISTS = ['attestations', 'bundles', 'sboms', 'vex'] as const;
export type EvidenceList = (typeof EVIDENCE_LISTS)[number];

export interface EvidenceSpec {
  attestations: string[];
  bundles: string[];
  sboms: string[];
  vex: string[];
  osv?: string;
  trustedRoot?: string;
}

/** Malformed `custom.tollgate`: reported as a failed check (the gate denies), never half-used. */
export class EvidenceSpecError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`custom metadata ${path} ${message}`);
    this.name = 'EvidenceSpecError';
    this.path = path;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function targetName(v: unknown, path: string, artifact: string): string {
  if (typeof v !== 'string') throw new EvidenceSpecError(path, 'must be a TUF target path (a string)');
  try {
    checkTargetPath(v);
  } catch {
    throw new EvidenceSpecError(path, `(${JSON.stringify(v.slice(0, 200))}) is absolute or escapes its directory`);
  }
  if (v === artifact) throw new EvidenceSpecError(path, 'names the artifact itself; it cannot vouch for itself');
  return v;
}

/**
 * Reads `custom.tollgate` of a target: undefined when the target names no evidence, the spec when
 * it does. Throws EvidenceSpecError (naming the JSON path) when the object is malformed.
 */
export function parseEvidenceSpec(custom: unknown, artifact: string): EvidenceSpec | undefined {
  if (!isObject(custom) || !('tollgate' in custom)) return undefined;
  const t = custom.tollgate;
  if (!isObject(t)) throw new EvidenceSpecError('tollgate', 'must be an object');
  const allowed = [...EVIDENCE_LISTS, 'osv', 'trustedRoot'];
  for (const k of Object.keys(t)) {
    if (!allowed.includes(k)) throw new EvidenceSpecError(`tollgate.${k}`, `is not a known field (expected one of ${allowed.join(', ')})`);
  }
  const spec: EvidenceSpec = { attestations: [], bundles: [], sboms: [], vex: [] };
  const seen = new Set<string>();
  for (const list of EVIDENCE_LISTS) {
    const v = t[list];
    if (v === undefined) continue;
    if (!Array.isArray(v)) throw new EvidenceSpecError(`tollgate.${list}`, 'must be an array of target paths');
    for (let i = 0; i < v.length; i++) {
      const path = `tollgate.${list}[${i}]`;
      if (seen.size >= MAX_EVIDENCE_TARGETS) throw new EvidenceSpecError(path, `exceeds the limit of ${MAX_EVIDENCE_TARGETS} evidence targets`);
      const name = targetName(v[i], path, artifact);
      if (seen.has(name)) throw new EvidenceSpecError(path, `lists ${name} twice`);
      seen.add(name);
      spec[list].push(name);
    }
  }
  if (t.osv !== undefined) spec.osv = targetName(t.osv, 'tollgate.osv', artifact);
  if (t.trustedRoot !== undefined) spec.trustedRoot = targetName(t.trustedRoot, 'tollgate.trustedRoot', artifact);
  return spec;
}
