import { AttestError } from '../errors.ts';
import { parsePurl, type PackageURL } from '../sbom/purl.ts';

// OpenVEX documents (v0.2.0, and the v0.0.x string forms of vulnerability/products). A statement
// applies to a finding when its vulnerability name or aliases meet the OSV id or aliases and one of
// its products (or their subcomponents) names the component's purl. Of the statements that apply,
// the most recent (statement timestamp, else document timestamp; later in the file breaks ties)
// decides, as the OpenVEX spec's statement-override rule says.

export type VEXStatus = 'not_affected' | 'affected' | 'fixed' | 'under_investigation';
const STATUSES: readonly VEXStatus[] = ['not_affected', 'affected', 'fixed', 'under_investigation'];
const JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
];

export interface VEXStatement {
  readonly vulnerability: string;
  readonly aliases: readonly string[];
  /** Product and subcomponent purls this statement speaks about. */
  readonly products: readonly PackageURL[];
  readonly status: VEXStatus;
  readonly justification: string | undefined;
  readonly impactStatement: string | undefined;
  readonly timestamp: number;
  /** Position in the document, for reasons and tie-breaking. */
  readonly index: number;
}

export interface OpenVEXDocument {
  readonly id: string;
  readonly author: string;
  readonly timestamp: number;
  readonly source: string;
  readonly statements: readonly VEXStatement[];
}

export class VEXError extends AttestError {
  readonly path: string;
  constructor(source: string, path: string, why: string) {
    super('VEX_INVALID', `OpenVEX document ${source}: ${path} ${why}.`, 'denied', { details: { source, path } });
    this.name = 'VEXError';
    this.path = path;
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function time(source: string, path: string, v: unknown): number {
  if (typeof v !== 'string') throw new VEXError(source, path, 'must be an RFC 3339 timestamp string');
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v) || Number.isNaN(t)) {
    throw new VEXError(source, path, 'must be an RFC 3339 timestamp');
  }
  return t;
}

function productPurls(source: string, path: string, p: unknown, out: PackageURL[]): void {
  const add = (s: unknown, at: string): void => {
    if (typeof s !== 'string') throw new VEXError(source, at, 'must be a string');
    if (!s.toLowerCase().startsWith('pkg:')) return; // image digests, CPEs etc. never name an SBOM component by purl
    try {
      out.push(parsePurl(s));
    } catch (e) {
      throw new VEXError(source, at, `is not a valid purl (${(e as Error).message})`);
    }
  };
  if (typeof p === 'string') return add(p, path);
  if (!isObj(p)) throw new VEXError(source, path, 'must be a product object or string');
  if (p['@id'] !== undefined) add(p['@id'], `${path}["@id"]`);
  if (p.identifiers !== undefined) {
    if (!isObj(p.identifiers)) throw new VEXError(source, `${path}.identifiers`, 'must be an object');
    if (p.identifiers.purl !== undefined) add(p.identifiers.purl, `${path}.identifiers.purl`);
  }
  if (p.subcomponents !== undefined) {
    if (!Array.isArray(p.subcomponents)) throw new VEXError(source, `${path}.subcomponents`, 'must be an array');
    p.subcomponents.forEach((s, i) => productPurls(source, `${path}.subcomponents[${i}]`, s, out));
  }
}

export const MAX_VEX_STATEMENTS = 100_000;

