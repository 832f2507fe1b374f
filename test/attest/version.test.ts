import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareVersions,
  orderings,
  VersionError,
  formatPep440,
  parsePep440,
  normalizePyPIName,
  compareDigits,
  type VersionScheme,
} from '../../attest/version/index.ts';

// Each chain is strictly increasing; every pair in it is checked both ways, so a wrong sign anywhere fails.
function assertChain(scheme: VersionScheme, chain: string[]): void {
  for (let i = 0; i < chain.length; i++) {
    for (let j = 0; j < chain.length; j++) {
      const want = Math.sign(i - j);
      const got = compareVersions(scheme, chain[i]!, chain[j]!);
      assert.equal(got, want, `${scheme}: ${chain[i]} vs ${chain[j]} expected ${want}, got ${got}`);
    }
  }
}

function assertEqual(scheme: VersionScheme, pairs: [string, string][]): void {
  for (const [a, b] of pairs) {
    assert.equal(compareVersions(scheme, a, b), 0, `${scheme}: ${a} == ${b}`);
    assert.equal(compareVersions(scheme, b, a), 0, `${scheme}: ${b} == ${a}`);
  }
}

function assertInvalid(scheme: VersionScheme, bad: string[]): void {
  for (const v of bad) {
    assert.throws(
      () => orderings[scheme].parse(v),
      (e: unknown) => e instanceof VersionError && e.code === 'VERSION_INVALID',
      `${scheme}: ${JSON.stringify(v)} must be rejected`,
    );
  }
}

test('compareDigits handles numbers beyond 2^53 and leading zeros', () => {
  assert.equal(compareDigits('9007199254740993', '9007199254740992'), 1);
  assert.equal(compareDigits('0010', '10'), 0);
  assert.equal(compareDigits('99', '100'), -1);
  assert.equal(compareDigits('0', '000'), 0);
});

test('semver: precedence per semver.org §11, build metadata ignored', () => {
  assertChain('semver', [
    '0.0.0',
    '1.0.0-0',
    '1.0.0-0.3.7',
    '1.0.0-1',
    '1.0.0-2',
    '1.0.0-10',
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    '1.0.1',
    '1.2.0',
    '1.10.0',
    '2.0.0',
    '18446744073709551616.0.0',
  ]);
  assertEqual('semver', [
    ['1.0.0+build.1', '1.0.0'],
    ['1.0.0-alpha+001', '1.0.0-alpha+exp.sha.5114f85'],
  ]);
  assertInvalid('semver', ['1', '1.0', 'v1.0.0', '01.0.0', '1.02.0', '1.0.0-01', '1.0.0-', '1.0.0+', '1.0.0-a..b', '1.0.0 ', '1.0.0.0', 'a.b.c', '', 'x'.repeat(300)]);
});

test('go: v prefix, +incompatible and pseudo-versions', () => {
  assertChain('go', ['v0.0.0-20190101000000-abcdefabcdef', 'v0.0.0-20200101000000-abcdefabcdef', 'v0.1.0', 'v1.2.3', '1.2.4', 'v2.0.0-rc.1', 'v2.0.0+incompatible']);
  assertEqual('go', [['v2.0.0+incompatible', '2.0.0'], ['v1.2.3', '1.2.3']]);
  assertInvalid('go', ['(devel)', 'vv1.0.0', 'v1.2', 'latest']);
});

