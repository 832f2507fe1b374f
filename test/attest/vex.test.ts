import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOpenVEX, vexDecision, purlCovers, VEXError } from '../../attest/vex/index.ts';
import { parsePurl } from '../../attest/sbom/purl.ts';
import { openvex } from '../fixtures/sbom/osv.ts';

test('OpenVEX: v0.2.0 objects and v0.0.x string forms both parse', () => {
  const v2 = parseOpenVEX(openvex([{ vulnerability: 'CVE-1', aliases: ['GHSA-x'], products: ['pkg:npm/a@1.0.0'], status: 'not_affected', justification: 'component_not_present' }]), 'v2');
  assert.equal(v2.statements[0]!.vulnerability, 'CVE-1');
  assert.deepEqual(v2.statements[0]!.aliases, ['GHSA-x']);
  assert.equal(v2.statements[0]!.products[0]!.name, 'a');
  const v0 = parseOpenVEX(
    {
      '@context': 'https://openvex.dev/ns',
      '@id': 'https://example.invalid/vex/0',
      author: 'someone',
      timestamp: '2023-01-01T00:00:00Z',
      statements: [{ vulnerability: 'CVE-2', products: ['pkg:pypi/b@2.0', 'sha256:abc'], status: 'affected' }],
    },
    'v0',
  );
  assert.equal(v0.statements[0]!.products.length, 1, 'non-purl product ids are kept out of component matching');
  assert.equal(v0.statements[0]!.timestamp, Date.parse('2023-01-01T00:00:00Z'), 'statements inherit the document timestamp');
});

test('OpenVEX: product coverage by purl (version and qualifiers optional on the product)', () => {
  const c = parsePurl('pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12');
  assert.equal(purlCovers(parsePurl('pkg:deb/debian/curl'), c), true);
  assert.equal(purlCovers(parsePurl('pkg:deb/debian/curl@7.88.1-10'), c), true);
  assert.equal(purlCovers(parsePurl('pkg:deb/debian/curl@7.88.1-11'), c), false);
  assert.equal(purlCovers(parsePurl('pkg:deb/debian/curl?arch=amd64'), c), true);
  assert.equal(purlCovers(parsePurl('pkg:deb/debian/curl?arch=arm64'), c), false);
  assert.equal(purlCovers(parsePurl('pkg:deb/ubuntu/curl'), c), false);
  assert.equal(purlCovers(parsePurl('pkg:deb/debian/libcurl4'), c), false);
});

test('OpenVEX: the most recent applicable statement decides, across documents', () => {
  const comp = parsePurl('pkg:npm/a@1.0.0');
  const older = parseOpenVEX(openvex([{ vulnerability: 'CVE-1', products: ['pkg:npm/a'], status: 'not_affected', justification: 'component_not_present', timestamp: '2024-01-01T00:00:00Z' }], { id: 'old' }), 'old');
  const newer = parseOpenVEX(openvex([{ vulnerability: 'GHSA-1', products: ['pkg:npm/a@1.0.0'], status: 'affected', timestamp: '2024-02-01T00:00:00Z' }], { id: 'new' }), 'new');
  assert.equal(vexDecision([older], ['CVE-1'], comp)?.status, 'not_affected');
  assert.equal(vexDecision([older, newer], ['GHSA-1', 'CVE-1'], comp)?.status, 'affected');
  assert.equal(vexDecision([newer, older], ['GHSA-1', 'CVE-1'], comp)?.document.id, 'new', 'order of documents does not matter, time does');
  assert.equal(vexDecision([older, newer], ['CVE-9'], comp), undefined);
  assert.equal(vexDecision([older], ['CVE-1'], parsePurl('pkg:npm/b@1.0.0')), undefined);
});

test('OpenVEX parsing refuses malformed documents with the path', () => {
  const ok = openvex([{ vulnerability: 'CVE-1', products: ['pkg:npm/a@1.0.0'], status: 'not_affected', justification: 'component_not_present' }]);
  parseOpenVEX(ok, 'ok');
  const mutate = (f: (d: any) => void) => {
    const d = structuredClone(ok) as any;
    f(d);
    return d;
  };
  const cases: Array<[unknown, string]> = [
    [null, '$'],
    [mutate((d) => (d['@context'] = 'https://example.com')), '$["@context"]'],
    [mutate((d) => delete d.author), '$.author'],
    [mutate((d) => (d.timestamp = 'yesterday')), '$.timestamp'],
    [mutate((d) => (d.statements[0].status = 'maybe')), '$.statements[0].status'],
    [mutate((d) => delete d.statements[0].justification), '$.statements[0]'],
    [mutate((d) => (d.statements[0].justification = 'because')), '$.statements[0].justification'],
    [mutate((d) => (d.statements[0].products = [])), '$.statements[0].products'],
    [mutate((d) => (d.statements[0].products[0]['@id'] = 'pkg:')), '$.statements[0].products[0]["@id"]'],
    [mutate((d) => (d.statements[0].vulnerability = {})), '$.statements[0].vulnerability'],
  ];
  for (const [doc, path] of cases) assert.throws(() => parseOpenVEX(doc, 't'), (e: unknown) => e instanceof VEXError && e.path === path, path);
});
