// The install gate on real parts: a swtpm anchoring the TUF state, a TUF repository built by code
// and served on loopback, whose targets are an artifact, its DSSE-signed SLSA provenance, its
// CycloneDX SBOM (bare or as a signed in-toto predicate), an OSV database and a policy. Allow puts
// the file at --out with a PASSED VSA; every deny leaves nothing at --out (and no staging behind)
// and names the reason in the checks. Then the same through `node agent/main.ts` and dist/tollgate.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTPM, type TPM } from '../../hardware/index.ts';
import { createBundle, deviceTPM, initDevice, TufError, type DeviceTPM } from '../../tuf/index.ts';
import type { Check } from '../../attest/index.ts';
import { denyError, gateFetch, NOT_VERIFIED_NOTE, type GateResult } from '../../agent/gate.ts';
import { EvidenceSpecError, MAX_EVIDENCE_TARGETS, parseEvidenceSpec } from '../../agent/gate-evidence.ts';
import { readGateConfig, writeGateConfig } from '../../agent/gate-config.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { startTufServer, type TufServer } from '../fixtures/tuf/index.ts';
import { EVIL_BUILDER, gateRepo, type GateRepo } from '../fixtures/gate/index.ts';
import { FAST } from '../tuf/device-helpers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let sw: Swtpm;
let tpm: TPM;
let dev: DeviceTPM;
let work: string;
let g: GateRepo;
let server: TufServer;
let bare: GateRepo; // a repository without a policy target
let bareServer: TufServer;
let devices = 0;
const APP = Buffer.from('widget 2.0.0 release bytes\n');

before(async () => {
  sw = await startSwtpm({ ek: false });
  work = mkdtempSync(join(tmpdir(), 'tg-gate-'));
  g = await gateRepo();
  await g.addArtifact('app.bin', APP);
  await g.addArtifact('evil.bin', 'built elsewhere', { builderId: EVIL_BUILDER });
  await g.addArtifact('gpl.bin', 'copyleft inside', { license: 'GPL-3.0-only' });
  await g.addArtifact('vuln.bin', 'old lodash inside', { lodash: '4.17.20', sbomAs: 'intoto' });
  await g.addArtifact('tampered.bin', 'evidence gets swapped');
  await g.addArtifact('artifact-swapped.bin', 'the artifact gets swapped');
  await g.addArtifact('typo.bin', 'typo in custom', { tollgate: { attestation: ['x'] } });
  await g.addArtifact('escape.bin', 'hostile custom', { tollgate: { sboms: ['../../etc/passwd'] } });
  await g.addArtifact('ghost.bin', 'names a missing file', { tollgate: { vex: ['ghost.openvex.json'] } });
  g.repo.addTarget('plain.txt', 'no evidence here');
  g.repo.addTarget('tollgate/huge-policy.json', Buffer.alloc(4 * 1024 * 1024 + 1, 0x20));
  g.repo.addTarget('tollgate/broken-policy.json', JSON.stringify({ version: 1, provenance: { builderID: 'x', sourceUri: 'github.com/acme/widget' } }));
  g.repo.commit();
  // Same length, one byte different: a hash mismatch, not a length mismatch.
  const swap = (path: string) => {
    const b = Buffer.from(g.repo.target(path)!.content);
    b[b.length - 2] ^= 1;
    g.repo.tamperTarget(path, b);
  };
  swap('tampered.bin.provenance.json');
  swap('artifact-swapped.bin');
  server = await startTufServer(g.repo);
  bare = await gateRepo({ policy: false });
  await bare.addArtifact('app.bin', APP);
  bare.repo.addTarget('plain.txt', 'no evidence here');
  bare.repo.commit();
  bareServer = await startTufServer(bare.repo);
});

