import type { SBOMComponent, SBOMDocument, SBOMHash } from './model.ts';
import { normalizeHashAlg } from './model.ts';

// SPDX 2.3 JSON (already schema-valid) → SBOMDocument. What the document describes comes from
// documentDescribes and from DESCRIBES / DESCRIBED_BY relationships with SPDXRef-DOCUMENT;
// package licence is licenseConcluded unless that is NOASSERTION/absent, then licenseDeclared.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function checksums(o: Obj): SBOMHash[] {
  return arr(o.checksums)
    .filter(isObj)
    .filter((c) => typeof c.algorithm === 'string' && typeof c.checksumValue === 'string')
    .map((c) => ({ alg: normalizeHashAlg(c.algorithm as string), value: (c.checksumValue as string).toLowerCase() }));
}

function purlOf(p: Obj): string | undefined {
  for (const r of arr(p.externalRefs).filter(isObj)) {
    const cat = r.referenceCategory;
    if ((cat === 'PACKAGE-MANAGER' || cat === 'PACKAGE_MANAGER') && r.referenceType === 'purl' && typeof r.referenceLocator === 'string') return r.referenceLocator;
  }
  return undefined;
}

function licenseOf(o: Obj, concluded: string, declared: string): string[] {
  const c = str(o[concluded]);
  const d = str(o[declared]);
  if (c !== undefined && c !== 'NOASSERTION') return [c];
  if (d !== undefined && d !== 'NOASSERTION') return [d];
  return c !== undefined || d !== undefined ? ['NOASSERTION'] : [];
}

function pkg(p: Obj): SBOMComponent {
  return {
    name: str(p.name) ?? '',
    version: str(p.versionInfo),
    purl: purlOf(p),
    licenses: licenseOf(p, 'licenseConcluded', 'licenseDeclared'),
    hashes: checksums(p),
    ref: str(p.SPDXID),
    supplier: str(p.supplier) === 'NOASSERTION' ? undefined : str(p.supplier),
    kind: 'package',
  };
}

function file(f: Obj): SBOMComponent {
  return {
    name: str(f.fileName) ?? '',
    version: undefined,
    purl: undefined,
    licenses: licenseOf(f, 'licenseConcluded', 'licenseConcluded'),
    hashes: checksums(f),
    ref: str(f.SPDXID),
    supplier: undefined,
    kind: 'file',
  };
}

export function normalizeSPDX(doc: Obj, source: string): SBOMDocument {
  const ci = isObj(doc.creationInfo) ? doc.creationInfo : {};
  const creators = arr(ci.creators).filter((x): x is string => typeof x === 'string');
  const tools = creators.filter((c) => /^Tool:/i.test(c)).map((c) => c.replace(/^Tool:\s*/i, ''));
  const authors = creators.filter((c) => /^(Person|Organization):/i.test(c)).map((c) => c.replace(/^(Person|Organization):\s*/i, ''));
  const packages = arr(doc.packages).filter(isObj).map(pkg);
  const files = arr(doc.files).filter(isObj).map(file);
  const byId = new Map<string, SBOMComponent>();
  for (const c of [...packages, ...files]) if (c.ref) byId.set(c.ref, c);
  const docId = str(doc.SPDXID) ?? 'SPDXRef-DOCUMENT';
  const describedIds = new Set<string>(arr(doc.documentDescribes).filter((x): x is string => typeof x === 'string'));
  for (const r of arr(doc.relationships).filter(isObj)) {
    if (r.relationshipType === 'DESCRIBES' && r.spdxElementId === docId && typeof r.relatedSpdxElement === 'string') describedIds.add(r.relatedSpdxElement);
    if (r.relationshipType === 'DESCRIBED_BY' && r.relatedSpdxElement === docId && typeof r.spdxElementId === 'string') describedIds.add(r.spdxElementId);
  }
  const described = [...describedIds].map((id) => byId.get(id)).filter((c): c is SBOMComponent => c !== undefined);
  return {
    format: 'spdx',
    specVersion: '2.3',
    id: str(doc.documentNamespace),
    name: str(doc.name),
    timestamp: str(ci.created),
    authors,
    tools,
    described,
    components: packages.filter((p) => !(p.ref !== undefined && describedIds.has(p.ref))),
    source,
  };
}
