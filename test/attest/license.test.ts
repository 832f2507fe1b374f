import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseLicenseExpression,
  formatLicenseExpression,
  evaluateLicense,
  parseLicenseListEntry,
  licenseLeaves,
  canonicalLicenseId,
  canonicalExceptionId,
  LicenseExpressionError,
  type LicenseLists,
} from '../../attest/license/index.ts';

const fmt = (s: string) => formatLicenseExpression(parseLicenseExpression(s));
const lists = (allow?: string[], deny?: string[]): LicenseLists => ({ allow: allow?.map(parseLicenseListEntry), deny: deny?.map(parseLicenseListEntry) });
const ok = (expr: string, l: LicenseLists) => evaluateLicense(parseLicenseExpression(expr), l).ok;

test('licence list: canonical ids, exceptions kept apart', () => {
  assert.equal(canonicalLicenseId('mit'), 'MIT');
  assert.equal(canonicalLicenseId('apache-2.0'), 'Apache-2.0');
  assert.equal(canonicalLicenseId('Classpath-exception-2.0'), undefined);
  assert.equal(canonicalExceptionId('classpath-exception-2.0'), 'Classpath-exception-2.0');
  assert.equal(canonicalExceptionId('MIT'), undefined);
});

test('parsing: precedence WITH > AND > OR, parentheses, canonical case', () => {
  assert.equal(fmt('mit OR apache-2.0 AND bsd-3-clause'), 'MIT OR Apache-2.0 AND BSD-3-Clause');
  const e = parseLicenseExpression('MIT OR Apache-2.0 AND BSD-3-Clause');
  assert.equal(e.type, 'or');
  assert.equal((e as unknown as { children: { type: string }[] }).children[1]!.type, 'and', 'AND binds tighter than OR');
  assert.equal(fmt('(MIT OR Apache-2.0) AND BSD-3-Clause'), '(MIT OR Apache-2.0) AND BSD-3-Clause');
  assert.equal(fmt('((MIT))'), 'MIT');
  assert.equal(fmt('GPL-2.0-or-later WITH classpath-exception-2.0 OR MIT'), 'GPL-2.0-or-later WITH Classpath-exception-2.0 OR MIT');
  assert.equal(fmt('LicenseRef-Proprietary AND DocumentRef-ext:LicenseRef-x'), 'LicenseRef-Proprietary AND DocumentRef-ext:LicenseRef-x');
  assert.equal(fmt('Apache-1.0+'), 'Apache-1.0+');
  assert.equal(fmt('  MIT\n'), 'MIT');
  assert.deepEqual(parseLicenseExpression('NOASSERTION'), { type: 'special', value: 'NOASSERTION' });
  assert.deepEqual(parseLicenseExpression(' NONE '), { type: 'special', value: 'NONE' });
  const unknown = licenseLeaves(parseLicenseExpression('Foo-License-9 WITH Bar-exception'))[0]!;
  assert.equal(unknown.known, false);
  assert.equal(unknown.exceptionKnown, false);
});

test('parsing: deprecated GNU ids and their modern equivalents are the same licence', () => {
  assert.equal(fmt('GPL-2.0+'), 'GPL-2.0-or-later');
  assert.equal(fmt('GPL-2.0'), 'GPL-2.0-only');
  assert.equal(fmt('gpl-3.0-or-later'), 'GPL-3.0-or-later');
  assert.equal(fmt('LGPL-2.1+'), 'LGPL-2.1-or-later');
  assert.equal(fmt('GPL-2.0-with-classpath-exception'), 'GPL-2.0-only WITH Classpath-exception-2.0');
  assert.equal(fmt('GPL-3.0-with-GCC-exception'), 'GPL-3.0-only WITH GCC-exception-3.1');
  const l = lists(['GPL-2.0-or-later']);
  assert.equal(ok('GPL-2.0+', l), true, 'GPL-2.0+ ≡ GPL-2.0-or-later');
  assert.equal(ok('GPL-2.0-only', l), false);
  assert.equal(ok('GPL-2.0', lists(['GPL-2.0-only'])), true);
});

test('parsing: malformed expressions are typed errors', () => {
  for (const bad of [
    '',
    '   ',
    'MIT OR',
    'OR MIT',
    'MIT AND AND Apache-2.0',
    '(MIT',
    'MIT)',
    '()',
    'MIT Apache-2.0',
    'MIT or Apache-2.0',
    'MIT WITH',
    '(MIT OR Apache-2.0) WITH Classpath-exception-2.0',
    'MIT WITH Classpath-exception-2.0 WITH Foo',
    'LicenseRef-x+',
    'MIT OR NOASSERTION',
    'NONE AND MIT',
    'MIT/Apache',
    'MIT, Apache-2.0',
    '('.repeat(100) + 'MIT' + ')'.repeat(100),
    'MIT OR '.repeat(2000) + 'MIT',
  ]) {
    assert.throws(() => parseLicenseExpression(bad), (e: unknown) => e instanceof LicenseExpressionError && e.code === 'LICENSE_EXPRESSION_INVALID', JSON.stringify(bad.slice(0, 40)));
  }
  assert.throws(() => parseLicenseExpression(7 as unknown as string), LicenseExpressionError);
  assert.throws(() => parseLicenseListEntry('MIT OR Apache-2.0'), /single licence/);
});

