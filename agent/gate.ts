// The install gate's verify step (ARCHITECTURE.md "The install gate"): one TUF refresh, then the target,
// the evidence its custom metadata names, the policy, the Sigstore trusted root and the OSV
// database — every one a TUF target, hash-checked while it streams into a private staging
// directory — then attest's verifyArtifact over the STAGED bytes. Only an allow renames the staged
// file into place; a deny writes nothing outside staging, and staging is always removed.
// Who decides what (README): the policy, the OSV database and the trusted root are the operator's
// (gate.json) or the top-level targets role's; one listed only by a delegated role is refused, and
// a target never chooses what judges it unless the top-level role itself lists that target.
// Conventions for the evidence and policy targets: gate-evidence.ts.
import { constants as fsc } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import {
  failed, loadPolicy, loadTrustedRoot, notApplicable, passed, verifyArtifact,
  type Check, type DigestSet, type LoadedPolicy, type Statement, type VerifyResult,
} from '../attest/index.ts';
import { openTargetSession, ownerTag, tagIsStale, TufError, type DeviceOptions, type FoundTarget, type ProgressInfo, type TargetSession, type UpdateResult } from '../tuf/index.ts';
import { TollgateError } from '../hardware/index.ts';
import { GateError } from './errors.ts';
import {
  DEFAULT_OSV_TARGET, DEFAULT_POLICY_TARGET, DEFAULT_TRUSTED_ROOT_TARGET, EvidenceSpecError, parseEvidenceSpec,
  type EvidenceList, type EvidenceSpec,
} from './gate-evidence.ts';
import { VERSION } from './version.ts';

export const NOT_VERIFIED_NOTE = 'no policy configured: not verified beyond TUF';

// Size caps checked against the TUF-listed length before a byte moves (the same limits attest
// applies to files it reads itself).
const CAPS = { evidence: 64 * 1024 * 1024, sbom: 64 * 1024 * 1024, osv: 64 * 1024 * 1024, policy: 4 * 1024 * 1024, trustedRoot: 8 * 1024 * 1024 } as const;
const LIST_CAP: Record<EvidenceList, number> = { attestations: CAPS.evidence, bundles: CAPS.evidence, sboms: CAPS.sbom, vex: CAPS.evidence };
const LABEL: Record<StagedEvidence['kind'], string> = {
  attestations: 'attestation', bundles: 'Sigstore bundle', sboms: 'SBOM', vex: 'VEX document', policy: 'policy', osv: 'OSV database', trustedRoot: 'Sigstore trusted root',
};
const count = (n: number, kind: EvidenceList): string => `${n} ${LABEL[kind]}${n === 1 ? '' : 's'}`;

export interface GateOptions extends DeviceOptions {
  target: string;
  /** Where the target goes on allow (or on an unverified fetch). */
  out: string;
  /** Offline bundle instead of the network. */
  bundle?: string;
  /** The policy target named at init (mandatory when set); otherwise DEFAULT_POLICY_TARGET if listed. */
  policyTarget?: string | null;
  /** The OSV database target named at init; otherwise DEFAULT_OSV_TARGET if listed. */
  osvTarget?: string | null;
  /** The Sigstore trusted root target named at init; otherwise DEFAULT_TRUSTED_ROOT_TARGET if listed, else the public-good root. */
  trustedRootTarget?: string | null;
  onProgress?: (p: ProgressInfo) => void;
  /**
   * Called once the decision is taken and before anything is installed (the CLI ledgers it); if it
   * throws, nothing is installed. A deny is reported too; a plain TUF fetch before its download.
   */
  onDecision?: (d: GateDecision) => Promise<void>;
}

/** What onDecision is told. */
export interface GateDecision {
  target: string;
  decision: 'allow' | 'deny' | 'unverified';
  length: number;
  hashes: Record<string, string>;
  role: string;
  checks: Check[];
  vsa?: Statement;
  policySha256?: string;
}

