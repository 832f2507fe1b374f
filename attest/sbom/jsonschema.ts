// A compact JSON Schema validator for the keywords the CycloneDX (draft-07) and SPDX 2.3
// (2019-09) schemas use, compiled once per schema into closures. It reports the first violation
// with a JSON path ($.components[3].hashes[0].content), picks the closest alternative's error for
// oneOf/anyOf, and refuses to compile keywords it does not implement rather than skip them.
// Recursion follows the data, whose depth the caller bounds before validating.

export type JSONSchema = boolean | { [k: string]: unknown };

export interface SchemaIssue {
  /** JSON path of the offending value, e.g. "$.metadata.component.hashes[0].content". */
  path: string;
  /** What is wrong, e.g. 'must match pattern "^[a-f0-9]{64}$"'. */
  message: string;
  /** Schema location of the failing keyword (file#/pointer). */
  schemaPath: string;
}

type Path = Array<string | number>;
interface State {
  path: Path;
  errors: SchemaIssue[];
}
type Node = (data: unknown, st: State) => boolean;

// Keywords with no effect on validity.
const ANNOTATIONS = new Set([
  '$schema', '$id', '$comment', 'title', 'description', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly',
  'definitions', '$defs', 'meta:enum', 'contentEncoding', 'contentMediaType', '$anchor',
]);
const IMPLEMENTED = new Set([
  '$ref', 'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'patternProperties', 'propertyNames',
  'minProperties', 'maxProperties', 'items', 'additionalItems', 'minItems', 'maxItems', 'uniqueItems', 'contains',
  'minLength', 'maxLength', 'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'oneOf', 'anyOf', 'allOf', 'not', 'if', 'then', 'else', 'dependencies', 'dependentRequired',
]);

export class SchemaCompileError extends Error {}

export function formatPath(path: readonly (string | number)[]): string {
  let s = '$';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p)) s += `.${p}`;
    else s += `[${JSON.stringify(p)}]`;
  }
  return s;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Canonical JSON (sorted keys) for uniqueItems/enum/const deep equality. */
function canon(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[m - 1]!;
}

// eslint-disable-next-line no-control-regex
const NO_SPACE_OR_CONTROL = /^[^\s\u0000-\u001f\u007f]*$/;

const FORMATS: Record<string, (s: string) => boolean> = {
  'date-time': (s) => {
    const m = DATE_TIME.exec(s);
    if (!m) return false;
    if (!validDate(+m[1]!, +m[2]!, +m[3]!)) return false;
    if (+m[4]! > 23 || +m[5]! > 59 || +m[6]! > 60) return false;
    return m[9] === undefined || (+m[10]! <= 23 && +m[11]! <= 59);
  },
  date: (s) => {
    const m = DATE.exec(s);
    return m !== null && validDate(+m[1]!, +m[2]!, +m[3]!);
  },
  // Basic structural checks: no whitespace or control characters (RFC 3986/3987 forbid them).
  'iri-reference': (s) => NO_SPACE_OR_CONTROL.test(s),
  'uri-reference': (s) => NO_SPACE_OR_CONTROL.test(s),
  iri: (s) => /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s) && NO_SPACE_OR_CONTROL.test(s),
  uri: (s) => /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s) && NO_SPACE_OR_CONTROL.test(s),
  email: (s) => /^[^\s@]+@[^\s@]+$/.test(s),
  'idn-email': (s) => /^[^\s@]+@[^\s@]+$/.test(s),
};

interface Doc {
  id: string;
  name: string;
  root: JSONSchema;
}

/** A set of schema documents that may $ref each other by $id or by file name. */
export class SchemaRegistry {
  readonly #docs = new Map<string, Doc>();
  readonly #compiled = new Map<string, Node>();

  add(name: string, schema: JSONSchema): void {
    const id = isObj(schema) && typeof schema.$id === 'string' ? schema.$id : name;
    const doc = { id, name, root: schema };
    this.#docs.set(name, doc);
    this.#docs.set(id, doc);
    const base = id.slice(id.lastIndexOf('/') + 1);
    if (!this.#docs.has(base)) this.#docs.set(base, doc);
  }

  /** Compiles (once) and returns a validator for document `name`. */
  validator(name: string): (data: unknown) => SchemaIssue | undefined {
    const doc = this.#docs.get(name);
    if (!doc) throw new SchemaCompileError(`no schema named ${name}`);
    const node = this.#ref(doc, '#');
    return (data) => {
      const st: State = { path: [], errors: [] };
      if (node(data, st)) return undefined;
      return st.errors[0] ?? { path: '$', message: 'does not match the schema', schemaPath: `${doc.name}#` };
    };
  }

  #resolve(from: Doc, ref: string): { doc: Doc; pointer: string } {
    const hash = ref.indexOf('#');
    const file = hash < 0 ? ref : ref.slice(0, hash);
    const pointer = hash < 0 ? '' : ref.slice(hash + 1);
    let doc = from;
    if (file !== '') {
      const found = this.#docs.get(file) ?? this.#docs.get(file.slice(file.lastIndexOf('/') + 1));
      if (!found) throw new SchemaCompileError(`unresolvable $ref ${ref} in ${from.name}`);
      doc = found;
    }
    return { doc, pointer };
  }

