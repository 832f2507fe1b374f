import { parseJSON } from '../encoding.ts';
import { MAX_SBOM_BYTES, MAX_SBOM_VALUES } from '../limits.ts';
import { SBOMError } from './errors.ts';
import { valueDepthExceeds } from './jsonschema.ts';
import type { SBOMDocument } from './model.ts';
import { normalizeCycloneDX } from './cyclonedx.ts';
import { normalizeSPDX } from './spdx.ts';
import { validateAgainstSchema, type SchemaName } from './schema.ts';

// Recognise the format and version, validate against the official schema, normalise. Refuses
// (SBOMError) anything that is not a supported, schema-valid SBOM; nothing is half-accepted.

export const CYCLONEDX_PREDICATE_TYPE = 'https://cyclonedx.org/bom';
export const SPDX_PREDICATE_TYPE = 'https://spdx.dev/Document';
export const SUPPORTED_CYCLONEDX_VERSIONS = ['1.4', '1.5', '1.6'] as const;
export const SUPPORTED_SPDX_VERSIONS = ['SPDX-2.3'] as const;

/** SBOM JSON nesting limit: CycloneDX nests components in components; 128 levels is far beyond real use. */
export const DEFAULT_SBOM_MAX_DEPTH = 128;

export interface ParseSBOMOptions {
  /** Names the SBOM in messages (file, TUF target or attestation). */
  source?: string;
  /** The in-toto predicateType when the SBOM came as a Statement predicate. */
  predicateType?: string;
  maxDepth?: number;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Which format an in-toto predicateType announces (versioned variants included), or undefined if it is not an SBOM type. */
export function sbomFormatOfPredicateType(t: string): 'cyclonedx' | 'spdx' | undefined {
  if (t === CYCLONEDX_PREDICATE_TYPE || t.startsWith(`${CYCLONEDX_PREDICATE_TYPE}/`)) return 'cyclonedx';
  if (t === SPDX_PREDICATE_TYPE || t.startsWith(`${SPDX_PREDICATE_TYPE}/`)) return 'spdx';
  return undefined;
}

/** Parses SBOM bytes/text (size and depth capped) and then behaves like parseSBOM. */
export function parseSBOMBytes(input: Uint8Array | string, options: ParseSBOMOptions = {}): SBOMDocument {
  const source = options.source ?? 'SBOM';
  let value: unknown;
  try {
    value = parseJSON(input, source, { maxBytes: MAX_SBOM_BYTES, maxDepth: options.maxDepth ?? DEFAULT_SBOM_MAX_DEPTH, maxValues: MAX_SBOM_VALUES });
  } catch (e) {
    throw new SBOMError('SBOM_MALFORMED', `${source} is not usable JSON: ${(e as Error).message}`, { cause: e });
  }
  return parseSBOM(value, options);
}

/** Validates and normalises an already-parsed SBOM (bare document or in-toto predicate). */
export function parseSBOM(document: unknown, options: ParseSBOMOptions = {}): SBOMDocument {
  const source = options.source ?? 'SBOM';
  const maxDepth = options.maxDepth ?? DEFAULT_SBOM_MAX_DEPTH;
  if (!isObj(document)) throw new SBOMError('SBOM_MALFORMED', `${source} is not a JSON object, so it is neither CycloneDX nor SPDX.`, { path: '$' });
  if (valueDepthExceeds(document, maxDepth)) throw new SBOMError('SBOM_MALFORMED', `${source} nests deeper than ${maxDepth} levels; refusing it.`, { path: '$' });
  const announced = options.predicateType === undefined ? undefined : sbomFormatOfPredicateType(options.predicateType);
  if (options.predicateType !== undefined && announced === undefined) {
    throw new SBOMError('SBOM_MALFORMED', `${source}: predicateType ${JSON.stringify(options.predicateType)} is not a CycloneDX or SPDX SBOM type.`, { path: '$' });
  }
  let format: 'cyclonedx' | 'spdx';
  let version: string;
  if (document.bomFormat !== undefined || announced === 'cyclonedx') {
    if (document.bomFormat !== 'CycloneDX') throw new SBOMError('SBOM_MALFORMED', `${source}: bomFormat must be "CycloneDX".`, { path: '$.bomFormat' });
    format = 'cyclonedx';
    version = typeof document.specVersion === 'string' ? document.specVersion : '';
    if (!(SUPPORTED_CYCLONEDX_VERSIONS as readonly string[]).includes(version)) {
      throw new SBOMError('SBOM_UNSUPPORTED_VERSION', `${source}: CycloneDX specVersion ${JSON.stringify(document.specVersion)} is not supported (supported: ${SUPPORTED_CYCLONEDX_VERSIONS.join(', ')}).`, { path: '$.specVersion', details: { specVersion: document.specVersion } });
    }
  } else if (document.spdxVersion !== undefined || document['@context'] !== undefined || announced === 'spdx') {
    format = 'spdx';
    version = typeof document.spdxVersion === 'string' ? document.spdxVersion : '';
    if (!(SUPPORTED_SPDX_VERSIONS as readonly string[]).includes(version)) {
      const what = version === '' && typeof document['@context'] === 'string' ? `an SPDX 3 / JSON-LD document (${document['@context']})` : `spdxVersion ${JSON.stringify(document.spdxVersion)}`;
      throw new SBOMError('SBOM_UNSUPPORTED_VERSION', `${source}: ${what} is not supported (supported: SPDX-2.3 JSON).`, { path: version === '' ? '$' : '$.spdxVersion', details: { spdxVersion: document.spdxVersion } });
    }
  } else {
    throw new SBOMError('SBOM_MALFORMED', `${source} has neither bomFormat (CycloneDX) nor spdxVersion (SPDX); it is not an SBOM this verifier reads.`, { path: '$' });
  }
  if (announced !== undefined && announced !== format) {
    throw new SBOMError('SBOM_MALFORMED', `${source}: the predicateType announces ${announced} but the document is ${format}.`, { path: '$' });
  }
  const schema: SchemaName = format === 'cyclonedx' ? (`bom-${version}.schema.json` as SchemaName) : 'spdx-2.3.schema.json';
  const issue = validateAgainstSchema(schema, document);
  if (issue) {
    throw new SBOMError('SBOM_SCHEMA_INVALID', `${source} is not valid ${format === 'cyclonedx' ? `CycloneDX ${version}` : 'SPDX 2.3'}: ${issue.path} ${issue.message} (${schema}).`, {
      path: issue.path,
      details: { schema, schemaPath: issue.schemaPath },
    });
  }
  return format === 'cyclonedx' ? normalizeCycloneDX(document, version, source) : normalizeSPDX(document, source);
}
