import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePurl, formatPurl, tryParsePurl, SBOMError } from '../../attest/sbom/index.ts';

test('purl: components, percent-decoding and type-specific normalisation', () => {
  assert.deepEqual(parsePurl('pkg:npm/%40angular/animation@12.3.1'), { type: 'npm', namespace: '@angular', name: 'animation', version: '12.3.1', qualifiers: {}, subpath: undefined });
  assert.equal(parsePurl('pkg:npm/@angular/animation@12.3.1').namespace, '@angular', 'an unencoded scope is tolerated');
  assert.equal(parsePurl('pkg:npm/@angular/animation').version, undefined);
  assert.equal(parsePurl('pkg:npm/JSONStream@1.0.0').name, 'JSONStream', 'npm stays case-sensitive');
  const deb = parsePurl('pkg:DEB/Debian/Curl@7.50.3-1?Arch=i386&distro=jessie');
  assert.deepEqual([deb.type, deb.namespace, deb.name, deb.qualifiers], ['deb', 'debian', 'curl', { arch: 'i386', distro: 'jessie' }]);
  assert.equal(parsePurl('pkg:pypi/Django_Allauth@1.0').name, 'django-allauth');
  assert.equal(parsePurl('pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?packaging=sources').qualifiers.packaging, 'sources');
  assert.equal(parsePurl('pkg:golang/github.com/gorilla/context@234fd47e07d1004f0aed9c#api').subpath, 'api');
  assert.equal(parsePurl('pkg:golang/google.golang.org/genproto#/googleapis/api/annotations/').subpath, 'googleapis/api/annotations');
  assert.equal(parsePurl('pkg:gem/ruby-advisory-db-check@0.12.4').name, 'ruby-advisory-db-check');
  assert.equal(parsePurl('pkg://npm/foo@1').name, 'foo', 'slashes after the scheme are tolerated');
  assert.equal(parsePurl('pkg:docker/customer/dockerimage@sha256%3A244fd47e07d10?repository_url=gcr.io').version, 'sha256:244fd47e07d10');
  assert.equal(parsePurl('pkg:npm/a@1?x=').qualifiers.x, undefined, 'empty qualifier values are dropped');
  assert.equal(parsePurl('pkg:github/Package-URL/purl-spec@244fd47e07d1004f0aed9c').namespace, 'package-url');
  assert.equal(formatPurl(parsePurl('pkg:npm/@angular/animation@12.3.1?b=2&a=1')), 'pkg:npm/%40angular/animation@12.3.1?a=1&b=2');
  assert.equal(formatPurl(parsePurl('pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12')), 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12');
  const proto = parsePurl('pkg:npm/a@1?__proto__=x&constructor=y');
  assert.equal(proto.qualifiers.__proto__, 'x');
  assert.equal(({} as Record<string, unknown>).x, undefined, 'no prototype pollution');
});

test('purl: malformed package URLs are PURL_INVALID, never crashes', () => {
  for (const bad of [
    '',
    'npm/foo@1',
    'http://npm/foo',
    'pkg:',
    'pkg:npm',
    'pkg:npm/',
    'pkg:/foo',
    'pkg:n pm/foo',
    'pkg:npm/foo@',
    'pkg:npm/%zz@1',
    'pkg:npm/%C3%28@1',
    'pkg:npm/foo?bad',
    'pkg:npm/foo?a=1&a=2',
    'pkg:npm/foo?1a=2',
    'pkg:npm/foo bar',
    'pkg:npm/foo\n',
    'pkg:maven/batik-anim@1.9.1',
    'pkg:npm/a%2Fb/c',
    'pkg:1npm/foo',
    'pkg:npm/' + 'a'.repeat(5000),
  ]) {
    assert.throws(() => parsePurl(bad), (e: unknown) => e instanceof SBOMError && e.code === 'PURL_INVALID', JSON.stringify(bad.slice(0, 50)));
    assert.equal(tryParsePurl(bad), undefined);
  }
  assert.throws(() => parsePurl(undefined as unknown as string), SBOMError);
});
