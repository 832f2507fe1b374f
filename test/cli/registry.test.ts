// agent/commands/index.ts must agree with the command modules: every module is listed, every
// listed path exists in its module with the same summary, and every exported spec is listed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commands } from '../../agent/commands/index.ts';
import { specsOf } from '../../agent/cli.ts';

const DIR = join(import.meta.dirname, '..', '..', 'agent', 'commands');

describe('command registry', () => {
  it('lists every command module in agent/commands/', async () => {
    const src = readFileSync(join(DIR, 'index.ts'), 'utf8');
    for (const f of readdirSync(DIR).filter((f) => f.endsWith('.ts') && f !== 'index.ts')) {
      const specs = specsOf(await import(pathToFileURL(join(DIR, f)).href));
      if (specs.length === 0) continue; // a helper module, not commands
      assert.ok(src.includes(`import('./${f}')`), `agent/commands/index.ts does not load ./${f}`);
    }
  });

  it('has no duplicate paths and only lower-case words', () => {
    const seen = new Set<string>();
    for (const c of commands) {
      const k = c.path.join(' ');
      assert.ok(!seen.has(k), `duplicate command '${k}'`);
      seen.add(k);
      assert.ok(c.path.length > 0 && c.path.every((w) => /^[a-z][a-z0-9-]*$/.test(w)), `bad command words '${k}'`);
    }
  });

  it('matches the specs the modules export', async () => {
    const listed = new Map(commands.map((c) => [c.path.join(' '), c]));
    for (const c of commands) {
      const specs = specsOf(await c.load());
      const spec = specs.find((s) => s.path.join(' ') === c.path.join(' '));
      assert.ok(spec, `module for '${c.path.join(' ')}' does not export that command`);
      assert.equal(spec.summary, c.summary, `summary of '${c.path.join(' ')}' differs between index.ts and its module`);
      for (const s of specs) assert.ok(listed.has(s.path.join(' ')), `'${s.path.join(' ')}' is exported but not listed in index.ts`);
      for (const [name, o] of Object.entries(spec.options)) {
        assert.ok(/^[a-z][a-z0-9-]*$/.test(name), `option --${name} of '${c.path.join(' ')}' is not kebab-case`);
        assert.ok(!['json', 'help', 'version'].includes(name) || o.type === 'boolean', `option --${name} clashes with a global option`);
      }
    }
  });
});
