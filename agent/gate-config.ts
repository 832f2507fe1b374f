// The gate's device configuration, `<state>/gate.json` (next to the TUF state in `<state>/tuf`),
// written by `tollgate init`. It names the policy target; a named policy is mandatory: if the
// repository stops listing it, every fetch is denied. Without one, the gate uses
// DEFAULT_POLICY_TARGET when the repository lists it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkTargetPath, writeFileAtomic } from '../tuf/index.ts';
import { GateError } from './errors.ts';

export interface GateConfig { layout: 1; policyTarget: string | null }

export const gateConfigPath = (stateRoot: string): string => join(stateRoot, 'gate.json');

/** Refuses a policy target name that is not a plain TUF target path. */
export function checkPolicyTarget(name: string): string {
  try {
    checkTargetPath(name);
  } catch (e) {
    throw new GateError('GATE_CONFIG', `--policy-target ${JSON.stringify(name)} is not a TUF target path (relative, no '..').`, 'usage', { cause: e });
  }
  return name;
}

/** The configuration, or the default (no named policy) when init wrote none (older state). */
export function readGateConfig(stateRoot: string): GateConfig {
  const p = gateConfigPath(stateRoot);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { layout: 1, policyTarget: null };
    throw new GateError('GATE_CONFIG', `Cannot read ${p}: ${(e as Error).message}.`, 'environment', { cause: e });
  }
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) {
    throw new GateError('GATE_CONFIG', `${p} is corrupted; run \`tollgate init\` again (with --policy-target if you use one).`, 'usage', { cause: e });
  }
  const c = v as Partial<GateConfig>;
  if (typeof v !== 'object' || v === null || c.layout !== 1 || !(c.policyTarget === null || typeof c.policyTarget === 'string') || Object.keys(v).some((k) => k !== 'layout' && k !== 'policyTarget')) {
    throw new GateError('GATE_CONFIG', `${p} is not a tollgate gate configuration; run \`tollgate init\` again.`, 'usage');
  }
  if (c.policyTarget !== null) checkPolicyTarget(c.policyTarget!);
  return { layout: 1, policyTarget: c.policyTarget! };
}

export function writeGateConfig(stateRoot: string, c: GateConfig): void {
  writeFileAtomic(gateConfigPath(stateRoot), JSON.stringify(c, null, 2) + '\n');
}