export function parseOpenVEX(value: unknown, source: string): OpenVEXDocument {
  if (!isObj(value)) throw new VEXError(source, '$', 'must be a JSON object');
  const ctx = value['@context'];
  if (typeof ctx !== 'string' || !ctx.startsWith('https://openvex.dev/ns')) throw new VEXError(source, '$["@context"]', 'must be an https://openvex.dev/ns context');
  if (typeof value['@id'] !== 'string' || value['@id'] === '') throw new VEXError(source, '$["@id"]', 'must be a non-empty string');
  if (typeof value.author !== 'string' || value.author === '') throw new VEXError(source, '$.author', 'must be a non-empty string');
  const docTime = time(source, '$.timestamp', value.timestamp);
  if (!Array.isArray(value.statements)) throw new VEXError(source, '$.statements', 'must be an array');
  if (value.statements.length > MAX_VEX_STATEMENTS) throw new VEXError(source, '$.statements', `has more than ${MAX_VEX_STATEMENTS} entries`);
  const statements: VEXStatement[] = value.statements.map((s: unknown, i: number): VEXStatement => {
    const at = `$.statements[${i}]`;
    if (!isObj(s)) throw new VEXError(source, at, 'must be an object');
    let vulnerability: string;
    const aliases: string[] = [];
    if (typeof s.vulnerability === 'string') vulnerability = s.vulnerability;
    else if (isObj(s.vulnerability) && typeof s.vulnerability.name === 'string') {
      vulnerability = s.vulnerability.name;
      const al = s.vulnerability.aliases;
      if (al !== undefined) {
        if (!Array.isArray(al) || al.some((a) => typeof a !== 'string')) throw new VEXError(source, `${at}.vulnerability.aliases`, 'must be an array of strings');
        aliases.push(...(al as string[]));
      }
    } else throw new VEXError(source, `${at}.vulnerability`, 'must name the vulnerability');
    if (vulnerability === '') throw new VEXError(source, `${at}.vulnerability`, 'must not be empty');
    if (!Array.isArray(s.products) || s.products.length === 0) throw new VEXError(source, `${at}.products`, 'must be a non-empty array');
    const products: PackageURL[] = [];
    s.products.forEach((p: unknown, j: number) => productPurls(source, `${at}.products[${j}]`, p, products));
    if (!STATUSES.includes(s.status as VEXStatus)) throw new VEXError(source, `${at}.status`, `must be one of ${STATUSES.join(', ')}`);
    const status = s.status as VEXStatus;
    if (s.justification !== undefined && !JUSTIFICATIONS.includes(s.justification as string)) throw new VEXError(source, `${at}.justification`, `must be one of ${JUSTIFICATIONS.join(', ')}`);
    if (s.impact_statement !== undefined && typeof s.impact_statement !== 'string') throw new VEXError(source, `${at}.impact_statement`, 'must be a string');
    // The spec requires not_affected to say why.
    if (status === 'not_affected' && s.justification === undefined && !s.impact_statement) throw new VEXError(source, at, 'is not_affected without a justification or impact_statement');
    return {
      vulnerability,
      aliases,
      products,
      status,
      justification: s.justification as string | undefined,
      impactStatement: s.impact_statement as string | undefined,
      timestamp: s.timestamp === undefined ? docTime : time(source, `${at}.timestamp`, s.timestamp),
      index: i,
    };
  });
  return { id: value['@id'], author: value.author, timestamp: docTime, source, statements };
}

/** True when product purl `p` names component purl `c`: same package; p's version and qualifiers, if given, agree. */
export function purlCovers(p: PackageURL, c: PackageURL): boolean {
  if (p.type !== c.type || p.name !== c.name || (p.namespace ?? '') !== (c.namespace ?? '')) return false;
  if (p.version !== undefined && p.version !== c.version) return false;
  for (const [k, v] of Object.entries(p.qualifiers)) if (c.qualifiers[k] !== v) return false;
  return true;
}

export interface VEXDecision {
  readonly status: VEXStatus;
  readonly statement: VEXStatement;
  readonly document: OpenVEXDocument;
}

/** The deciding statement for a vulnerability (any of `ids`) in the component, or undefined. */
export function vexDecision(documents: readonly OpenVEXDocument[], ids: readonly string[], component: PackageURL): VEXDecision | undefined {
  let best: VEXDecision | undefined;
  let bestOrder = -1;
  let order = 0;
  for (const document of documents) {
    for (const statement of document.statements) {
      order++;
      if (!ids.includes(statement.vulnerability) && !statement.aliases.some((a) => ids.includes(a))) continue;
      if (!statement.products.some((p) => purlCovers(p, component))) continue;
      if (!best || statement.timestamp > best.statement.timestamp || (statement.timestamp === best.statement.timestamp && order > bestOrder)) {
        best = { status: statement.status, statement, document };
        bestOrder = order;
      }
    }
  }
  return best;
}