export interface StagedEvidence {
  kind: EvidenceList | 'policy' | 'osv' | 'trustedRoot';
  target: string;
  length: number;
  sha256?: string;
  /** The TUF role whose metadata lists it ('targets': the top-level role). */
  role: string;
}

export interface GateResult {
  target: string;
  length: number;
  hashes: Record<string, string>;
  /** The target's TUF custom metadata. */
  custom: Record<string, unknown>;
  /** The TUF role whose metadata lists the target ('targets': the top-level role). */
  role: string;
  /** The installed file: set on allow and on an unverified fetch, never on deny. */
  path?: string;
  /** The file at --out already matched the target (not downloaded again). */
  cached: boolean;
  bytes: number;
  /** False for a plain TUF fetch: no policy configured and no evidence named. */
  verified: boolean;
  decision: 'allow' | 'deny' | 'unverified';
  policy?: { target: string; source: 'configured' | 'repository'; sha256?: string };
  evidence: StagedEvidence[];
  checks: Check[];
  vsa?: Statement;
  note?: string;
  update: UpdateResult;
}

/** The typed error for a deny (exit 1): names the failed checks. */
export function denyError(r: GateResult): GateError {
  const bad = r.checks.filter((c) => c.status === 'failed');
  const first = bad[0];
  return new GateError(
    'POLICY_DENY',
    `${r.target} was denied and not installed: ${bad.length} check(s) failed (${bad.map((c) => c.id).join(', ')})${first ? `; first: ${first.reason}` : ''}.`,
    'denied',
    { details: { target: r.target, failed: bad.map((c) => ({ id: c.id, reason: c.reason })) } },
  );
}

/** Fetches and verifies `target`; never throws for a deny (see denyError), only for usage/environment trouble. */
export async function gateFetch(o: GateOptions): Promise<GateResult> {
  const session = await openTargetSession(o);
  try {
    const found = await session.find(o.target);
    if (!found) throw new TufError('TUF_TARGET_NOT_FOUND', `No trusted targets metadata lists ${o.target}.`, 'denied', { details: { target: o.target } });
    let spec: EvidenceSpec | undefined;
    let specError: EvidenceSpecError | undefined;
    try {
      spec = parseEvidenceSpec(found.custom, found.target);
    } catch (e) {
      if (!(e instanceof EvidenceSpecError)) throw e;
      specError = e;
    }
    const policyName = o.policyTarget ?? DEFAULT_POLICY_TARGET;
    const policyFound = policyName === found.target ? undefined : await session.find(policyName);
    if (!o.policyTarget && !policyFound && !spec && !specError) {
      await o.onDecision?.({ target: found.target, decision: 'unverified', length: found.length, hashes: found.hashes, role: found.role, checks: [] });
      const r = await session.download(found.target, resolve(o.out), o.onProgress);
      return {
        target: found.target, length: found.length, hashes: found.hashes, custom: found.custom, role: found.role, path: r.path, cached: r.cached, bytes: r.bytes,
        verified: false, decision: 'unverified', evidence: [], checks: [], note: NOT_VERIFIED_NOTE, update: session.update,
      };
    }
    return await verifyStaged(session, found, { spec, specError, policyName, policyFound, configured: !!o.policyTarget }, o);
  } finally {
    session.close();
  }
}

interface PolicyPlan {
  spec: EvidenceSpec | undefined;
  specError: EvidenceSpecError | undefined;
  policyName: string;
  policyFound: FoundTarget | undefined;
  configured: boolean;
}

const STAGE_INFIX = '.gate-';