test('pep440: pre/post/dev releases, epochs, local versions and normalisation', () => {
  assertChain('pep440', [
    '1.0.dev456',
    '1.0a1.dev1',
    '1.0a1',
    '1.0a2.dev456',
    '1.0a12.dev456',
    '1.0a12',
    '1.0b1.dev456',
    '1.0b2',
    '1.0b2.post345.dev456',
    '1.0b2.post345',
    '1.0rc1.dev456',
    '1.0rc1',
    '1.0',
    '1.0+abc.5',
    '1.0+abc.7',
    '1.0+5',
    '1.0.post456.dev34',
    '1.0.post456',
    '1.0.15',
    '1.1.dev1',
    '2.0',
    '1!0.1',
  ]);
  assertEqual('pep440', [
    ['1.0rc1', '1.0.0rc1'],
    ['1.0', '1.0.0.0'],
    ['1.0-1', '1.0.post1'],
    ['1.0-post1', '1.0.post1'],
    ['1.0r1', '1.0.post1'],
    ['1.0.rev1', '1.0.post1'],
    ['1.0alpha1', '1.0a1'],
    ['1.0-beta.2', '1.0b2'],
    ['1.0c1', '1.0rc1'],
    ['1.0pre1', '1.0rc1'],
    ['1.0preview1', '1.0rc1'],
    ['1.0a', '1.0a0'],
    ['1.0.dev', '1.0.dev0'],
    ['v1.0', '1.0'],
    ['1.0RC1', '1.0rc1'],
    ['0!1.0', '1.0'],
    ['1.0+ubuntu-1', '1.0+ubuntu.1'],
    ['  1.0  ', '1.0'],
    ['1.01', '1.1'],
  ]);
  // The traps the issue names, spelled as direct comparisons.
  assert.equal(compareVersions('pep440', '1.0.post1', '1.0'), 1);
  assert.equal(compareVersions('pep440', '1.0.dev1', '1.0a1'), -1);
  assert.equal(compareVersions('pep440', '1!1.0', '2.0'), 1);
  assert.equal(compareVersions('pep440', '1.0', '1.0.post1.dev1'), -1);
  assert.equal(formatPep440(parsePep440('1.0-1')), '1.0.post1');
  assert.equal(formatPep440(parsePep440('1!2.0.0-RC.3_post4-dev5+Local.X')), '1!2.0.0rc3.post4.dev5+local.x');
  assert.equal(normalizePyPIName('Django_REST.framework'), 'django-rest-framework');
  assertInvalid('pep440', ['1.0+', '1.0+foo..bar', '1.0.x', 'one', '1.0-alpha-beta', '1!', '!1.0', '1..0', '1.0+ä']);
});

test('maven: qualifier order, separators and padding', () => {
  assertChain('maven', [
    '1-alpha',
    '1-alpha2',
    '1-beta1',
    '1-milestone1',
    '1-rc1',
    '1-snapshot',
    '1',
    '1-sp',
    '1-sp1',
    '1-abc',
    '1-foo2',
    '1-foo10',
    '1-1',
    '1.1',
    '1.1.1',
    '1.2',
    '1.10',
    '2.0-alpha1',
    '2.0',
  ]);
  assertEqual('maven', [
    ['1.ga', '1'],
    ['1-ga', '1'],
    ['1-0', '1'],
    ['1.0', '1'],
    ['1.0.0', '1'],
    ['1-final', '1'],
    ['1.release', '1'],
    ['1-cr1', '1-rc1'],
    ['1-a1', '1-alpha-1'],
    ['1-b1', '1-beta-1'],
    ['1-m1', '1-milestone-1'],
    ['1.foo', '1-foo'],
    ['1.0.0-foo.0.0', '1-foo'],
    ['1.0.0-0.0.0', '1'],
    ['1-ga-1', '1-1'],
    ['1.0-RC1', '1.0-rc1'],
    ['1..1', '1.0.1'],
    ['1-', '1'],
    ['1.0.0.RELEASE', '1.0.0'],
    ['1.0.0.Final', '1.0.0'],
  ]);
  // Named traps: "1.0-RC1 < 1.0", "1-sp-1 < 1-ga-1", "1-sp.1 > 1-ga.1", "1-foo < 1-1 < 1.1".
  assert.equal(compareVersions('maven', '1.0-RC1', '1.0'), -1);
  assert.equal(compareVersions('maven', '1-sp-1', '1-ga-1'), -1);
  assert.equal(compareVersions('maven', '1-sp.1', '1-ga.1'), 1);
  assert.equal(compareVersions('maven', '1.0-SNAPSHOT', '1.0'), -1);
  assert.equal(compareVersions('maven', '2.17.0', '2.17.0-rc1'), 1);
  assertInvalid('maven', ['', '1.0 beta', 'x'.repeat(257)]);
});

