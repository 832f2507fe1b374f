import { AttestError } from '../errors.ts';
import { canonicalExceptionId, canonicalLicenseId } from './list.ts';

// SPDX licence expressions (SPDX 2.3 Annex D): license-id, license-id "+", LicenseRef-…,
// DocumentRef-…:LicenseRef-…, "WITH" exception, "AND", "OR", parentheses. Precedence WITH > AND > OR.
// Operators are case-sensitive (upper case); identifiers match case-insensitively and are
// canonicalised to the SPDX list's spelling. Deprecated GNU identifiers are normalised:
// GPL-2.0 = GPL-2.0-only, GPL-2.0+ = GPL-2.0-or-later, GPL-2.0-with-classpath-exception =
// GPL-2.0-only WITH Classpath-exception-2.0.

export interface LicenseLeaf {
  readonly type: 'license';
  /** Canonical id without "+" / "-only" / "-or-later" for GNU families; the LicenseRef for refs. */
  readonly base: string;
  /** "+" or "-or-later": the licensee may pick this version or any later one. */
  readonly orLater: boolean;
  /** Canonical exception id after WITH, if any. */
  readonly exception: string | undefined;
  /** In the SPDX licence list (or a LicenseRef, which is always well-formed). */
  readonly known: boolean;
  readonly exceptionKnown: boolean;
  /** The leaf as written, canonicalised (e.g. "GPL-2.0-or-later WITH Classpath-exception-2.0"). */
  readonly text: string;
}

export type LicenseNode = LicenseLeaf | { readonly type: 'and' | 'or'; readonly children: readonly LicenseNode[] };
export type LicenseExpression = LicenseNode | { readonly type: 'special'; readonly value: 'NONE' | 'NOASSERTION' };

export class LicenseExpressionError extends AttestError {
  constructor(expression: string, why: string) {
    const shown = expression.length > 200 ? `${expression.slice(0, 200)}…` : expression;
    super('LICENSE_EXPRESSION_INVALID', `${JSON.stringify(shown)} is not a valid SPDX licence expression: ${why}.`, 'denied', { details: { expression: shown } });
    this.name = 'LicenseExpressionError';
  }
}

export const MAX_EXPRESSION_LENGTH = 8192;
const MAX_DEPTH = 64;

const GNU = /^(GPL-1\.0|GPL-2\.0|GPL-3\.0|LGPL-2\.0|LGPL-2\.1|LGPL-3\.0|AGPL-1\.0|AGPL-3\.0|GFDL-1\.1|GFDL-1\.2|GFDL-1\.3)(-only|-or-later)?$/i;
const DEPRECATED_WITH: Record<string, [string, string]> = {
  'gpl-2.0-with-autoconf-exception': ['GPL-2.0', 'Autoconf-exception-2.0'],
  'gpl-2.0-with-bison-exception': ['GPL-2.0', 'Bison-exception-2.2'],
  'gpl-2.0-with-classpath-exception': ['GPL-2.0', 'Classpath-exception-2.0'],
  'gpl-2.0-with-font-exception': ['GPL-2.0', 'Font-exception-2.0'],
  'gpl-2.0-with-gcc-exception': ['GPL-2.0', 'GCC-exception-2.0'],
  'gpl-3.0-with-autoconf-exception': ['GPL-3.0', 'Autoconf-exception-3.0'],
  'gpl-3.0-with-gcc-exception': ['GPL-3.0', 'GCC-exception-3.1'],
};
const IDSTRING = /^[A-Za-z0-9.-]+$/;
const REF = /^(?:DocumentRef-([A-Za-z0-9.-]+):)?LicenseRef-([A-Za-z0-9.-]+)$/i;

function leafText(base: string, orLater: boolean, gnu: boolean, exception: string | undefined): string {
  const l = gnu ? `${base}${orLater ? '-or-later' : '-only'}` : `${base}${orLater ? '+' : ''}`;
  return exception ? `${l} WITH ${exception}` : l;
}

function makeLeaf(expr: string, raw: string, exceptionRaw: string | undefined): LicenseLeaf {
  let id = raw;
  let plus = false;
  if (id.endsWith('+')) {
    plus = true;
    id = id.slice(0, -1);
  }
  let exception: string | undefined;
  let exceptionKnown = true;
  if (exceptionRaw !== undefined) {
    if (!IDSTRING.test(exceptionRaw)) throw new LicenseExpressionError(expr, `"${exceptionRaw}" is not a licence exception id`);
    exception = canonicalExceptionId(exceptionRaw);
    if (!exception) {
      exceptionKnown = false;
      exception = exceptionRaw;
    }
  }
  const ref = REF.exec(id);
  if (ref) {
    if (plus) throw new LicenseExpressionError(expr, `"+" cannot follow ${id}`);
    const text = id.replace(/^documentref-/i, 'DocumentRef-').replace(/licenseref-/i, 'LicenseRef-');
    return { type: 'license', base: text, orLater: false, exception, known: true, exceptionKnown, text: exception ? `${text} WITH ${exception}` : text };
  }
  if (!IDSTRING.test(id) || id === '') throw new LicenseExpressionError(expr, `"${raw}" is not a licence id`);
  const dep = DEPRECATED_WITH[id.toLowerCase()];
  if (dep) {
    if (exception) throw new LicenseExpressionError(expr, `${id} already names an exception`);
    return { type: 'license', base: dep[0], orLater: plus, exception: dep[1], known: true, exceptionKnown: true, text: leafText(dep[0], plus, true, dep[1]) };
  }
  const gnu = GNU.exec(id);
  if (gnu) {
    const base = canonicalLicenseId(gnu[1]!) ?? gnu[1]!;
    const orLater = plus || gnu[2]?.toLowerCase() === '-or-later';
    return { type: 'license', base, orLater, exception, known: true, exceptionKnown, text: leafText(base, orLater, true, exception) };
  }
  const canon = canonicalLicenseId(id);
  const base = canon ?? id;
  return { type: 'license', base, orLater: plus, exception, known: canon !== undefined, exceptionKnown, text: leafText(base, plus, false, exception) };
}

