// A minimal in-toto Statement v1 with a SLSA v1 provenance predicate for the binary: the subject
// is dist/tollgate by SHA-256; the materials are the package-lock, the Node binary and our own
// source files that went into the bundle. Unsigned: it records a local build, it does not vouch
// for one.
export interface ProvenanceInput {
  binarySha256: string;
  version: string;
  lockSha256: string;
  node: { version: string; path: string; sha256: string };
  esbuildVersion: string;
  sources: Array<{ path: string; sha256: string }>;
  gitCommit?: string;
  startedOn: string;
  finishedOn: string;
  seaConfig: Record<string, unknown>;
}

export function makeProvenance(i: ProvenanceInput): Record<string, unknown> {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'tollgate', digest: { sha256: i.binarySha256 } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: 'urn:tollgate:build:local-sea:v1',
        externalParameters: { entryPoint: 'agent/main.ts', output: 'dist/tollgate', version: i.version },
        internalParameters: { esbuild: i.esbuildVersion, node: i.node.version, sea: i.seaConfig },
        resolvedDependencies: [
          ...(i.gitCommit ? [{ uri: 'git+file:.', digest: { gitCommit: i.gitCommit } }] : []),
          { uri: 'package-lock.json', digest: { sha256: i.lockSha256 } },
          { uri: `file:${i.node.path}`, name: 'node', digest: { sha256: i.node.sha256 } },
          ...i.sources.map((s) => ({ uri: s.path, digest: { sha256: s.sha256 } })),
        ],
      },
      runDetails: {
        builder: { id: 'local' },
        metadata: { startedOn: i.startedOn, finishedOn: i.finishedOn },
      },
    },
  };
}