async function verifyStaged(session: TargetSession, found: FoundTarget, plan: PolicyPlan, o: GateOptions): Promise<GateResult> {
  const out = resolve(o.out);
  const dir = dirname(out);
  let createdDir: string | undefined;
  let stage: string;
  try {
    createdDir = await mkdir(dir, { recursive: true });
    await removeStaleStages(dir, basename(out));
    // mkdtemp creates the directory 0700: nobody else can swap the staged bytes.
    stage = await mkdtemp(join(dir, `.${basename(out)}${STAGE_INFIX}${ownerTag()}-`));
  } catch (e) {
    throw new GateError('GATE_STAGING', `Cannot create a staging directory next to ${out}: ${(e as Error).message}.`, 'environment', { cause: e });
  }
  let installed = false;
  try {
    const r = await stageAndVerify(session, found, plan, o, out, stage);
    const g = r.result;
    await o.onDecision?.({
      target: g.target, decision: r.decision, length: g.length, hashes: g.hashes, role: g.role, checks: g.checks,
      ...(g.vsa ? { vsa: g.vsa } : {}), ...(g.policy?.sha256 ? { policySha256: g.policy.sha256 } : {}),
    });
    if (r.decision === 'allow') {
      try {
        await rename(r.staged, out);
        fsyncDir(dir);
      } catch (e) {
        throw new GateError('GATE_STAGING', `The target was allowed but could not be moved into ${out}: ${(e as Error).message}.`, 'environment', { cause: e });
      }
      installed = true;
      r.result.path = out;
    }
    return r.result;
  } finally {
    await rm(stage, { recursive: true, force: true });
    if (!installed && createdDir) await removeCreatedDirs(createdDir, dir);
  }
}

