// Loads the third-party vector files (see vectors/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function loadVectors<T>(name: string): T[] {
  const v = JSON.parse(readFileSync(join(import.meta.dirname, 'vectors', name), 'utf8')) as T[];
  if (!Array.isArray(v) || v.length === 0) throw new Error(`no vectors in ${name}`);
  return v;
}