function tokenize(expr: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push(c);
      i++;
    } else {
      let j = i;
      while (j < expr.length && !' \t\n\r()'.includes(expr[j]!)) j++;
      tokens.push(expr.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

/** Parses an SPDX licence expression (or the special values NONE / NOASSERTION). */
export function parseLicenseExpression(expr: string): LicenseExpression {
  if (typeof expr !== 'string') throw new LicenseExpressionError(String(expr), 'not a string');
  if (expr.length > MAX_EXPRESSION_LENGTH) throw new LicenseExpressionError(expr, `longer than ${MAX_EXPRESSION_LENGTH} characters`);
  const trimmed = expr.trim();
  if (trimmed === 'NONE' || trimmed === 'NOASSERTION') return { type: 'special', value: trimmed };
  const tokens = tokenize(expr);
  if (tokens.length === 0) throw new LicenseExpressionError(expr, 'empty');
  let pos = 0;
  let depth = 0;
  const peek = () => tokens[pos];
  const isOp = (t: string | undefined) => t === 'AND' || t === 'OR' || t === 'WITH';
  const lowerOp = (t: string | undefined) => t === 'and' || t === 'or' || t === 'with';

  const primary = (): LicenseNode => {
    const t = peek();
    if (t === undefined) throw new LicenseExpressionError(expr, 'ends where a licence was expected');
    if (t === '(') {
      if (++depth > MAX_DEPTH) throw new LicenseExpressionError(expr, `nested deeper than ${MAX_DEPTH} parentheses`);
      pos++;
      const inner = orExpr();
      if (peek() !== ')') throw new LicenseExpressionError(expr, 'missing ")"');
      pos++;
      depth--;
      return inner;
    }
    if (t === ')' || isOp(t)) throw new LicenseExpressionError(expr, `unexpected "${t}" where a licence was expected`);
    if (t === 'NONE' || t === 'NOASSERTION') throw new LicenseExpressionError(expr, `${t} cannot be part of a compound expression`);
    pos++;
    let exception: string | undefined;
    if (peek() === 'WITH') {
      pos++;
      exception = peek();
      if (exception === undefined || exception === '(' || exception === ')' || isOp(exception)) throw new LicenseExpressionError(expr, 'WITH must be followed by an exception id');
      pos++;
    }
    return makeLeaf(expr, t, exception);
  };
  const andExpr = (): LicenseNode => {
    const children = [primary()];
    while (peek() === 'AND') {
      pos++;
      children.push(primary());
    }
    return children.length === 1 ? children[0]! : { type: 'and', children };
  };
  const orExpr = (): LicenseNode => {
    const children = [andExpr()];
    while (peek() === 'OR') {
      pos++;
      children.push(andExpr());
    }
    return children.length === 1 ? children[0]! : { type: 'or', children };
  };
  const node = orExpr();
  if (pos < tokens.length) {
    const t = tokens[pos]!;
    if (lowerOp(t)) throw new LicenseExpressionError(expr, `operators are upper case: write "${t.toUpperCase()}"`);
    if (t === 'WITH') throw new LicenseExpressionError(expr, 'WITH must follow a single licence id');
    throw new LicenseExpressionError(expr, `unexpected "${t}"`);
  }
  return node;
}

/** Canonical string form: upper-case operators, canonical ids, parentheses only where precedence needs them. */
export function formatLicenseExpression(e: LicenseExpression): string {
  if (e.type === 'special') return e.value;
  if (e.type === 'license') return e.text;
  return e.children
    .map((c) => {
      const s = formatLicenseExpression(c);
      return c.type === 'or' && e.type === 'and' ? `(${s})` : s;
    })
    .join(e.type === 'and' ? ' AND ' : ' OR ');
}

/** Every leaf of the expression, left to right. */
export function licenseLeaves(e: LicenseExpression): LicenseLeaf[] {
  if (e.type === 'special') return [];
  if (e.type === 'license') return [e];
  return e.children.flatMap(licenseLeaves);
}