after(async () => {
  await server?.close();
  await bareServer?.close();
  await sw?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Dev { state: string; out: string; fetch(target: string, o?: { out?: string; policyTarget?: string | null; bundle?: string }): Promise<GateResult> }

async function device(repo: GateRepo, srv: TufServer): Promise<Dev> {
  const d = join(work, `dev${devices}`);
  const state = join(d, 'state', 'tuf');
  const out = join(d, 'out');
  await initDevice({ stateDir: state, tpm: dev, repo: srv.url, rootBytes: repo.repo.rootBytes(), anchorHandle: 0x01500020 + 0x40 * devices++ });
  mkdirSync(out, { recursive: true });
  return {
    state, out,
    fetch: (target, o = {}) => gateFetch({
      stateDir: state, tpm: dev, target, out: o.out ?? join(out, target), limits: FAST,
      ...(o.policyTarget !== undefined ? { policyTarget: o.policyTarget } : {}), ...(o.bundle ? { bundle: o.bundle } : {}),
    }),
  };
}

const failedIds = (r: GateResult) => r.checks.filter((c) => c.status === 'failed').map((c) => c.id);
const check = (r: GateResult, id: string): Check => {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id} in ${JSON.stringify(r.checks.map((x) => x.id))}`);
  return c;
};
const vsaResult = (r: GateResult) => (r.vsa!.predicate as { verificationResult: string }).verificationResult;

/** A deny: decision, a FAILED summary, POLICY_DENY, and nothing in the output directory at all. */
function denied(r: GateResult, d: Dev, failing: RegExp): void {
  assert.equal(r.decision, 'deny', JSON.stringify(r.checks, null, 1));
  assert.equal(r.verified, true);
  assert.equal(r.path, undefined);
  assert.ok(failedIds(r).some((id) => failing.test(id)), `expected a failed ${failing}, got ${failedIds(r).join(', ')}`);
  assert.equal(vsaResult(r), 'FAILED');
  const e = denyError(r);
  assert.equal(e.code, 'POLICY_DENY');
  assert.equal(e.exitCode, 1);
  assert.deepEqual(readdirSync(d.out), [], 'nothing at --out and no staging left behind');
}

let main: Dev;

describe('gateFetch (library, real swtpm, loopback repository)', () => {
  // The swtpm serves one client at a time: this connection is closed before the CLI runs.
  before(async () => {
    tpm = await openTPM(sw.uri);
    dev = deviceTPM(tpm);
    main = await device(g, server);
  });
  after(async () => { await tpm.close(); });

  test('allow: provenance, SBOM and vulnerabilities pass; the staged file is installed and the VSA says PASSED', async () => {
    const r = await main.fetch('app.bin');
    assert.equal(r.decision, 'allow', JSON.stringify(r.checks, null, 1));
    assert.equal(r.path, join(main.out, 'app.bin'));
    assert.deepEqual(readFileSync(r.path!), APP);
    assert.deepEqual(readdirSync(main.out), ['app.bin'], 'no staging left behind');
    for (const id of ['tuf.target', 'gate.evidence', 'tuf.evidence.attestations[0]', 'tuf.evidence.sboms[0]', 'tuf.policy', 'gate.policy', 'tuf.osv', 'dsse.attestation[0]', 'slsa.builder-id', 'slsa.source-branch', 'sbom.binding', 'sbom.license']) {
      assert.equal(check(r, id).status, 'passed', `${id}: ${check(r, id).reason}`);
    }
    assert.deepEqual(r.evidence.map((e) => [e.kind, e.target]), [
      ['attestations', 'app.bin.provenance.json'], ['sboms', 'app.bin.cdx.json'], ['policy', 'tollgate/policy.json'], ['osv', 'tollgate/osv.json'],
    ]);
    assert.equal(r.policy?.source, 'repository');
    const p = r.vsa!.predicate as Record<string, any>;
    assert.equal(p.verificationResult, 'PASSED');
    assert.equal(p.resourceUri, 'app.bin');
    assert.equal(p.policy.uri, 'tollgate/policy.json');
    assert.equal(p.policy.digest.sha256, g.repo.target('tollgate/policy.json')!.hashes.sha256);
    assert.deepEqual(r.vsa!.subject[0]!.digest.sha256, g.repo.target('app.bin')!.hashes.sha256);
    assert.deepEqual(p.inputAttestations.map((a: { uri: string }) => a.uri), ['app.bin.provenance.json']);
    // Again: the file at --out matches, so it is not downloaded again, but it is verified again.
    const again = await main.fetch('app.bin');
    assert.equal(again.decision, 'allow');
    assert.equal(again.cached, true);
    assert.equal(again.bytes, 0);
    rmSync(r.path!);
  });

  test('deny: provenance from the wrong builder', async () => {
    const r = await main.fetch('evil.bin');
    denied(r, main, /^slsa\.builder-id$/);
    assert.match(check(r, 'slsa.builder-id').reason, /evil\/builder/);
  });

  test('deny: an SBOM component under a denied licence', async () => {
    const r = await main.fetch('gpl.bin');
    denied(r, main, /^sbom\.license$/);
    assert.deepEqual(failedIds(r), ['sbom.license']);
    assert.match(check(r, 'sbom.license').reason, /GPL-3\.0-only/);
  });

  test('deny: a vulnerable component above the maximum severity (SBOM as a signed in-toto predicate)', async () => {
    const r = await main.fetch('vuln.bin');
    denied(r, main, /^vuln\./);
    const v = r.checks.find((c) => c.id.startsWith('vuln.') && c.status === 'failed')!;
    assert.match(`${v.id} ${v.reason}`, /GHSA-35jh-r3h4-6jhm|CVE-2021-23337/);
    assert.match(v.reason, /lodash/);
  });

  test('deny: an evidence target tampered on the server is refused by TUF (hash mismatch)', async () => {
    const r = await main.fetch('tampered.bin');
    denied(r, main, /^tuf\.evidence\.attestations\[0\]$/);
    const c = check(r, 'tuf.evidence.attestations[0]');
    assert.equal(c.details?.code, 'TUF_HASH_MISMATCH');
    assert.equal(check(r, 'slsa.provenance').status, 'failed', 'the refused provenance is never used');
  });

  test('deny: the artifact itself tampered on the server; the summary is still made, about the listed digest', async () => {
    const r = await main.fetch('artifact-swapped.bin');
    denied(r, main, /^tuf\.target$/);
    assert.equal(check(r, 'tuf.target').details?.code, 'TUF_HASH_MISMATCH');
    assert.equal(r.vsa!.subject[0]!.digest.sha256, g.repo.target('artifact-swapped.bin')!.hashes.sha256);
  });

  test('deny: the policy target named at init is missing from the repository', async () => {
    const r = await main.fetch('app.bin', { policyTarget: 'tollgate/strict-policy.json' });
    denied(r, main, /^gate\.policy$/);
    assert.match(check(r, 'gate.policy').reason, /strict-policy\.json named at init is not listed/);
    assert.equal(r.policy?.source, 'configured');
    // Under a configured policy even a target without evidence is verified, and so denied here.
    const plain = await main.fetch('plain.txt', { policyTarget: 'tollgate/strict-policy.json' });
    denied(plain, main, /^gate\.policy$/);
    const self = await main.fetch('tollgate/policy.json', { policyTarget: 'tollgate/policy.json', out: join(main.out, 'policy.json') });
    denied(self, main, /^gate\.policy$/);
    assert.match(check(self, 'gate.policy').reason, /cannot vouch for itself/);
  });

  test('deny: a policy target that is not a valid policy names the offending JSON path', async () => {
    const r = await main.fetch('app.bin', { policyTarget: 'tollgate/broken-policy.json' });
    denied(r, main, /^gate\.policy$/);
    assert.match(check(r, 'gate.policy').reason, /\$\.provenance\.builderID/);
  });

  test('deny: malformed or hostile custom metadata, and evidence no trusted metadata lists', async () => {
    const typo = await main.fetch('typo.bin');
    denied(typo, main, /^gate\.evidence$/);
    assert.match(check(typo, 'gate.evidence').reason, /tollgate\.attestation is not a known field/);
    const esc = await main.fetch('escape.bin');
    denied(esc, main, /^gate\.evidence$/);
    assert.match(check(esc, 'gate.evidence').reason, /tollgate\.sboms\[0\].*escapes/);
    const ghost = await main.fetch('ghost.bin');
    denied(ghost, main, /^tuf\.evidence\.vex\[0\]$/);
    assert.match(check(ghost, 'tuf.evidence.vex[0]').reason, /no trusted targets metadata lists it/);
  });

  test('deny: an oversized policy target is refused from its listed length, before a byte is downloaded', async () => {
    const r = await main.fetch('app.bin', { policyTarget: 'tollgate/huge-policy.json' });
    denied(r, main, /^tuf\.policy$/);
    assert.match(check(r, 'tuf.policy').reason, /more than the 4194304-byte limit/);
    const rels = g.repo.targetRels('tollgate/huge-policy.json');
    assert.ok(rels.length > 0);
    assert.equal(rels.reduce((n, rel) => n + server.count(rel), 0), 0, 'never requested');
  });

  test('a network failure while fetching evidence is an environment error; staging is removed, nothing installed', async () => {
    server.misbehave(/app\.bin\.cdx\.json$/, { kind: 'status', status: 503 });
    try {
      await assert.rejects(main.fetch('app.bin'), (e) => e instanceof TufError && e.errorClass === 'environment');
    } finally {
      server.clear();
    }
    assert.deepEqual(readdirSync(main.out), []);
  });

  test('an offline bundle carries the evidence and the policy: same verification, same allow', async () => {
    const pub = join(work, 'pub');
    g.repo.publish(pub);
    const file = join(work, 'gate-bundle.tar');
    await createBundle(pub, ['app.bin*', 'tollgate/policy.json', 'tollgate/osv.json'], file);
    const before = server.log.length;
    const r = await main.fetch('app.bin', { bundle: file });
    assert.equal(r.decision, 'allow', JSON.stringify(r.checks, null, 1));
    assert.equal(r.update.source, 'bundle');
    assert.equal(server.log.length, before, 'nothing fetched from the network');
    rmSync(r.path!);
  });

  test('a target without evidence under the policy is verified too, and denied for lacking provenance', async () => {
    const r = await main.fetch('plain.txt');
    denied(r, main, /^slsa\.provenance$/);
    assert.equal(check(r, 'gate.evidence').status, 'not-applicable');
  });

  test('a target nobody lists is a TUF error, not a verification', async () => {
    await assert.rejects(main.fetch('nope.bin'), (e) => e instanceof TufError && e.code === 'TUF_TARGET_NOT_FOUND');
    assert.deepEqual(readdirSync(main.out), []);
  });

  test('a missing output directory is created for an allow and removed again after a deny', async () => {
    const deep = join(main.out, 'a', 'b', 'evil.bin');
    const r = await main.fetch('evil.bin', { out: deep });
    assert.equal(r.decision, 'deny');
    assert.equal(existsSync(join(main.out, 'a')), false);
    const ok = await main.fetch('app.bin', { out: join(main.out, 'a', 'b', 'app.bin') });
    assert.equal(ok.decision, 'allow');
    assert.deepEqual(readFileSync(join(main.out, 'a', 'b', 'app.bin')), APP);
    rmSync(join(main.out, 'a'), { recursive: true });
  });

  test('without a policy: evidence is denied, a plain target is fetched by TUF alone and says so', async () => {
    const d = await device(bare, bareServer);
    const r = await d.fetch('app.bin');
    denied(r, d, /^gate\.policy$/);
    assert.match(check(r, 'gate.policy').reason, /no policy is configured/);
    const p = await d.fetch('plain.txt');
    assert.equal(p.decision, 'unverified');
    assert.equal(p.verified, false);
    assert.equal(p.note, NOT_VERIFIED_NOTE);
    assert.equal(readFileSync(p.path!, 'utf8'), 'no evidence here');
    assert.deepEqual(p.checks, []);
  });
});

describe('custom.tollgate parsing (hostile input)', () => {
  const parse = (custom: unknown) => parseEvidenceSpec(custom, 'app.bin');
  const bad = (custom: unknown, path: RegExp) => assert.throws(() => parse(custom), (e) => e instanceof EvidenceSpecError && path.test(e.path), `expected an error at ${path}`);

  test('absent means no evidence; a present object, even empty, means verification', () => {
    assert.equal(parse({}), undefined);
    assert.equal(parse(null), undefined);
    assert.equal(parse([1, 2]), undefined);
    assert.equal(parse({ other: 1 }), undefined);
    assert.deepEqual(parse({ tollgate: {} }), { attestations: [], bundles: [], sboms: [], vex: [] });
    assert.deepEqual(parse({ tollgate: { attestations: ['a.json'], bundles: ['b.json'], sboms: ['s.json'], vex: ['v.json'], osv: 'db/osv.json', trustedRoot: 'tr.json' } }), {
      attestations: ['a.json'], bundles: ['b.json'], sboms: ['s.json'], vex: ['v.json'], osv: 'db/osv.json', trustedRoot: 'tr.json',
    });
  });

  test('malformed, escaping, duplicated, self-referencing and oversized lists are refused with the path', () => {
    bad({ tollgate: 'yes' }, /^tollgate$/);
    bad({ tollgate: [] }, /^tollgate$/);
    bad({ tollgate: { sbom: ['x'] } }, /^tollgate\.sbom$/);
    bad({ tollgate: { sboms: 'x.json' } }, /^tollgate\.sboms$/);
    bad({ tollgate: { sboms: [42] } }, /^tollgate\.sboms\[0\]$/);
    bad({ tollgate: { sboms: ['ok.json', '/etc/passwd'] } }, /^tollgate\.sboms\[1\]$/);
    bad({ tollgate: { sboms: ['a/../../b'] } }, /^tollgate\.sboms\[0\]$/);
    bad({ tollgate: { sboms: ['%2e%2e/x'] } }, /^tollgate\.sboms\[0\]$/);
    bad({ tollgate: { sboms: ['x\u0000y'] } }, /^tollgate\.sboms\[0\]$/);
    bad({ tollgate: { sboms: [''] } }, /^tollgate\.sboms\[0\]$/);
    bad({ tollgate: { sboms: ['x'.repeat(5000)] } }, /^tollgate\.sboms\[0\]$/);
    bad({ tollgate: { attestations: ['a.json'], sboms: ['a.json'] } }, /^tollgate\.sboms\[0\]$/);
    bad({ tollgate: { attestations: ['app.bin'] } }, /^tollgate\.attestations\[0\]$/);
    bad({ tollgate: { osv: ['x'] } }, /^tollgate\.osv$/);
    bad({ tollgate: { trustedRoot: '../tr.json' } }, /^tollgate\.trustedRoot$/);
    bad({ tollgate: { attestations: Array.from({ length: MAX_EVIDENCE_TARGETS + 1 }, (_, i) => `a${i}.json`) } }, new RegExp(`^tollgate\\.attestations\\[${MAX_EVIDENCE_TARGETS}\\]$`));
    const deep: Record<string, unknown> = {};
    let cur = deep;
    for (let i = 0; i < 10_000; i++) { cur.x = {}; cur = cur.x as Record<string, unknown>; }
    bad({ tollgate: { vex: deep } }, /^tollgate\.vex$/);
  });

  test('gate.json: written by init, read back; corrupted or hostile files are typed errors', () => {
    const dir = mkdtempSync(join(work, 'cfg-'));
    const none = { layout: 1, policyTarget: null, osvTarget: null, trustedRootTarget: null };
    assert.deepEqual(readGateConfig(dir), none, 'no state at all: defaults (the TUF layer then says "run init")');
    writeGateConfig(dir, { ...none, layout: 1, policyTarget: 'tollgate/p.json', osvTarget: 'db/osv.json' });
    assert.deepEqual(readGateConfig(dir), { ...none, policyTarget: 'tollgate/p.json', osvTarget: 'db/osv.json' });
    writeFileSync(join(dir, 'gate.json'), '{"layout":1,"policyTarget":null}');
    assert.deepEqual(readGateConfig(dir), none, 'a gate.json from before the OSV/trusted-root options');
    for (const text of ['{', '[]', '{"layout":2,"policyTarget":null}', '{"layout":1,"policyTarget":5}', '{"layout":1,"policyTarget":"../p"}', '{"layout":1,"policyTarget":null,"x":1}',
      '{"layout":1}', '{"layout":1,"policyTarget":null,"osvTarget":"/etc/osv.json"}', '{"layout":1,"policyTarget":null,"trustedRootTarget":7}']) {
      writeFileSync(join(dir, 'gate.json'), text);
      assert.throws(() => readGateConfig(dir), (e) => e instanceof Error && (e as { code?: string }).code === 'GATE_CONFIG', text);
    }
  });
});

// ------------------------------------------------------------------------------------ CLI

interface Run { code: number | null; stdout: string; stderr: string; json: any }

// Async spawn: the loopback servers live in this process and must keep answering.
function spawnRun(argv: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { cwd, env: { PATH: '/usr/bin:/bin', TOLLGATE_TPM: sw.uri } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code) => {
      let json: unknown;
      try { json = JSON.parse(stdout); } catch { /* text */ }
      resolve({ code, stdout, stderr, json });
    });
  });
}

describe('tollgate fetch through node agent/main.ts', () => {
  let dir: string;
  const tg = (args: string[]) => spawnRun([process.execPath, join(ROOT, 'agent', 'main.ts'), ...args], dir);
  before(() => {
    dir = mkdtempSync(join(work, 'cli-'));
    writeFileSync(join(dir, 'root.json'), g.repo.rootBytes());
    writeFileSync(join(dir, 'bare-root.json'), bare.repo.rootBytes());
  });

  test('allow with --json and --vsa-out; deny with exit 1 and POLICY_DENY; --help says verification always runs', async () => {
    const nv = `0x${(0x01500020 + 0x40 * devices++).toString(16)}`;
    assert.equal((await tg(['init', '--repo', server.url, '--root', 'root.json', '--state', 'st', '--policy-target', '../p.json'])).code, 2);
    const init = await tg(['init', '--repo', server.url, '--root', 'root.json', '--state', 'st', '--nv-index', nv, '--json']);
    assert.equal(init.code, 0, init.stderr + init.stdout);
    assert.equal(init.json.policyTarget, null);
    assert.equal((await tg(['update', '--state', 'st'])).code, 0);
    const ok = await tg(['fetch', 'app.bin', '--out', 'out/app.bin', '--vsa-out', 'out/app.vsa.json', '--state', 'st', '--json']);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.equal(ok.json.decision, 'allow');
    assert.ok(ok.json.checks.some((c: Check) => c.id === 'slsa.builder-id' && c.status === 'passed'));
    assert.deepEqual(readFileSync(join(dir, 'out', 'app.bin')), APP);
    const vsa = JSON.parse(readFileSync(join(dir, 'out', 'app.vsa.json'), 'utf8'));
    assert.equal(vsa.predicate.verificationResult, 'PASSED');
    assert.equal(vsa.predicateType, 'https://slsa.dev/verification_summary/v1');

    const no = await tg(['fetch', 'vuln.bin', '--out', 'out/vuln.bin', '--vsa-out', 'out/vuln.vsa.json', '--state', 'st', '--json']);
    assert.equal(no.code, 1, no.stderr + no.stdout);
    assert.equal(no.json.decision, 'deny');
    assert.equal(no.json.error.code, 'POLICY_DENY');
    assert.ok(no.json.error.details.failed.some((c: Check) => c.id.startsWith('vuln.')));
    assert.equal(existsSync(join(dir, 'out', 'vuln.bin')), false);
    assert.equal(JSON.parse(readFileSync(join(dir, 'out', 'vuln.vsa.json'), 'utf8')).predicate.verificationResult, 'FAILED');

    const text = await tg(['fetch', 'gpl.bin', '--out', 'out/gpl.bin', '--state', 'st']);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^FAIL {2}sbom\.license: .*GPL-3\.0-only/m);
    assert.match(text.stdout, /DENY: 1 check\(s\) failed; nothing was installed/);
    assert.match(text.stderr, /POLICY_DENY/);
    assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['app.bin', 'app.vsa.json', 'vuln.vsa.json']);

    const help = await tg(['fetch', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout + help.stderr, /Verification runs whenever/);
    assert.match(help.stdout + help.stderr, /cannot\s+be skipped/);
    assert.match(help.stdout + help.stderr, /--vsa-out/);

    // --policy-target at init makes the policy mandatory.
    const strict = await tg(['init', '--repo', server.url, '--root', 'root.json', '--state', 'st', '--nv-index', nv, '--policy-target', 'tollgate/strict.json', '--json']);
    assert.equal(strict.code, 0, strict.stderr + strict.stdout);
    const missing = await tg(['fetch', 'app.bin', '--out', 'out/app2.bin', '--state', 'st', '--json']);
    assert.equal(missing.code, 1);
    assert.ok(missing.json.checks.some((c: Check) => c.id === 'gate.policy' && c.status === 'failed' && /strict\.json/.test(c.reason)));
    assert.equal(existsSync(join(dir, 'out', 'app2.bin')), false);
  });

  test('no policy and no evidence: a plain TUF fetch that says it was not verified beyond TUF', async () => {
    const nv = `0x${(0x01500020 + 0x40 * devices++).toString(16)}`;
    assert.equal((await tg(['init', '--repo', bareServer.url, '--root', 'bare-root.json', '--state', 'bare', '--nv-index', nv])).code, 0);
    const r = await tg(['fetch', 'plain.txt', '--out', 'bare-out/plain.txt', '--state', 'bare']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /downloaded: plain\.txt → .*plain\.txt/);
    assert.match(r.stdout, /no policy configured: not verified beyond TUF/);
    const j = await tg(['fetch', 'plain.txt', '--out', 'bare-out/plain.txt', '--state', 'bare', '--json']);
    assert.equal(j.json.verified, false);
    assert.equal(j.json.cached, true);
  });
});

describe('tollgate fetch through dist/tollgate', () => {
  test('the single binary allows app.bin and denies evil.bin', async () => {
    const DIST = join(ROOT, 'dist', 'tollgate');
    assert.ok(existsSync(DIST), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-gatebin-'));
    try {
      const bin = join(dir, 'tollgate');
      copyFileSync(DIST, bin);
      chmodSync(bin, 0o755);
      writeFileSync(join(dir, 'root.json'), g.repo.rootBytes());
      const run = (args: string[]) => spawnRun([bin, ...args], dir);
      const nv = `0x${(0x01500020 + 0x40 * devices++).toString(16)}`;
      const init = await run(['init', '--repo', server.url, '--root', 'root.json', '--state', 'st', '--nv-index', nv]);
      assert.equal(init.code, 0, init.stderr + init.stdout);
      const ok = await run(['fetch', 'app.bin', '--out', 'out/app.bin', '--state', 'st', '--json']);
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      assert.equal(ok.json.decision, 'allow');
      assert.deepEqual(readFileSync(join(dir, 'out', 'app.bin')), APP);
      const no = await run(['fetch', 'evil.bin', '--out', 'out/evil.bin', '--state', 'st', '--json']);
      assert.equal(no.code, 1, no.stderr + no.stdout);
      assert.equal(no.json.error.code, 'POLICY_DENY');
      assert.ok(no.json.checks.some((c: Check) => c.id === 'slsa.builder-id' && c.status === 'failed'));
      assert.deepEqual(readdirSync(join(dir, 'out')), ['app.bin']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
