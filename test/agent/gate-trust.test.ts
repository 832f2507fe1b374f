// Who decides what (README): the policy, the OSV database and the Sigstore trusted root that judge
// a target are the operator's (gate.json, set at init) or the top-level targets role's — never a
// delegated role's, and never the target's own. Real parts: a swtpm, loopback TUF repositories
// with delegations built by the fixture builder, Sigstore bundles made by two local Fulcio-like
// testbeds (the operator's, and one a delegated publisher made itself), and dist/tollgate.
// Also: fetch fails closed when gate.json is missing, and a policy that requires nothing does not
// verify anything.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTPM, type TPM } from '../../hardware/index.ts';
import { deviceTPM, initDevice, type DeviceTPM } from '../../tuf/index.ts';
import type { Check } from '../../attest/index.ts';
import { gateFetch, type GateResult } from '../../agent/gate.ts';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { startTufServer, type TufServer } from '../fixtures/tuf/index.ts';
import { gateRepo, type GateRepo } from '../fixtures/gate/index.ts';
import { GITHUB_ISSUER, SigstoreTestbed, WORKFLOW } from '../fixtures/attest/sigstore.ts';
import { FAST } from '../tuf/device-helpers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let sw: Swtpm;
let work: string;
let devices = 0;
const nextBase = () => 0x01500020 + 0x40 * devices++;

// The operator's Sigstore trust chain, and one a delegated publisher made itself.
const operatorSigstore = new SigstoreTestbed();
const selfMade = new SigstoreTestbed();
const IDENTITY_POLICY = { version: 1, signatures: { identities: [{ issuer: GITHUB_ISSUER, subject: WORKFLOW }] } };

// trust: the top-level role lists the policies, the OSV database and the trusted root; the
// delegated role 'team' (team/*) lists releases whose custom metadata tries to choose their own.
let trust: GateRepo;
let trustServer: TufServer;
// shadow: the top-level role lists the policy but no OSV database; the delegated role 'ops' lists
// tollgate/osv.json (an empty one) and a permissive policy of its own.
let shadow: GateRepo;
let shadowServer: TufServer;

before(async () => {
  sw = await startSwtpm({ ek: false });
  work = mkdtempSync(join(tmpdir(), 'tg-gate-trust-'));

  trust = await gateRepo();
  const r = trust.repo;
  r.addTarget('tollgate/trusted_root.json', JSON.stringify(operatorSigstore.trustedRoot()));
  r.addTarget('tollgate/identity-policy.json', JSON.stringify(IDENTITY_POLICY));
  r.addTarget('tollgate/empty-policy.json', '{"version":1}');
  r.addTarget('plain.txt', 'no evidence here');
  r.delegate('targets', 'team', { paths: ['team/*'] });
  // A critical lodash, and an empty OSV database of the release's own choosing.
  await trust.addArtifact('team/vuln.bin', 'old lodash inside', { lodash: '4.17.20', role: 'team', tollgate: { osv: 'team/osv.json' } });
  r.addTarget('team/osv.json', '[]', { role: 'team' });
  // The policy's identity, certified by a self-made Fulcio the release names as its trusted root.
  const forged = Buffer.from('signed under a self-made Fulcio');
  const forgedLeaf = selfMade.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER });
  r.addTarget('team/forged.bin.sigstore.json', JSON.stringify(selfMade.bundle({ version: '0.3', content: { artifact: forged }, signer: { leaf: forgedLeaf } })), { role: 'team' });
  r.addTarget('team/trusted_root.json', JSON.stringify(selfMade.trustedRoot()), { role: 'team' });
  r.addTarget('team/forged.bin', forged, { role: 'team', custom: { tollgate: { bundles: ['team/forged.bin.sigstore.json'], trustedRoot: 'team/trusted_root.json' } } });
  // A delegated release may still name its own bundles: judged by the operator's trusted root.
  const signed = Buffer.from('signed under the operator\'s Fulcio');
  const leaf = operatorSigstore.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER });
  r.addTarget('team/signed.bin.sigstore.json', JSON.stringify(operatorSigstore.bundle({ version: '0.3', content: { artifact: signed }, signer: { leaf } })), { role: 'team' });
  r.addTarget('team/signed.bin', signed, { role: 'team', custom: { tollgate: { bundles: ['team/signed.bin.sigstore.json'] } } });
  // A top-level release may choose its OSV database (the top-level role decides trust inputs).
  await trust.addArtifact('top-own-osv.bin', 'old lodash, top-level', { lodash: '4.17.20', tollgate: { osv: 'tollgate/empty-osv.json' } });
  r.addTarget('tollgate/empty-osv.json', '[]');
  r.commit();
  trustServer = await startTufServer(r);

  shadow = await gateRepo({ osv: false });
  shadow.repo.delegate('targets', 'ops', { paths: ['tollgate/osv.json', 'ops/*'] });
  shadow.repo.addTarget('tollgate/osv.json', '[]', { role: 'ops' });
  shadow.repo.addTarget('ops/policy.json', '{"version":1,"sbom":{"required":false}}', { role: 'ops' });
  await shadow.addArtifact('vuln.bin', 'old lodash inside', { lodash: '4.17.20' });
  shadow.repo.addTarget('plain.txt', 'no evidence here');
  shadow.repo.commit();
  shadowServer = await startTufServer(shadow.repo);
});

