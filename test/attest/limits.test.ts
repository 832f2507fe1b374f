// Caps that bound the work one hostile input can cause inside attest/: JSON values counted before
// parsing, a bundle's verification material, the vulnerability scan (pairs evaluated, findings
// listed), and messages that would otherwise repeat a whole policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttestError, hashBytes, loadTrustedRoot, parseBundle, parseJSON, verifyBundle, type IdentityPolicy } from '../../attest/index.ts';
import { checkVulnerabilities, loadOSVDatabase, DEFAULT_VULNERABILITY_POLICY } from '../../attest/osv/index.ts';
import { GITHUB_ISSUER, SigstoreTestbed, WORKFLOW } from '../fixtures/attest/sigstore.ts';
import { osvRecord, range } from '../fixtures/sbom/osv.ts';

// The caps, as attest/limits.ts and attest/encoding.ts set them.
const MAX_VULN_EVALUATIONS = 100_000;
const MAX_VULN_FINDINGS_LISTED = 1_000;
const tooMany = (e: unknown) => e instanceof AttestError && e.code === 'ATTEST_JSON_TOO_MANY_VALUES';

test('JSON values are counted outside strings, and a document over the value cap is refused before parsing', () => {
  assert.deepEqual(parseJSON('[1,2,3]', 'doc', { maxValues: 4 }), [1, 2, 3]);
  assert.throws(() => parseJSON('[1,2,3,4,5]', 'doc', { maxValues: 4 }), tooMany);
  assert.doesNotThrow(() => parseJSON('["a,b,c,d,e,f", {"x": "[[[[,,,,"}]', 'doc', { maxValues: 4, maxDepth: 3 }), 'commas and brackets inside strings do not count');
  assert.throws(() => parseJSON(String.raw`["\\", [[[1]]]]`, 'doc', { maxDepth: 3 }), (e: AttestError) => e.code === 'ATTEST_JSON_TOO_DEEP', 'an escaped backslash ends the string before the quote');
  assert.doesNotThrow(() => parseJSON(String.raw`["\"[[[[,,,,,"]`, 'doc', { maxValues: 3, maxDepth: 3 }), 'an escaped quote does not end the string');
  assert.throws(() => parseJSON('[' + '{},'.repeat(600_000) + '{}]', 'doc'), (e: AttestError) => tooMany(e) && /more than 1000000 JSON values/.test(e.message));
  assert.deepEqual(parseJSON('[' + '{},'.repeat(1000) + '{}]', 'doc', { maxValues: 2002 }), Array.from({ length: 1001 }, () => ({})));
});

test('a bundle carrying more verification material than real bundles do is refused before it is verified', () => {
  const tb = new SigstoreTestbed();
  const leaf = tb.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER });
  const base = tb.bundle({ version: '0.3', content: { artifact: Buffer.from('a') }, signer: { leaf }, tsa: true });
  const vm = base.verificationMaterial;
  const withVm = (extra: Record<string, unknown>) => JSON.stringify({ ...base, verificationMaterial: { ...vm, ...extra } });
  const refused = (json: string, what: RegExp) => assert.throws(() => parseBundle(json), (e: AttestError) => e.code === 'SIGSTORE_BUNDLE_INVALID' && what.test(e.message), what.source);
  assert.doesNotThrow(() => parseBundle(withVm({ tlogEntries: Array(8).fill(vm.tlogEntries[0]) })));
  refused(withVm({ tlogEntries: Array(9).fill(vm.tlogEntries[0]) }), /has 9 entries at verificationMaterial\.tlogEntries, more than the 8 accepted/);
  const ts = vm.timestampVerificationData.rfc3161Timestamps[0];
  refused(withVm({ timestampVerificationData: { rfc3161Timestamps: Array(9).fill(ts) } }), /rfc3161Timestamps, more than the 8 accepted/);
  const proof = { ...vm.tlogEntries[0].inclusionProof, hashes: Array(65).fill(vm.tlogEntries[0].inclusionProof.hashes[0] ?? Buffer.alloc(32).toString('base64')) };
  refused(withVm({ tlogEntries: [{ ...vm.tlogEntries[0], inclusionProof: proof }] }), /inclusionProof\.hashes, more than the 64 accepted/);
  refused(withVm({ certificate: { rawBytes: Buffer.alloc(33 * 1024, 1).toString('base64') } }), /certificate of more than 32 KiB/);
});

test('a failed identity match names a few identities, not the whole policy', () => {
  const tb = new SigstoreTestbed();
  const root = loadTrustedRoot(JSON.stringify(tb.trustedRoot()), 'trusted_root.json');
  const artifact = Buffer.from('x');
  const leaf = tb.issueLeaf({ san: 'https://github.com/evil/repo/.github/workflows/r.yml@refs/heads/main', issuer: GITHUB_ISSUER });
  const identities: IdentityPolicy[] = Array.from({ length: 5000 }, (_, i) => ({ issuer: GITHUB_ISSUER, subjectPattern: `https://github\\.com/org${i}/repo/.*` }));
  const r = verifyBundle(parseBundle(JSON.stringify(tb.bundle({ version: '0.3', content: { artifact }, signer: { leaf } }))), { trustedRoot: root, identities, keys: [], artifact: { digests: hashBytes(artifact) } });
  assert.equal(r.ok, false);
  assert.match(r.reason, /or 4997 more trusted identities; found SAN/);
  assert.ok(r.reason.length < 1000, `reason is ${r.reason.length} characters`);
});

// 430 advisories for one package (TensorFlow has about that many in PyPI's OSV data).
const db = loadOSVDatabase(Array.from({ length: 430 }, (_, i) => JSON.stringify(osvRecord({
  id: `PYSEC-${i}`, severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' }],
  affected: [{ ecosystem: 'PyPI', name: 'tensorflow', ranges: [range('ECOSYSTEM', ['introduced', '1.0.0'], ['fixed', '2.0.0'])] }],
}))).join('\n'));
const tf = (n: number, version: (i: number) => string) => Array.from({ length: n }, (_, i) => ({ name: 'tensorflow', version: version(i), purl: `pkg:pypi/tensorflow@${version(i)}` }));
const now = new Date('2026-03-01T00:00:00Z');

test('a scan that would evaluate more (component, advisory) pairs than the cap fails instead of running on', () => {
  // 250 versions × 430 advisories = 107,500 pairs; none is affected (every version is below 1.0.0).
  const checks = checkVulnerabilities({ components: tf(250, (i) => `0.1.${i}`), database: db, policy: DEFAULT_VULNERABILITY_POLICY, now });
  const scan = checks.find((c) => c.id === 'vuln.scan')!;
  assert.equal(scan.status, 'failed');
  assert.match(scan.reason, new RegExp(`more than ${MAX_VULN_EVALUATIONS} \\(component, advisory\\) pairs`));
});

test('findings past the listing cap are decided and counted in one check, never a check each', () => {
  // 3 affected versions × 430 advisories = 1290 findings, every one above maxSeverity "none".
  const checks = checkVulnerabilities({ components: tf(3, (i) => `1.${i}.0`), database: db, policy: DEFAULT_VULNERABILITY_POLICY, now });
  assert.equal(checks.filter((c) => c.id.startsWith('vuln.PYSEC-')).length, MAX_VULN_FINDINGS_LISTED);
  const more = checks.find((c) => c.id === 'vuln.more')!;
  assert.equal(more.status, 'failed');
  assert.match(more.reason, /^290 more finding\(s\) not listed \(at most 1000 are\): 290 failed, 0 allowed/);
  assert.match(checks.find((c) => c.id === 'vuln.scan')!.reason, /1290 findings/);
});