async function stageAndVerify(session: TargetSession, found: FoundTarget, plan: PolicyPlan, o: GateOptions, out: string, stage: string): Promise<{ decision: 'allow' | 'deny'; staged: string; result: GateResult }> {
  const gate: Check[] = [];
  const evidence: StagedEvidence[] = [];
  let n = 0;

  /** One auxiliary target into staging; a TUF refusal becomes a failed check, an environment failure is thrown. */
  const stageAux = async (id: string, kind: StagedEvidence['kind'], f: FoundTarget, cap: number): Promise<Buffer | undefined> => {
    if (f.length > cap) {
      gate.push(failed(id, `${f.target} is listed at ${f.length} bytes, more than the ${cap}-byte limit for a ${LABEL[kind]}; not downloaded`, { target: f.target }));
      return undefined;
    }
    const dest = join(stage, `aux-${n++}`);
    try {
      await session.download(f.target, dest);
    } catch (e) {
      if (e instanceof TollgateError && e.errorClass === 'denied') {
        gate.push(failed(id, `${f.target}: ${e.message}`, { target: f.target, code: e.code }));
        return undefined;
      }
      throw e;
    }
    const bytes = await readFile(dest);
    evidence.push({ kind, target: f.target, length: f.length, ...(f.hashes.sha256 ? { sha256: f.hashes.sha256 } : {}), role: f.role });
    gate.push(passed(id, `${f.target} (${LABEL[kind]}): ${f.length} bytes, ${Object.keys(f.hashes).join(' and ')} match the signed targets metadata`));
    return bytes;
  };

  // The evidence named by the target's custom metadata.
  const { spec, specError } = plan;
  if (specError) gate.push(failed('gate.evidence', `${found.target}: ${specError.message}; none of its evidence is used`, { path: specError.path }));
  else if (!spec) gate.push(notApplicable('gate.evidence', `${found.target}'s custom metadata names no evidence (no custom.tollgate)`));
  else {
    const counts = (['attestations', 'bundles', 'sboms', 'vex'] as const).filter((k) => spec[k].length).map((k) => count(spec[k].length, k));
    gate.push(passed('gate.evidence', `${found.target}'s custom metadata names ${counts.length ? counts.join(', ') : 'no evidence files'}`));
  }
  const bytesOf: Record<EvidenceList, Array<{ uri: string; bytes: Uint8Array }>> = { attestations: [], bundles: [], sboms: [], vex: [] };
  for (const list of ['attestations', 'bundles', 'sboms', 'vex'] as const) {
    for (const [i, name] of (spec?.[list] ?? []).entries()) {
      const id = `tuf.evidence.${list}[${i}]`;
      const f = await session.find(name);
      if (!f) {
        gate.push(failed(id, `${name} is named as evidence by ${found.target}, but no trusted targets metadata lists it`, { target: name }));
        continue;
      }
      const b = await stageAux(id, list, f, LIST_CAP[list]);
      if (b) bytesOf[list].push({ uri: name, bytes: b });
    }
  }

  // The policy: the operator's (gate.json) or the repository's default, listed by the top-level role.
  let policy: LoadedPolicy | undefined;
  const source = plan.configured ? 'configured' : 'repository';
  if (plan.policyFound && plan.policyFound.role !== 'targets') {
    gate.push(failed('gate.policy', `policy target ${plan.policyName} is listed by the delegated role ${plan.policyFound.role}, not by the top-level targets role; only the operator (tollgate init --policy-target) and the top-level targets role choose the policy, so it is not used`, { target: plan.policyName, role: plan.policyFound.role }));
  } else if (plan.policyFound) {
    const b = await stageAux('tuf.policy', 'policy', plan.policyFound, CAPS.policy);
    if (b) {
      try {
        policy = loadPolicy(b, plan.policyName);
        gate.push(passed('gate.policy', `policy ${plan.policyName} (${plan.configured ? 'named at init' : 'the repository\'s default policy target'}, listed by the top-level targets role), sha256:${policy.digest.sha256}`));
      } catch (e) {
        if (!(e instanceof TollgateError)) throw e;
        gate.push(failed('gate.policy', `policy target ${plan.policyName} is not a valid policy (${e.message}); denying rather than guessing`, { target: plan.policyName, code: e.code }));
      }
    } else {
      gate.push(failed('gate.policy', `policy target ${plan.policyName} could not be used (see tuf.policy)`, { target: plan.policyName }));
    }
  } else if (plan.policyName === found.target) {
    gate.push(failed('gate.policy', `${found.target} is the policy target itself; a policy cannot vouch for itself`, { target: plan.policyName }));
  } else if (plan.configured) {
    gate.push(failed('gate.policy', `the policy target ${plan.policyName} named at init is not listed in the trusted targets metadata; nothing is installed until the repository lists it`, { target: plan.policyName }));
  } else {
    gate.push(failed('gate.policy', `${found.target} names evidence, but no policy is configured (tollgate init --policy-target) and the repository lists no ${DEFAULT_POLICY_TARGET}; evidence cannot be trusted without a policy`));
  }

  // The OSV database and the trusted root: which ones is the operator's or the top-level role's
  // choice. The target's own custom.tollgate.osv/trustedRoot counts only when the top-level role
  // lists the target and the operator named none at init; otherwise it is refused (a failed check,
  // so the target is denied) and the repository's choice still judges it.
  const inputName = (k: 'osv' | 'trustedRoot', configured: string | null | undefined, dflt: string, option: string): { name: string; explicit: boolean } => {
    const own = spec?.[k];
    const label = LABEL[k];
    if (own !== undefined && own !== configured) {
      if (found.role !== 'targets') {
        gate.push(failed(`gate.trust-inputs.${k}`, `${found.target} is listed by the delegated role ${found.role}, and its custom.tollgate.${k} names ${own} as the ${label} to judge it; a delegated role cannot choose what judges its own targets (only the operator, tollgate init ${option}, and the top-level targets role can), so the choice is refused and ${configured ?? dflt} is used`, { target: found.target, role: found.role, field: `tollgate.${k}`, named: own }));
      } else if (configured) {
        gate.push(failed(`gate.trust-inputs.${k}`, `${found.target}'s custom.tollgate.${k} names ${own} as its ${label}, but the operator named ${configured} at init (${option}); the operator's choice is not overridden, so ${configured} is used`, { target: found.target, field: `tollgate.${k}`, named: own, configured }));
      } else {
        return { name: own, explicit: true };
      }
    }
    return configured ? { name: configured, explicit: true } : { name: dflt, explicit: false };
  };
  /** A trust input: listed by the top-level targets role, or refused with a failed check. */
  const findTrustInput = async (id: string, k: 'osv' | 'trustedRoot', name: string, explicit: boolean): Promise<FoundTarget | undefined> => {
    const f = await session.find(name);
    if (!f) {
      if (explicit) gate.push(failed(id, `${name} is named as the ${LABEL[k]}, but no trusted targets metadata lists it`, { target: name }));
      return undefined;
    }
    if (f.role !== 'targets') {
      gate.push(failed(id, `${name} (the ${LABEL[k]}) is listed by the delegated role ${f.role}, not by the top-level targets role; a delegated role cannot choose it, so it is not used`, { target: name, role: f.role }));
      return undefined;
    }
    return f;
  };
  const osvChoice = inputName('osv', o.osvTarget, DEFAULT_OSV_TARGET, '--osv-target');
  const rootChoice = inputName('trustedRoot', o.trustedRootTarget, DEFAULT_TRUSTED_ROOT_TARGET, '--trusted-root-target');

  // The Sigstore trusted root, when there is evidence that may be a Sigstore bundle.
  let trustedRoot: ReturnType<typeof loadTrustedRoot> | undefined;
  if (bytesOf.attestations.length + bytesOf.bundles.length + bytesOf.vex.length > 0) {
    const { name, explicit } = rootChoice;
    const f = await findTrustInput('tuf.trusted-root', 'trustedRoot', name, explicit);
    if (f) {
      const b = await stageAux('tuf.trusted-root', 'trustedRoot', f, CAPS.trustedRoot);
      if (b) {
        try {
          trustedRoot = loadTrustedRoot(b, name);
        } catch (e) {
          if (!(e instanceof TollgateError)) throw e;
          gate.push(failed('tuf.trusted-root', `${name} is not a usable Sigstore trusted root: ${e.message}`, { target: name, code: e.code }));
        }
      }
    }
  }

  // The OSV database, only when the policy checks vulnerabilities.
  let osv: { uri: string; bytes: Uint8Array } | undefined;
  if (policy?.policy.vulnerabilities !== undefined) {
    const { name, explicit } = osvChoice;
    const f = await findTrustInput('tuf.osv', 'osv', name, explicit);
    if (f) {
      const b = await stageAux('tuf.osv', 'osv', f, CAPS.osv);
      if (b) osv = { uri: name, bytes: b };
    } else if (!explicit && !gate.some((c) => c.id === 'tuf.osv')) {
      gate.push(notApplicable('tuf.osv', `the repository lists no OSV database at ${DEFAULT_OSV_TARGET}`));
    }
  }

  // The artifact itself, last: it is the largest, and the evidence above needs no artifact bytes.
  const staged = join(stage, 'artifact', basename(found.target));
  let cached = false;
  let bytes = 0;
  let artifact: string | { digests: DigestSet; name: string } = staged;
  let authenticatedBy: string | undefined;
  try {
    await mkdir(dirname(staged), { mode: 0o700 });
    await seedFromOut(out, staged, found.length);
    const d = await session.download(found.target, staged, o.onProgress);
    cached = d.cached;
    bytes = d.bytes;
    gate.unshift(passed('tuf.target', `${found.target}: ${found.length} bytes, ${Object.keys(found.hashes).join(' and ')} match the signed targets metadata (targets v${session.update.versions.targets}, listed by ${roleText(found.role)})${cached ? '; the file already at the destination matched' : ''}`));
    authenticatedBy = `TUF: its ${Object.keys(found.hashes).join(' and ')} match the targets metadata signed by ${roleText(found.role)}`;
  } catch (e) {
    if (!(e instanceof TollgateError && e.errorClass === 'denied')) throw e;
    // Refused by TUF: there are no bytes to verify; the summary is still made, about the listed digests.
    const digests = listedDigests(found);
    if (!digests) throw e;
    artifact = { digests, name: found.target };
    gate.unshift(failed('tuf.target', `${found.target}: ${e.message}`, { code: e.code }));
  }

  const result: VerifyResult = await verifyArtifact({
    artifact,
    attestations: bytesOf.attestations,
    bundles: bytesOf.bundles,
    sboms: bytesOf.sboms,
    vex: bytesOf.vex,
    ...(policy ? { policy } : {}),
    ...(trustedRoot ? { trustedRoot } : {}),
    ...(osv ? { osvDatabase: osv } : {}),
    ...(authenticatedBy ? { authenticatedBy } : {}),
    // The trusted reference time of this refresh (the TPM-bound time floor), not the bare clock.
    now: new Date(session.update.time.reference),
    resourceUri: found.target,
    verifierVersion: { tollgate: VERSION },
    extraChecks: [() => gate],
  });
  // Same bytes, hashed twice (streaming for TUF, again by attest): a difference means the staging
  // directory was tampered with under us.
  if (artifact === staged && found.hashes.sha256 && result.artifactDigests.sha256 !== found.hashes.sha256.toLowerCase()) {
    throw new GateError('GATE_STAGING', `The staged copy of ${found.target} changed between download and verification; nothing was installed.`, 'environment');
  }
  const checks = [...gate, ...result.checks.filter((c) => !gate.includes(c))];
  return {
    decision: result.decision,
    staged,
    result: {
      target: found.target, length: found.length, hashes: found.hashes, custom: found.custom, role: found.role, cached, bytes,
      verified: true, decision: result.decision,
      policy: { target: plan.policyName, source, ...(policy ? { sha256: policy.digest.sha256 } : {}) },
      evidence, checks, vsa: result.vsa, update: session.update,
    },
  };
}