after(async () => {
  await trustServer?.close();
  await shadowServer?.close();
  await sw?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const failedIds = (r: GateResult | { checks: Check[] }) => r.checks.filter((c) => c.status === 'failed').map((c) => c.id);
const check = (r: { checks: Check[] }, id: string): Check => {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id} in ${JSON.stringify(r.checks.map((x) => x.id))}`);
  return c;
};

describe('gateFetch: who decides what (library, real swtpm, loopback repositories with delegations)', () => {
  let tpm: TPM;
  let dev: DeviceTPM;
  before(async () => {
    tpm = await openTPM(sw.uri);
    dev = deviceTPM(tpm);
  });
  after(async () => { await tpm.close(); });

  async function device(repo: GateRepo, srv: TufServer, cfg: { policyTarget?: string; osvTarget?: string; trustedRootTarget?: string } = {}) {
    const d = join(work, `dev${devices}`);
    const state = join(d, 'state', 'tuf');
    const out = join(d, 'out');
    await initDevice({ stateDir: state, tpm: dev, repo: srv.url, rootBytes: repo.repo.rootBytes(), anchorHandle: nextBase() });
    mkdirSync(out, { recursive: true });
    return {
      out,
      fetch: (target: string) => gateFetch({ stateDir: state, tpm: dev, target, out: join(out, target), limits: FAST, ...cfg }),
    };
  }
  const denied = (r: GateResult, out: string) => {
    assert.equal(r.decision, 'deny', JSON.stringify(r.checks, null, 1));
    assert.equal(r.path, undefined);
    assert.deepEqual(readdirSync(out), [], 'nothing installed');
  };

  test('a delegated release naming its own (empty) OSV database: refused, and the repository\'s database still finds the CVE', async () => {
    const d = await device(trust, trustServer);
    const r = await d.fetch('team/vuln.bin');
    denied(r, d.out);
    assert.equal(r.role, 'team');
    assert.match(check(r, 'gate.trust-inputs.osv').reason, /listed by the delegated role team.*custom\.tollgate\.osv names team\/osv\.json/);
    const vuln = r.checks.find((c) => c.id.startsWith('vuln.GHSA') && c.status === 'failed');
    assert.ok(vuln, `the CVE is found with tollgate/osv.json: ${JSON.stringify(r.checks, null, 1)}`);
    assert.match(vuln.reason, /lodash/);
    assert.deepEqual(r.evidence.filter((e) => e.kind === 'osv').map((e) => [e.target, e.role]), [['tollgate/osv.json', 'targets']]);
    const requested = (path: string) => trust.repo.targetRels(path).reduce((n, rel) => n + trustServer.count(rel), 0);
    assert.equal(requested('team/osv.json'), 0, 'the refused database is never even downloaded');
  });

  test('a delegated release naming a self-made Fulcio root: refused; the identity policy is judged with the operator\'s root and fails', async () => {
    const d = await device(trust, trustServer, { policyTarget: 'tollgate/identity-policy.json' });
    const r = await d.fetch('team/forged.bin');
    denied(r, d.out);
    assert.match(check(r, 'gate.trust-inputs.trustedRoot').reason, /delegated role team.*team\/trusted_root\.json/);
    assert.equal(check(r, 'sigstore.bundle[0]').status, 'failed', 'the self-made certificate does not chain to the operator\'s root');
    assert.equal(check(r, 'signatures.threshold').status, 'failed');
    assert.deepEqual(r.evidence.filter((e) => e.kind === 'trustedRoot').map((e) => e.target), ['tollgate/trusted_root.json']);
    // A delegated release may name its own bundles; they are judged by the operator's trust inputs.
    const ok = await d.fetch('team/signed.bin');
    assert.equal(ok.decision, 'allow', JSON.stringify(ok.checks, null, 1));
    assert.equal(check(ok, 'sigstore.bundle[0]').status, 'passed');
    assert.match(check(ok, 'verify.authenticated').reason, /trusted signature/);
    rmSync(ok.path!);
  });

  test('the top-level role may choose a release\'s OSV database, but not over the operator\'s choice at init', async () => {
    const d = await device(trust, trustServer);
    const own = await d.fetch('top-own-osv.bin');
    assert.equal(own.decision, 'allow', 'the top-level role chose the (empty) database for its own release');
    assert.deepEqual(own.evidence.filter((e) => e.kind === 'osv').map((e) => e.target), ['tollgate/empty-osv.json']);
    rmSync(own.path!);
    const op = await device(trust, trustServer, { osvTarget: 'tollgate/osv.json' });
    const r = await op.fetch('top-own-osv.bin');
    denied(r, op.out);
    assert.match(check(r, 'gate.trust-inputs.osv').reason, /the operator named tollgate\/osv\.json at init/);
    assert.ok(failedIds(r).some((id) => id.startsWith('vuln.GHSA')), 'the operator\'s database finds the CVE');
  });

  test('a default OSV database or a named policy listed only by a delegated role is not used', async () => {
    const d = await device(shadow, shadowServer);
    const r = await d.fetch('vuln.bin');
    denied(r, d.out);
    assert.match(check(r, 'tuf.osv').reason, /tollgate\/osv\.json .* is listed by the delegated role ops, not by the top-level targets role/);
    const p = await device(shadow, shadowServer, { policyTarget: 'ops/policy.json' });
    const plain = await p.fetch('plain.txt');
    denied(plain, p.out);
    assert.match(check(plain, 'gate.policy').reason, /ops\/policy\.json is listed by the delegated role ops/);
  });

  test('a policy that requires nothing verifies nothing: deny, never "verified"', async () => {
    const d = await device(trust, trustServer, { policyTarget: 'tollgate/empty-policy.json' });
    const r = await d.fetch('plain.txt');
    denied(r, d.out);
    assert.match(check(r, 'verify.nothing-checked').reason, /tollgate\/empty-policy\.json requires nothing/);
    assert.equal(check(r, 'verify.authenticated').status, 'passed', 'TUF authenticated the bytes; the policy asked for nothing more');
  });
});

// ------------------------------------------------------------------------------------ dist/tollgate

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

describe('who decides what, through dist/tollgate', () => {
  let dir: string;
  let run: (args: string[]) => Promise<Run>;
  before(() => {
    const DIST = join(ROOT, 'dist', 'tollgate');
    assert.ok(existsSync(DIST), 'dist/tollgate is missing: run `npm run build` (npm test does it first)');
    dir = mkdtempSync(join(work, 'bin-'));
    const bin = join(dir, 'tollgate');
    copyFileSync(DIST, bin);
    chmodSync(bin, 0o755);
    writeFileSync(join(dir, 'root.json'), trust.repo.rootBytes());
    run = (args) => spawnRun([bin, ...args], dir);
  });
  const init = async (state: string, extra: string[] = []) => {
    const r = await run(['init', '--repo', trustServer.url, '--root', 'root.json', '--state', state, '--nv-index', `0x${nextBase().toString(16)}`, '--json', ...extra]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    return r;
  };

  test('a delegated release cannot choose its OSV database or its trusted root', async () => {
    const i = await init('st-osv');
    const v = await run(['fetch', 'team/vuln.bin', '--out', 'out/vuln.bin', '--state', 'st-osv', '--json']);
    assert.equal(v.code, 1, v.stderr + v.stdout);
    assert.equal(v.json.error.code, 'POLICY_DENY');
    assert.ok(failedIds(v.json).includes('gate.trust-inputs.osv'), JSON.stringify(v.json.checks, null, 1));
    assert.ok(failedIds(v.json).some((id) => id.startsWith('vuln.GHSA')), 'the CVE is still found');
    assert.equal(existsSync(join(dir, 'out', 'vuln.bin')), false);
    assert.deepEqual([i.json.policyTarget, i.json.osvTarget, i.json.trustedRootTarget], [null, null, null]);

    await init('st-id', ['--policy-target', 'tollgate/identity-policy.json', '--trusted-root-target', 'tollgate/trusted_root.json']);
    const f = await run(['fetch', 'team/forged.bin', '--out', 'out/forged.bin', '--state', 'st-id']);
    assert.equal(f.code, 1, f.stderr + f.stdout);
    assert.match(f.stdout, /^FAIL {2}gate\.trust-inputs\.trustedRoot: .*delegated role team/m);
    assert.match(f.stdout, /^FAIL {2}sigstore\.bundle\[0\]: /m);
    assert.match(f.stdout, /^FAIL {2}signatures\.threshold: /m);
    assert.equal(existsSync(join(dir, 'out', 'forged.bin')), false);
    const ok = await run(['fetch', 'team/signed.bin', '--out', 'out/signed.bin', '--state', 'st-id']);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, /ALLOW: installed team\/signed\.bin/);
  });

  test('a policy of only {"version":1} does not print "verified" or ALLOW', async () => {
    await init('st-empty', ['--policy-target', 'tollgate/empty-policy.json']);
    const r = await run(['fetch', 'plain.txt', '--out', 'out/plain.txt', '--state', 'st-empty']);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.doesNotMatch(r.stdout, /ALLOW|verified beyond/);
    assert.match(r.stdout, /^FAIL {2}verify\.nothing-checked: the policy tollgate\/empty-policy\.json requires nothing/m);
    assert.equal(existsSync(join(dir, 'out', 'plain.txt')), false);
  });

  test('fetch refuses (GATE_CONFIG, exit 2) when gate.json is gone but the TUF state exists', async () => {
    // A mandatory policy the repository does not list: every fetch is denied…
    await init('st-gone', ['--policy-target', 'tollgate/strict.json']);
    const before = await run(['fetch', 'team/signed.bin', '--out', 'out/g.bin', '--state', 'st-gone', '--json']);
    assert.equal(before.code, 1, before.stderr + before.stdout);
    // …and deleting gate.json must not turn that into the repository's default policy, or no policy.
    rmSync(join(dir, 'st-gone', 'gate.json'));
    const gone = await run(['fetch', 'team/signed.bin', '--out', 'out/g.bin', '--state', 'st-gone']);
    assert.equal(gone.code, 2, gone.stderr + gone.stdout);
    assert.match(gone.stderr, /GATE_CONFIG: .*gate\.json is missing although the TUF state .* exists.*run `tollgate init` again/);
    const j = await run(['fetch', 'plain.txt', '--out', 'out/g.txt', '--state', 'st-gone', '--json']);
    assert.equal(j.code, 2);
    assert.equal(j.json.error.code, 'GATE_CONFIG');
    assert.equal(existsSync(join(dir, 'out', 'g.bin')) || existsSync(join(dir, 'out', 'g.txt')), false);
    // Re-running init restores it; hostile names for the new options are usage errors.
    await init('st-gone', ['--policy-target', 'tollgate/strict.json']);
    assert.equal((await run(['fetch', 'plain.txt', '--out', 'out/g.txt', '--state', 'st-gone'])).code, 1);
    for (const bad of [['--osv-target', '../osv.json'], ['--trusted-root-target', '/etc/tr.json']]) {
      const r = await run(['init', '--repo', trustServer.url, '--root', 'root.json', '--state', 'st-bad', ...bad]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`GATE_CONFIG: ${bad[0]} .* is not a TUF target path`));
    }
    assert.equal(existsSync(join(dir, 'st-bad')), false, 'a refused init writes nothing');
  });
});
