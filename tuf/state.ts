// The device's TUF state directory (`<state>/tuf`):
//   config.json        repository URLs and the TPM anchor handle
//   root.pinned.json   the pinned root; its sha256 is locked in the TPM anchor
//   roots/N.root.json  every root accepted since (the chain is re-verified at each start)
//   metadata/          trusted top-level and delegated metadata (<role>.json), atomic writes only
//   time.json          the time-floor record (timefloor.ts)
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { TufError } from './errors.ts';

export interface StatePaths { dir: string; config: string; pinned: string; roots: string; metadata: string; time: string }

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    config: join(dir, 'config.json'),
    pinned: join(dir, 'root.pinned.json'),
    roots: join(dir, 'roots'),
    metadata: join(dir, 'metadata'),
    time: join(dir, 'time.json'),
  };
}

export interface DeviceConfig { layout: 1; metadataUrl: string; targetsUrl: string; anchorHandle: number; rootSha256: string }

export function readConfig(p: StatePaths): DeviceConfig {
  let text: string;
  try { text = readFileSync(p.config, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TufError('TUF_NOT_INITIALIZED', `No tollgate TUF state in ${p.dir}; run \`tollgate init --repo URL --root FILE\` first.`, 'usage');
    }
    throw new TufError('TUF_STATE', `Cannot read ${p.config}: ${(e as Error).message}.`, 'environment', { cause: e });
  }
  let c: Partial<DeviceConfig>;
  try { c = JSON.parse(text) as Partial<DeviceConfig>; } catch (e) {
    throw new TufError('TUF_STATE', `${p.config} is corrupted; run \`tollgate init\` again with the same root (the TPM floors are kept).`, 'environment', { cause: e });
  }
  if (c.layout !== 1 || typeof c.metadataUrl !== 'string' || typeof c.targetsUrl !== 'string' || !Number.isInteger(c.anchorHandle) || typeof c.rootSha256 !== 'string') {
    throw new TufError('TUF_STATE', `${p.config} is not a tollgate TUF config; run \`tollgate init\` again with the same root.`, 'environment');
  }
  return c as DeviceConfig;
}

export function writeConfig(p: StatePaths, c: DeviceConfig): void {
  writeFileAtomic(p.config, JSON.stringify(c, null, 2) + '\n');
}

/**
 * Creates the state directories that are missing. One that exists as something else (a file put
 * where metadata/ was) is a typed TUF_STATE error naming it, never an unexpected crash.
 */
export function ensureDirs(p: StatePaths): void {
  for (const d of [p.dir, p.roots, p.metadata]) {
    try {
      mkdirSync(d, { recursive: true, mode: 0o755 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR') {
        throw new TufError('TUF_STATE', `${d} is not a directory (something replaced it); tollgate keeps its TUF state there. Move it out of the way and run the command again: what is missing is fetched again and checked against the TPM floors.`, 'environment', { cause: e, details: { path: d } });
      }
      throw new TufError('TUF_STATE', `Cannot create ${d} (${code ?? (e as Error).message}); check that the state directory is writable.`, 'environment', { cause: e, details: { path: d } });
    }
  }
}