test('debian: epochs, tildes, revisions and the letters-before-non-letters order', () => {
  assertChain('debian', [
    '1.0~~',
    '1.0~~a',
    '1.0~',
    '1.0~rc1',
    '1.0~rc2',
    '1.0',
    '1.0-1',
    '1.0-1+deb12u1',
    '1.0-2',
    '1.0a',
    '1.0+',
    '1.0+dfsg',
    '1.0.1',
    '1.1',
    '2.0',
    '10.0',
    '1:0.1',
    '1:1.0',
    '2:0.0',
  ]);
  assertEqual('debian', [
    ['0:1.0', '1.0'],
    ['1.0-0', '1.0'],
    ['1.00', '1.0'],
    ['1.0-01', '1.0-1'],
  ]);
  assert.equal(compareVersions('debian', '1:1.0', '2.0'), 1, 'epoch wins over upstream');
  assert.equal(compareVersions('debian', '1.0~rc1', '1.0'), -1, 'tilde sorts before the end');
  assert.equal(compareVersions('debian', '3.0.11-1~deb12u2', '3.0.11-1'), -1);
  assert.equal(compareVersions('debian', '2.36-9+deb12u4', '2.36-9+deb12u10'), -1);
  assert.equal(compareVersions('debian', '1.2.3-1a', '1.2.3-1+'), -1, 'letters before non-letters');
  assert.equal(compareVersions('debian', '1.0-a-b', '1.0-a-c'), -1, 'upstream may contain hyphens; revision is after the last');
  assertInvalid('debian', ['', 'a1.0', 'x:1.0', ':1.0', '1.0-', '1.0-a_b', '1.0 1', '1:', '-1', '1.0$']);
});

test('alpine apk: suffixes, letters, revisions and leading zeros', () => {
  assertChain('apk', [
    '1.2.3_alpha',
    '1.2.3_alpha2',
    '1.2.3_beta',
    '1.2.3_pre1',
    '1.2.3_rc1',
    '1.2.3_rc2',
    '1.2.3',
    '1.2.3-r1',
    '1.2.3-r2',
    '1.2.3-r10',
    '1.2.3_cvs',
    '1.2.3_svn',
    '1.2.3_git20200101',
    '1.2.3_hg',
    '1.2.3_p1',
    '1.2.3_p2-r3',
    '1.2.3a',
    '1.2.3b',
    '1.2.3.1',
    '1.2.4',
    '1.2.10',
    '2.0',
  ]);
  assertEqual('apk', [
    ['1.2.3~abc123-r1', '1.2.3-r1'],
    ['01.2', '1.2'],
  ]);
  assert.equal(compareVersions('apk', '1.2.3_rc1', '1.2.3'), -1);
  assert.equal(compareVersions('apk', '1.2.3_p1', '1.2.3-r9'), 1, '_p suffix is after any revision of the base');
  assert.equal(compareVersions('apk', '1.02', '1.1'), -1, 'leading zero compares as a fraction');
  assert.equal(compareVersions('apk', '1.01', '1.0.1'), 1);
  assert.equal(compareVersions('apk', '1.0', '1.0.0'), -1);
  assert.equal(compareVersions('apk', '1.2.3_rc1-r5', '1.2.3-r0'), -1);
  assertInvalid('apk', ['', 'a1', '1.', '1..2', '1.2_foo', '1.2-1', '1.2-r', '1.2.3A', '1.2~', '1.2 ', '1.2-r1-r2']);
});

test('every ordering rejects non-strings and hostile lengths with VersionError', () => {
  for (const scheme of Object.keys(orderings) as VersionScheme[]) {
    assertInvalid(scheme, ['', '9'.repeat(1000)]);
    assert.throws(() => orderings[scheme].parse(42 as unknown as string), VersionError);
  }
});
