// The gate's device configuration, `<state>/gate.json` (next to the TUF state in `<state>/tuf`),
// written by `tollgate init` BEFORE the TUF state: a device that looks initialised always has it.
// It holds the operator's trust choices (README "Who decides what"): the TUF targets that hold the
// policy, the OSV database and the Sigstore trusted root. Each must be listed by the top-level
// targets role. A named policy is mandatory: if the repository stops listing it, every fetch is
// denied. Without one, the gate uses DEFAULT_POLICY_TARGET when the top-level role lists it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkTargetPath, statePaths, writeFileAtomic } from '../tuf/index.ts';
import { GateError } from './errors.ts';

export interface GateConfig {
  layout: 1;
  policyTarget: string | null;
  /** The OSV database target; null: DEFAULT_OSV_TARGET when the top-level role lists it. */
  osvTarget: string | null;
  /** The Sigstore trusted root target; null: DEFAULT_TRUSTED_ROOT_TARGET when listed, else the embedded public-good root. */
  trustedRootTarget: string | null;
}

/** The init option that sets each field (for messages). */
export const GATE_OPTIONS = { policyTarget: '--policy-target', osvTarget: '--osv-target', trustedRootTarget: '--trusted-root-target' } as const;
type TargetField = keyof typeof GATE_OPTIONS;
const FIELDS = Object.keys(GATE_OPTIONS) as TargetField[];

export const gateConfigPath = (stateRoot: string): string => join(stateRoot, 'gate.json');

/** Refuses a target name that is not a plain TUF target path. */
export function checkGateTarget(name: string, option: string = GATE_OPTIONS.policyTarget): string {
  try {
    checkTargetPath(name);
  } catch (e) {
    throw new GateError('GATE_CONFIG', `${option} ${JSON.stringify(name)} is not a TUF target path (relative, no '..').`, 'usage', { cause: e });
  }
  return name;
}

const RERUN = 'run `tollgate init` again with the same --repo and --root (and the --policy-target, --osv-target, --trusted-root-target you use)';

/**
 * The configuration. No gate.json while the TUF state exists (an init cut short, or the file
 * deleted) is a GATE_CONFIG error, never "no policy": that would turn a mandatory policy into an
 * unverified install. With no state at all, the defaults (the TUF layer then says "run init").
 */
export function readGateConfig(stateRoot: string): GateConfig {
  const p = gateConfigPath(stateRoot);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      const tufConfig = statePaths(join(stateRoot, 'tuf')).config;
      if (existsSync(tufConfig)) {
        throw new GateError('GATE_CONFIG', `${p} is missing although the TUF state in ${join(stateRoot, 'tuf')} exists (an interrupted or older init, or the file was deleted); nothing is fetched without it: ${RERUN}.`, 'usage', { details: { path: p } });
      }
      return { layout: 1, policyTarget: null, osvTarget: null, trustedRootTarget: null };
    }
    throw new GateError('GATE_CONFIG', `Cannot read ${p}: ${(e as Error).message}.`, 'environment', { cause: e });
  }
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) {
    throw new GateError('GATE_CONFIG', `${p} is corrupted; ${RERUN}.`, 'usage', { cause: e });
  }
  const c = v as Record<string, unknown>;
  const nameOrNull = (x: unknown) => x === undefined || x === null || typeof x === 'string';
  if (typeof v !== 'object' || v === null || Array.isArray(v) || c.layout !== 1 || !('policyTarget' in c)
    || !FIELDS.every((k) => nameOrNull(c[k])) || Object.keys(c).some((k) => k !== 'layout' && !FIELDS.includes(k as TargetField))) {
    throw new GateError('GATE_CONFIG', `${p} is not a tollgate gate configuration; ${RERUN}.`, 'usage');
  }
  const out: GateConfig = { layout: 1, policyTarget: null, osvTarget: null, trustedRootTarget: null };
  for (const k of FIELDS) {
    const x = c[k];
    if (typeof x === 'string') out[k] = checkGateTarget(x, GATE_OPTIONS[k]);
  }
  return out;
}

export function writeGateConfig(stateRoot: string, c: GateConfig): void {
  writeFileAtomic(gateConfigPath(stateRoot), JSON.stringify(c, null, 2) + '\n');
}