  #ref(from: Doc, ref: string): Node {
    const { doc, pointer } = this.#resolve(from, ref);
    const key = `${doc.name}#${pointer}`;
    const hit = this.#compiled.get(key);
    if (hit) return hit;
    // Placeholder first so recursive schemas (components inside components) terminate.
    let target: Node | undefined;
    const lazy: Node = (d, st) => target!(d, st);
    this.#compiled.set(key, lazy);
    let schema: unknown = doc.root;
    for (const raw of pointer.split('/').slice(1)) {
      const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      if (!isObj(schema) || !(part in schema)) throw new SchemaCompileError(`unresolvable $ref ${ref} in ${from.name}`);
      schema = schema[part];
    }
    target = this.#compile(doc, schema as JSONSchema, key);
    this.#compiled.set(key, target);
    return target;
  }

  #compile(doc: Doc, schema: JSONSchema, at: string): Node {
    if (schema === true) return () => true;
    if (schema === false) {
      return (_d, st) => fail(st, 'is not allowed here', at);
    }
    if (!isObj(schema)) throw new SchemaCompileError(`schema at ${at} is not an object or boolean`);
    for (const k of Object.keys(schema)) {
      if (!ANNOTATIONS.has(k) && !IMPLEMENTED.has(k)) throw new SchemaCompileError(`keyword "${k}" at ${at} is not implemented`);
    }
    const checks: Node[] = [];
    const s = schema;
    const sub = (x: unknown, where: string) => this.#compile(doc, x as JSONSchema, `${at}/${where}`);

    if (typeof s.$ref === 'string') checks.push(this.#ref(doc, s.$ref));
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      checks.push((d, st) => {
        const t = typeOf(d);
        if (types.includes(t) || (t === 'integer' && types.includes('number'))) return true;
        return fail(st, `must be ${types.join(' or ')}, not ${t}`, `${at}/type`);
      });
    }
    if (Array.isArray(s.enum)) {
      const values = s.enum as unknown[];
      const prim = new Set(values.filter((v) => v === null || typeof v !== 'object'));
      const objs = new Set(values.filter((v) => v !== null && typeof v === 'object').map(canon));
      checks.push((d, st) => {
        if (d === null || typeof d !== 'object' ? prim.has(d) : objs.has(canon(d))) return true;
        const shown = values.length <= 12 ? values.map((v) => JSON.stringify(v)).join(', ') : `${values.length} allowed values`;
        return fail(st, `must be one of ${shown}`, `${at}/enum`);
      });
    }
    if ('const' in s) {
      const c = canon(s.const);
      checks.push((d, st) => canon(d) === c || fail(st, `must be ${JSON.stringify(s.const)}`, `${at}/const`));
    }
    // Object keywords
    const props = isObj(s.properties) ? Object.entries(s.properties).map(([k, v]) => [k, sub(v, `properties/${k}`)] as const) : [];
    const propNames = new Set(props.map(([k]) => k));
    const patternProps = isObj(s.patternProperties) ? Object.entries(s.patternProperties).map(([p, v]) => [new RegExp(p, 'u'), sub(v, `patternProperties/${p}`)] as const) : [];
    const addl = s.additionalProperties === undefined ? undefined : sub(s.additionalProperties, 'additionalProperties');
    const addlFalse = s.additionalProperties === false;
    const required = Array.isArray(s.required) ? (s.required as string[]) : [];
    const propertyNames = s.propertyNames === undefined ? undefined : sub(s.propertyNames, 'propertyNames');
    const deps = isObj(s.dependencies) ? Object.entries(s.dependencies) : [];
    const depReq = isObj(s.dependentRequired) ? Object.entries(s.dependentRequired) : [];
    const minP = typeof s.minProperties === 'number' ? s.minProperties : undefined;
    const maxP = typeof s.maxProperties === 'number' ? s.maxProperties : undefined;
    if (props.length || patternProps.length || addl || required.length || propertyNames || deps.length || depReq.length || minP !== undefined || maxP !== undefined) {
      const depNodes = deps.map(([k, v]) => [k, Array.isArray(v) ? (v as string[]) : sub(v, `dependencies/${k}`)] as const);
      checks.push((d, st) => {
        if (!isObj(d)) return true;
        for (const r of required) if (!Object.hasOwn(d, r)) return fail(st, `must have required property "${r}"`, `${at}/required`);
        const keys = Object.keys(d);
        if (minP !== undefined && keys.length < minP) return fail(st, `must have at least ${minP} properties`, `${at}/minProperties`);
        if (maxP !== undefined && keys.length > maxP) return fail(st, `must have at most ${maxP} properties`, `${at}/maxProperties`);
        for (const [k, node] of props) {
          if (!Object.hasOwn(d, k)) continue;
          st.path.push(k);
          const ok = node(d[k], st);
          st.path.pop();
          if (!ok) return false;
        }
        if (patternProps.length || addl || propertyNames) {
          for (const k of keys) {
            if (propertyNames) {
              if (!propertyNames(k, st)) return false;
            }
            let matched = propNames.has(k);
            for (const [re, node] of patternProps) {
              if (re.test(k)) {
                matched = true;
                st.path.push(k);
                const ok = node(d[k], st);
                st.path.pop();
                if (!ok) return false;
              }
            }
            if (!matched && addl) {
              if (addlFalse) {
                st.path.push(k);
                fail(st, 'is not a property this schema allows (additionalProperties: false)', `${at}/additionalProperties`);
                st.path.pop();
                return false;
              }
              st.path.push(k);
              const ok = addl(d[k], st);
              st.path.pop();
              if (!ok) return false;
            }
          }
        }
        for (const [k, dep] of depNodes) {
          if (!Object.hasOwn(d, k)) continue;
          if (Array.isArray(dep)) {
            for (const r of dep) if (!Object.hasOwn(d, r)) return fail(st, `must have property "${r}" when "${k}" is present`, `${at}/dependencies`);
          } else if (!(dep as Node)(d, st)) return false;
        }
        for (const [k, list] of depReq) {
          if (Object.hasOwn(d, k)) for (const r of list as string[]) if (!Object.hasOwn(d, r)) return fail(st, `must have property "${r}" when "${k}" is present`, `${at}/dependentRequired`);
        }
        return true;
      });
    }
    // Array keywords
    const tuple = Array.isArray(s.items) ? (s.items as unknown[]).map((x, i) => sub(x, `items/${i}`)) : undefined;
    const items = s.items !== undefined && !tuple ? sub(s.items, 'items') : undefined;
    const addItems = tuple && s.additionalItems !== undefined ? sub(s.additionalItems, 'additionalItems') : undefined;
    const contains = s.contains === undefined ? undefined : sub(s.contains, 'contains');
    const minI = typeof s.minItems === 'number' ? s.minItems : undefined;
    const maxI = typeof s.maxItems === 'number' ? s.maxItems : undefined;
    const unique = s.uniqueItems === true;
    if (tuple || items || addItems || contains || minI !== undefined || maxI !== undefined || unique) {
      checks.push((d, st) => {
        if (!Array.isArray(d)) return true;
        if (minI !== undefined && d.length < minI) return fail(st, `must have at least ${minI} item${minI === 1 ? '' : 's'}`, `${at}/minItems`);
        if (maxI !== undefined && d.length > maxI) return fail(st, `must have at most ${maxI} items`, `${at}/maxItems`);
        for (let i = 0; i < d.length; i++) {
          const node = tuple ? (i < tuple.length ? tuple[i] : addItems) : items;
          if (!node) continue;
          st.path.push(i);
          const ok = node(d[i], st);
          st.path.pop();
          if (!ok) return false;
        }
        if (contains && !d.some((x) => contains(x, { path: st.path, errors: [] }))) return fail(st, 'must contain a matching item', `${at}/contains`);
        if (unique && d.length > 1) {
          const seen = new Map<string, number>();
          for (let i = 0; i < d.length; i++) {
            const c = canon(d[i]);
            const prev = seen.get(c);
            if (prev !== undefined) return fail(st, `must not contain duplicate items (items ${prev} and ${i} are equal)`, `${at}/uniqueItems`);
            seen.set(c, i);
          }
        }
        return true;
      });
    }
    // String keywords
    const minL = typeof s.minLength === 'number' ? s.minLength : undefined;
    const maxL = typeof s.maxLength === 'number' ? s.maxLength : undefined;
    let pattern: RegExp | undefined;
    if (typeof s.pattern === 'string') {
      try {
        pattern = new RegExp(s.pattern, 'u');
      } catch {
        pattern = new RegExp(s.pattern);
      }
    }
    const format = typeof s.format === 'string' ? FORMATS[s.format] : undefined;
    if (minL !== undefined || maxL !== undefined || pattern || format) {
      checks.push((d, st) => {
        if (typeof d !== 'string') return true;
        if (minL !== undefined || maxL !== undefined) {
          const n = codePoints(d);
          if (minL !== undefined && n < minL) return fail(st, `must be at least ${minL} characters long`, `${at}/minLength`);
          if (maxL !== undefined && n > maxL) return fail(st, `must be at most ${maxL} characters long`, `${at}/maxLength`);
        }
        if (pattern && !pattern.test(d)) return fail(st, `must match pattern ${JSON.stringify(s.pattern)}`, `${at}/pattern`);
        if (format && !format(d)) return fail(st, `must be a valid ${s.format as string}`, `${at}/format`);
        return true;
      });
    }
    // Number keywords
    const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
    const min = num('minimum'), max = num('maximum'), xmin = num('exclusiveMinimum'), xmax = num('exclusiveMaximum'), mult = num('multipleOf');
    if (min !== undefined || max !== undefined || xmin !== undefined || xmax !== undefined || mult !== undefined) {
      checks.push((d, st) => {
        if (typeof d !== 'number') return true;
        if (min !== undefined && d < min) return fail(st, `must be ≥ ${min}`, `${at}/minimum`);
        if (max !== undefined && d > max) return fail(st, `must be ≤ ${max}`, `${at}/maximum`);
        if (xmin !== undefined && d <= xmin) return fail(st, `must be > ${xmin}`, `${at}/exclusiveMinimum`);
        if (xmax !== undefined && d >= xmax) return fail(st, `must be < ${xmax}`, `${at}/exclusiveMaximum`);
        if (mult !== undefined && Math.abs(d / mult - Math.round(d / mult)) > 1e-9) return fail(st, `must be a multiple of ${mult}`, `${at}/multipleOf`);
        return true;
      });
    }
    // Combinators
    if (Array.isArray(s.allOf)) for (const [i, x] of (s.allOf as unknown[]).entries()) checks.push(sub(x, `allOf/${i}`));
    for (const kw of ['anyOf', 'oneOf'] as const) {
      if (!Array.isArray(s[kw])) continue;
      const alts = (s[kw] as unknown[]).map((x, i) => sub(x, `${kw}/${i}`));
      checks.push((d, st) => {
        let passes = 0;
        let best: SchemaIssue | undefined;
        for (const alt of alts) {
          const local: State = { path: st.path, errors: [] };
          if (alt(d, local)) {
            passes++;
            if (kw === 'anyOf' || passes > 1) break;
          } else {
            const e = local.errors[0];
            if (e && (!best || e.path.length > best.path.length)) best = e;
          }
        }
        if (kw === 'anyOf' ? passes >= 1 : passes === 1) return true;
        if (passes > 1) return fail(st, `must match exactly one of ${alts.length} alternatives, but matches several`, `${at}/oneOf`);
        // Report the alternative that got furthest: usually the one the author meant.
        if (best && best.path.length > formatPath(st.path).length) {
          st.errors.push(best);
          return false;
        }
        return fail(st, `must match ${kw === 'anyOf' ? 'at least one' : 'exactly one'} of ${alts.length} alternatives${best ? ` (closest: ${best.path} ${best.message})` : ''}`, `${at}/${kw}`);
      });
    }
    if (s.not !== undefined) {
      const n = sub(s.not, 'not');
      checks.push((d, st) => !n(d, { path: st.path, errors: [] }) || fail(st, 'must not match the "not" schema', `${at}/not`));
    }
    if (s.if !== undefined) {
      const cond = sub(s.if, 'if');
      const then = s.then === undefined ? undefined : sub(s.then, 'then');
      const els = s.else === undefined ? undefined : sub(s.else, 'else');
      checks.push((d, st) => {
        const branch = cond(d, { path: st.path, errors: [] }) ? then : els;
        return branch ? branch(d, st) : true;
      });
    }
    if (checks.length === 0) return () => true;
    if (checks.length === 1) return checks[0]!;
    return (d, st) => {
      for (const c of checks) if (!c(d, st)) return false;
      return true;
    };
  }
}

function fail(st: State, message: string, schemaPath: string): false {
  st.errors.push({ path: formatPath(st.path), message, schemaPath });
  return false;
}

/**
 * True when `value` nests arrays/objects deeper than `max` (checked iteratively, so hostile depth
 * cannot overflow the stack before validation recurses).
 */
export function valueDepthExceeds(value: unknown, max: number): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length) {
    const v = values.pop();
    const d = depths.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) return true;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (x !== null && typeof x === 'object') {
          values.push(x);
          depths.push(d + 1);
        }
      }
    } else {
      for (const k in v) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== null && typeof x === 'object') {
          values.push(x);
          depths.push(d + 1);
        }
      }
    }
  }
  return false;
}
