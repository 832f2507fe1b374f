// A bare tuf-js 6 client for checking that the fixtures are real: what tuf-js accepts and refuses.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Updater } from 'tuf-js';
import type { Config } from 'tuf-js';
import type { RepoBuilder, TufServer } from '../fixtures/tuf/index.ts';

export interface Client {
  dir: string;
  metadataDir: string;
  targetDir: string;
  /** A new Updater over the same local metadata (tuf-js keeps trusted state only on disk). */
  updater(config?: Partial<Config>): Updater;
  cleanup(): void;
}

export function client(repo: RepoBuilder, server: TufServer, rootVersion = 1): Client {
  const dir = mkdtempSync(join(tmpdir(), 'tuf-fixtures-'));
  const metadataDir = join(dir, 'metadata');
  const targetDir = join(dir, 'targets');
  mkdirSync(metadataDir);
  mkdirSync(targetDir);
  writeFileSync(join(metadataDir, 'root.json'), repo.rootBytes(rootVersion));
  return {
    dir,
    metadataDir,
    targetDir,
    updater: (config = {}) =>
      new Updater({
        metadataDir,
        metadataBaseUrl: server.base(repo.metadataPath),
        targetDir,
        targetBaseUrl: server.base(repo.targetsPath),
        // No retries: a refused repository must fail at once, not after back-off sleeps.
        config: { fetchRetry: 0, fetchTimeout: 5000, ...config },
      }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Asserts that `p` rejects with an error of class `className` (tuf-js wraps snapshot and targets
 * failures in RuntimeError with the cause's message inside, so `message` checks what went wrong).
 */
export async function rejectsWith(p: Promise<unknown>, className: string, message?: RegExp): Promise<Error> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected a rejection with ${className}, got success`);
  assert.equal(caught.constructor.name, className, `expected ${className}, got ${caught.constructor.name}: ${caught.message}`);
  if (message) assert.match(caught.message, message);
  return caught;
}