test('evaluation: OR is a choice, AND needs all', () => {
  const allowMIT = lists(['MIT']);
  assert.equal(ok('MIT OR GPL-3.0-only', allowMIT), true, 'MIT OR GPL-3.0-only passes an allow-list holding MIT');
  assert.equal(ok('GPL-3.0-only OR MIT', allowMIT), true);
  assert.equal(ok('MIT AND GPL-3.0-only', allowMIT), false);
  assert.equal(ok('GPL-3.0-only', allowMIT), false);
  assert.equal(ok('(MIT OR GPL-3.0-only) AND (Apache-2.0 OR ISC)', lists(['MIT', 'ISC'])), true);
  assert.equal(ok('(MIT OR GPL-3.0-only) AND (Apache-2.0 OR ISC)', lists(['MIT'])), false);
  assert.equal(ok('mit', allowMIT), true, 'ids match case-insensitively');
  const r = evaluateLicense(parseLicenseExpression('GPL-3.0-only OR MIT AND Apache-2.0'), lists(['MIT', 'Apache-2.0']));
  assert.deepEqual(r, { ok: true, choice: ['MIT', 'Apache-2.0'] });
  const blocked = evaluateLicense(parseLicenseExpression('GPL-3.0-only OR AGPL-3.0-only'), lists(['MIT']));
  assert.equal(blocked.ok, false);
  assert.match((blocked as { blocked: string[] }).blocked.join(';'), /GPL-3\.0-only is not in the allow-list.*AGPL-3\.0-only is not in the allow-list/);
});

test('evaluation: deny-list makes any choice containing a denied licence unusable', () => {
  const denyGPL = lists(undefined, ['GPL-3.0-only', 'AGPL-3.0-only']);
  assert.equal(ok('MIT OR GPL-3.0-only', denyGPL), true, 'another choice avoids the denied licence');
  assert.equal(ok('MIT AND GPL-3.0-only', denyGPL), false);
  assert.equal(ok('GPL-3.0-or-later', denyGPL), false, 'deny of a GNU licence covers its or-later form');
  assert.equal(ok('GPL-3.0+', denyGPL), false);
  assert.equal(ok('GPL-3.0', denyGPL), false, 'deprecated GPL-3.0 is GPL-3.0-only');
  assert.equal(ok('GPL-3.0-only WITH GCC-exception-3.1', denyGPL), false, 'deny without exception covers every exception');
  assert.equal(ok('GPL-2.0-only', denyGPL), true, 'other versions are not denied');
  const both = lists(['MIT', 'GPL-3.0-only'], ['GPL-3.0-only']);
  assert.equal(ok('GPL-3.0-only', both), false, 'deny wins over allow');
  const denyPair = lists(undefined, ['GPL-2.0-only WITH Classpath-exception-2.0']);
  assert.equal(ok('GPL-2.0-only WITH Classpath-exception-2.0', denyPair), false);
  assert.equal(ok('GPL-2.0-only', denyPair), true);
});

test('evaluation: or-later, exceptions and refs against the allow-list', () => {
  assert.equal(ok('GPL-2.0-or-later', lists(['GPL-2.0-only'])), true, 'or-later terms let the licensee elect the allowed version');
  assert.equal(ok('Apache-1.0+', lists(['Apache-1.0'])), true);
  assert.equal(ok('GPL-2.0-only WITH Classpath-exception-2.0', lists(['GPL-2.0-only'])), true, 'an exception only adds permissions');
  assert.equal(ok('GPL-2.0-only', lists(['GPL-2.0-only WITH Classpath-exception-2.0'])), false, 'allowing the pairing does not allow the bare licence');
  assert.equal(ok('GPL-2.0-only WITH GCC-exception-2.0', lists(['GPL-2.0-only WITH Classpath-exception-2.0'])), false);
  assert.equal(ok('LicenseRef-Acme-EULA', lists(['licenseref-acme-eula'])), true);
  assert.equal(ok('LicenseRef-Other', lists(['LicenseRef-Acme-EULA'])), false);
  assert.equal(ok('NOASSERTION', lists(['MIT'])), false, 'special values are the caller\'s decision');
});