const roleText = (role: string): string => (role === 'targets' ? 'the top-level targets role' : `the delegated role ${role}`);

function listedDigests(f: FoundTarget): DigestSet | undefined {
  const d: DigestSet = {};
  for (const alg of ['sha256', 'sha384', 'sha512'] as const) {
    const v = f.hashes[alg];
    if (typeof v === 'string' && /^[0-9a-f]+$/i.test(v)) d[alg] = v.toLowerCase();
  }
  return Object.keys(d).length ? d : undefined;
}

/** A file already at --out seeds the staging copy: if it matches, TUF does not download it again. */
async function seedFromOut(out: string, staged: string, length: number): Promise<void> {
  try {
    const st = await stat(out);
    if (!st.isFile() || st.size !== length) return;
    await copyFile(out, staged, fsc.COPYFILE_FICLONE);
  } catch {
    // Nothing usable there: download.
  }
}

/**
 * Staging directories a killed gate run for the same destination left behind. Each is named after
 * its owner process (tuf's owner.ts), so the staging of a run still going (another state dir,
 * another container, same --out) stays. Unowned names come from versions before owner tags.
 */
async function removeStaleStages(dir: string, base: string): Promise<void> {
  let names: string[];
  try { names = await readdir(dir); } catch { return; }
  const prefix = `.${base}${STAGE_INFIX}`;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(?:(.+)-)?[A-Za-z0-9]{6}$/.exec(name.slice(prefix.length));
    if (m && (m[1] === undefined || tagIsStale(m[1]))) await rm(join(dir, name), { recursive: true, force: true });
  }
}

/** Undoes `mkdir -p` on a deny: removes the directories this run created, if still empty. */
async function removeCreatedDirs(first: string, last: string): Promise<void> {
  const rel = relative(first, last);
  if (rel.startsWith('..')) return;
  const parts = rel === '' ? [] : rel.split(sep);
  for (let i = parts.length; i >= 0; i--) {
    try { await rmdir(join(first, ...parts.slice(0, i))); } catch { return; }
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
