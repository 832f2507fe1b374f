import type { SBOMComponent, SBOMDocument, SBOMHash } from './model.ts';
import { normalizeHashAlg } from './model.ts';

// CycloneDX 1.4–1.6 JSON (already schema-valid) → SBOMDocument.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function licenses(c: Obj): string[] {
  const entries = arr(c.licenses).filter(isObj);
  // 1.6 acknowledgement: prefer what was concluded over what was declared when both are given.
  const concluded = entries.filter((e) => (isObj(e.license) ? e.license.acknowledgement : e.acknowledgement) === 'concluded');
  const use = concluded.length > 0 ? concluded : entries;
  const out: string[] = [];
  for (const e of use) {
    if (typeof e.expression === 'string') out.push(e.expression);
    else if (isObj(e.license)) {
      const id = str(e.license.id) ?? str(e.license.name);
      if (id !== undefined) out.push(id);
    }
  }
  return out;
}

function hashes(c: Obj): SBOMHash[] {
  return arr(c.hashes)
    .filter(isObj)
    .filter((h) => typeof h.alg === 'string' && typeof h.content === 'string')
    .map((h) => ({ alg: normalizeHashAlg(h.alg as string), value: (h.content as string).toLowerCase() }));
}

function component(c: Obj): SBOMComponent {
  const supplier = isObj(c.supplier) ? str(c.supplier.name) : undefined;
  return {
    name: str(c.group) ? `${c.group as string}/${c.name as string}` : (str(c.name) ?? ''),
    version: str(c.version),
    purl: str(c.purl),
    licenses: licenses(c),
    hashes: hashes(c),
    ref: str(c['bom-ref']),
    supplier: supplier ?? str(c.publisher) ?? str(c.author),
    kind: str(c.type) ?? 'library',
  };
}

function toolNames(tools: unknown): string[] {
  const named = (t: Obj) => [str(t.vendor) ?? str(t.group) ?? str(t.author) ?? str(t.publisher), str(t.name), str(t.version)].filter(Boolean).join(' ');
  if (Array.isArray(tools)) return tools.filter(isObj).map(named).filter((s) => s !== '');
  if (isObj(tools)) return [...arr(tools.components), ...arr(tools.services)].filter(isObj).map(named).filter((s) => s !== '');
  return [];
}

export function normalizeCycloneDX(doc: Obj, specVersion: string, source: string): SBOMDocument {
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  const authors: string[] = [];
  for (const a of arr(meta.authors).filter(isObj)) {
    const n = str(a.name) ?? str(a.email);
    if (n) authors.push(n);
  }
  for (const k of ['manufacturer', 'manufacture', 'supplier']) {
    const o = meta[k];
    if (isObj(o) && str(o.name)) authors.push(o.name as string);
  }
  const described = isObj(meta.component) ? [component(meta.component)] : [];
  const components: SBOMComponent[] = [];
  // Nested components flattened without recursion (depth is bounded earlier, but no need to recurse).
  const stack: unknown[] = [...arr(doc.components)].reverse();
  while (stack.length) {
    const c = stack.pop();
    if (!isObj(c)) continue;
    components.push(component(c));
    const nested = arr(c.components);
    for (let i = nested.length - 1; i >= 0; i--) stack.push(nested[i]);
  }
  return {
    format: 'cyclonedx',
    specVersion,
    id: str(doc.serialNumber),
    name: described[0]?.name,
    timestamp: str(meta.timestamp),
    authors,
    tools: toolNames(meta.tools),
    described,
    components,
    source,
  };
}
