import { SchemaRegistry, type SchemaIssue } from './jsonschema.ts';
import BOM_14 from './schemas/bom-1.4.schema.json' with { type: 'json' };
import BOM_15 from './schemas/bom-1.5.schema.json' with { type: 'json' };
import BOM_16 from './schemas/bom-1.6.schema.json' with { type: 'json' };
import JSF from './schemas/jsf-0.82.schema.json' with { type: 'json' };
import SPDX_LICENSES from './schemas/spdx.schema.json' with { type: 'json' };
import SPDX_23 from './schemas/spdx-2.3.schema.json' with { type: 'json' };

// The official schemas (see schemas/SOURCES.md), compiled on first use.

export type SchemaName = 'bom-1.4.schema.json' | 'bom-1.5.schema.json' | 'bom-1.6.schema.json' | 'spdx-2.3.schema.json';

let registry: SchemaRegistry | undefined;
const validators = new Map<SchemaName, (d: unknown) => SchemaIssue | undefined>();

function reg(): SchemaRegistry {
  if (!registry) {
    registry = new SchemaRegistry();
    registry.add('spdx.schema.json', SPDX_LICENSES as object as Record<string, unknown>);
    registry.add('jsf-0.82.schema.json', JSF as object as Record<string, unknown>);
    registry.add('bom-1.4.schema.json', BOM_14 as object as Record<string, unknown>);
    registry.add('bom-1.5.schema.json', BOM_15 as object as Record<string, unknown>);
    registry.add('bom-1.6.schema.json', BOM_16 as object as Record<string, unknown>);
    registry.add('spdx-2.3.schema.json', SPDX_23 as object as Record<string, unknown>);
  }
  return registry;
}

/** Validates against one of the official schemas; returns the first violation or undefined. */
export function validateAgainstSchema(name: SchemaName, document: unknown): SchemaIssue | undefined {
  let v = validators.get(name);
  if (!v) {
    v = reg().validator(name);
    validators.set(name, v);
  }
  return v(document);
}
