// The binary's own SBOM (CycloneDX 1.6 JSON): every npm package that contributed bytes to the
// bundle (from esbuild's metafile), with version, purl, licence and the package-lock integrity
// hash, plus the Node runtime the bundle is injected into.
import type { Metafile } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BundledPackage {
  name: string;
  version: string;
  /** Path of the package directory relative to the project root (the package-lock key). */
  dir: string;
  license?: string;
  integrity?: string;
  bytesInOutput: number;
}

interface LockEntry { version?: string; integrity?: string; resolved?: string; license?: string; dependencies?: Record<string, string> }
interface Lock { packages: Record<string, LockEntry> }

/** The package directory an input path belongs to (innermost node_modules), or undefined for our own files. */
export function packageDirOf(input: string): string | undefined {
  const parts = input.split('/');
  const i = parts.lastIndexOf('node_modules');
  if (i < 0 || i + 1 >= parts.length) return undefined;
  const nameLen = parts[i + 1]!.startsWith('@') ? 2 : 1;
  return parts.slice(0, i + 1 + nameLen).join('/');
}

export function bundledPackages(metafile: Metafile, root: string, lock: Lock): BundledPackage[] {
  const bytes = new Map<string, number>();
  for (const out of Object.values(metafile.outputs)) {
    for (const [input, info] of Object.entries(out.inputs)) {
      const dir = packageDirOf(input);
      if (dir && info.bytesInOutput > 0) bytes.set(dir, (bytes.get(dir) ?? 0) + info.bytesInOutput);
    }
  }
  const out: BundledPackage[] = [];
  for (const [dir, n] of bytes) {
    const pj = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string | { type?: string } };
    const lic = typeof pj.license === 'string' ? pj.license : pj.license?.type;
    const entry = lock.packages[dir];
    out.push({
      name: pj.name, version: pj.version, dir, bytesInOutput: n,
      ...(lic ?? entry?.license ? { license: lic ?? entry?.license } : {}),
      ...(entry?.integrity ? { integrity: entry.integrity } : {}),
    });
  }
  return out.sort((a, b) => (a.name === b.name ? a.dir.localeCompare(b.dir) : a.name.localeCompare(b.name)));
}

export function npmPurl(name: string, version: string): string {
  const n = name.startsWith('@') ? '%40' + name.slice(1) : name;
  return `pkg:npm/${n}@${encodeURIComponent(version)}`;
}

function licenses(expr: string | undefined): Array<Record<string, unknown>> | undefined {
  if (!expr) return undefined;
  // A single identifier is a `license.id`; anything compound is an SPDX expression.
  return /^[A-Za-z0-9.+-]+$/.test(expr) ? [{ license: { id: expr } }] : [{ expression: expr }];
}

function integrityHash(integrity: string | undefined): Array<{ alg: string; content: string }> | undefined {
  const m = integrity?.match(/^sha(512|384|256)-([A-Za-z0-9+/=]+)$/);
  if (!m) return undefined;
  return [{ alg: `SHA-${m[1]}`, content: Buffer.from(m[2]!, 'base64').toString('hex') }];
}

/** The bundled packages a package (by lock dir) depends on, resolved the way Node resolves them. */
function dependsOn(dir: string, lock: Lock, bundled: Map<string, BundledPackage>): string[] {
  const deps = Object.keys(lock.packages[dir]?.dependencies ?? {});
  const out: string[] = [];
  for (const dep of deps) {
    // Walk up from the package's own node_modules to the top.
    let base = dir;
    for (;;) {
      const candidate = `${base ? base + '/' : ''}node_modules/${dep}`;
      if (lock.packages[candidate]) {
        const p = bundled.get(candidate);
        if (p) out.push(npmPurl(p.name, p.version));
        break;
      }
      if (!base) break;
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  }
  return [...new Set(out)].sort();
}

export interface SbomInput {
  metafile: Metafile;
  root: string;
  version: string;
  binarySha256: string;
  node: { version: string; sha256: string; stripped: boolean };
  timestamp: string;
  serial: string;
}

export function makeSbom(i: SbomInput): Record<string, unknown> {
  const lock = JSON.parse(readFileSync(join(i.root, 'package-lock.json'), 'utf8')) as Lock;
  const pkgs = bundledPackages(i.metafile, i.root, lock);
  const byDir = new Map(pkgs.map((p) => [p.dir, p]));
  const rootRef = `pkg:generic/tollgate@${i.version}`;
  const nodeRef = `pkg:generic/node@${i.node.version}`;
  const components = [
    {
      type: 'platform', 'bom-ref': nodeRef, name: 'node', version: i.node.version, purl: nodeRef,
      description: 'Node.js runtime the bundle is injected into (single executable application)',
      licenses: [{ license: { id: 'MIT' } }],
      hashes: [{ alg: 'SHA-256', content: i.node.sha256 }],
      properties: [{ name: 'tollgate:stripped', value: String(i.node.stripped) }],
    },
    ...pkgs.map((p) => {
      const purl = npmPurl(p.name, p.version);
      const lic = licenses(p.license);
      const hashes = integrityHash(p.integrity);
      return {
        type: 'library', 'bom-ref': purl, name: p.name, version: p.version, purl,
        ...(lic ? { licenses: lic } : {}),
        ...(hashes ? { hashes } : {}),
        properties: [{ name: 'tollgate:bytesInBundle', value: String(p.bytesInOutput) }],
      };
    }),
  ];
  // One component per purl: the same version installed twice is one component.
  const seen = new Set<string>();
  const unique = components.filter((c) => (seen.has(c['bom-ref']) ? false : (seen.add(c['bom-ref']), true)));
  const pj = JSON.parse(readFileSync(join(i.root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const direct = Object.keys(pj.dependencies ?? {}).map((n) => byDir.get(`node_modules/${n}`)).filter((p) => p !== undefined);
  const dependencies = [
    { ref: rootRef, dependsOn: [nodeRef, ...direct.map((p) => npmPurl(p.name, p.version))].sort() },
    ...pkgs.map((p) => ({ ref: npmPurl(p.name, p.version), dependsOn: dependsOn(p.dir, lock, byDir) })),
  ].filter((d, idx, all) => all.findIndex((x) => x.ref === d.ref) === idx);
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: i.serial,
    version: 1,
    metadata: {
      timestamp: i.timestamp,
      tools: { components: [{ type: 'application', name: 'tollgate-build', version: i.version }] },
      component: {
        type: 'application', 'bom-ref': rootRef, name: 'tollgate', version: i.version, purl: rootRef,
        licenses: [{ license: { id: 'Apache-2.0' } }],
        hashes: [{ alg: 'SHA-256', content: i.binarySha256 }],
      },
    },
    components: unique,
    dependencies,
  };
}

/** A stable urn:uuid (RFC 9562 v8 layout) derived from a hex digest, so the same binary gets the same serial. */
export function uuidFromDigest(hex: string): string {
  const b = Buffer.from(hex.slice(0, 32), 'hex');
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
