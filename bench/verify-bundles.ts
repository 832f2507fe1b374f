// 1,000 Sigstore bundle verifications in one process: tollgate's path (strict parse, hostile-input
// guards, @sigstore/verify, anchored identity policy, digest binding) against bare @sigstore/verify
// (bundleFromJSON + toSignedEntity + Verifier.verify with its own SAN/issuer policy) on the same
// bundles and the same prebuilt trust material. Target: ours ≤ 1.05× the bare library.
import type { BenchResult } from './lib.ts';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, Verifier } from '@sigstore/verify';
import { hashBytes, loadTrustedRoot, parseBundle, verifyBundle } from '../attest/index.ts';
import { GITHUB_ISSUER, SigstoreTestbed, WORKFLOW } from '../test/fixtures/attest/sigstore.ts';


const N = 1000;
const BATCH = 25;

function timeIt(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function one(kind: 'message' | 'dsse'): Promise<BenchResult> {
  const tb = new SigstoreTestbed();
  const artifact = Buffer.from('benchmark artifact '.repeat(64));
  const digests = hashBytes(artifact);
  const leaf = tb.issueLeaf({ san: WORKFLOW, issuer: GITHUB_ISSUER });
  const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'a', digest: { sha256: digests.sha256 } }], predicateType: 'https://example.com/p', predicate: {} };
  const texts = Array.from({ length: 10 }, () => JSON.stringify(tb.bundle({ version: '0.3', content: kind === 'message' ? { artifact } : { statement }, signer: { leaf } })));
  const rootJson = JSON.stringify(tb.trustedRoot());
  const root = loadTrustedRoot(rootJson, 'bench');
  const identities = [{ issuer: GITHUB_ISSUER, subject: WORKFLOW }];

  const ours = (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const r = verifyBundle(parseBundle(texts[i % texts.length]!), { trustedRoot: root, identities, keys: [], artifact: { digests, bytes: artifact } });
      if (!r.ok) throw new Error(r.reason);
    }
  };
  // The peer gets the same prebuilt trust material; its policy is the library's own (unanchored) SAN match.
  const verifier = new Verifier(root.material);
  const peer = (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const b = bundleFromJSON(JSON.parse(texts[i % texts.length]!));
      verifier.verify(toSignedEntity(b, artifact), { subjectAlternativeName: WORKFLOW, extensions: { issuer: GITHUB_ISSUER } });
    }
  };
  ours(0, 20);
  peer(0, 20);
  // The machine is shared: alternate small batches (ABBA) so both sides see the same load.
  let o = 0;
  let p = 0;
  for (let b = 0; b < N / BATCH; b++) {
    const first = b % 2 === 0;
    if (first) o += timeIt(() => ours(b * BATCH, BATCH));
    p += timeIt(() => peer(b * BATCH, BATCH));
    if (!first) o += timeIt(() => ours(b * BATCH, BATCH));
  }
  return { name: `verify ${N} Sigstore bundles (${kind === 'message' ? 'message signature' : 'DSSE'}, v0.3, Rekor v1 + SCT)`, ours: o, peer: p, peerName: '@sigstore/verify 4.x (bare)', unit: 'ms', ratio: o / p, target: 'within 1.05x of bare @sigstore/verify', met: o / p <= 1.05 };
}

export async function run(): Promise<BenchResult[]> {
  return [await one('message'), await one('dsse')];
}

if (import.meta.main) for (const r of await run()) console.log(JSON.stringify(r));
