import { parseLicenseExpression, formatLicenseExpression, type LicenseExpression, type LicenseLeaf, type LicenseNode } from './expression.ts';

// Evaluating an expression against allow- and deny-lists with SPDX semantics: OR offers a choice
// (one usable alternative suffices), AND requires every part. A leaf is usable when no deny entry
// covers it and, if there is an allow-list, an allow entry covers it.
//   allow "X" covers X, X-or-later / X+ (the licensee may elect X), and X WITH any exception
//   (an exception only adds permissions); allow "X-or-later" covers only or-later terms;
//   allow "X WITH E" covers exactly that pairing.
//   deny "X" covers X in every form (-only, -or-later, +, with any exception); deny "X WITH E" only that pairing.
// Matching is case-insensitive and sees deprecated ids as their modern equivalents.

export interface LicenseLists {
  readonly allow?: readonly LicenseLeaf[] | undefined;
  readonly deny?: readonly LicenseLeaf[] | undefined;
}

export type LicenseVerdict =
  | { ok: true; choice: string[] }
  | { ok: false; blocked: string[] };

const key = (s: string) => s.toLowerCase();

function allowCovers(a: LicenseLeaf, l: LicenseLeaf): boolean {
  if (key(a.base) !== key(l.base)) return false;
  if (a.orLater && !l.orLater) return false;
  if (a.exception !== undefined && (l.exception === undefined || key(a.exception) !== key(l.exception))) return false;
  return true;
}

function denyCovers(d: LicenseLeaf, l: LicenseLeaf): boolean {
  if (key(d.base) !== key(l.base)) return false;
  if (d.exception !== undefined && (l.exception === undefined || key(d.exception) !== key(l.exception))) return false;
  return true;
}

export function leafUsable(l: LicenseLeaf, lists: LicenseLists): { ok: boolean; why: string } {
  const deny = lists.deny?.find((d) => denyCovers(d, l));
  if (deny) return { ok: false, why: `${l.text} is denied (${deny.text})` };
  if (lists.allow) {
    if (!lists.allow.some((a) => allowCovers(a, l))) return { ok: false, why: `${l.text} is not in the allow-list${l.known ? '' : ' (not an SPDX licence-list id)'}` };
  }
  return { ok: true, why: '' };
}

function evalNode(n: LicenseNode, lists: LicenseLists): LicenseVerdict {
  if (n.type === 'license') {
    const u = leafUsable(n, lists);
    return u.ok ? { ok: true, choice: [n.text] } : { ok: false, blocked: [u.why] };
  }
  if (n.type === 'and') {
    const choice: string[] = [];
    const blocked: string[] = [];
    for (const c of n.children) {
      const r = evalNode(c, lists);
      if (r.ok) choice.push(...r.choice);
      else blocked.push(...r.blocked);
    }
    return blocked.length ? { ok: false, blocked } : { ok: true, choice };
  }
  const blocked: string[] = [];
  for (const c of n.children) {
    const r = evalNode(c, lists);
    if (r.ok) return r;
    blocked.push(...r.blocked);
  }
  return { ok: false, blocked };
}

/**
 * Decides whether some choice the expression offers is usable. Special values (NONE,
 * NOASSERTION) are the caller's policy decision and are reported as not ok here.
 */
export function evaluateLicense(e: LicenseExpression, lists: LicenseLists): LicenseVerdict {
  if (e.type === 'special') return { ok: false, blocked: [`${e.value} needs a policy decision`] };
  return evalNode(e, lists);
}

/** Parses a policy list entry: a single licence (optionally + / -or-later / WITH exception). */
export function parseLicenseListEntry(s: string): LicenseLeaf {
  const e = parseLicenseExpression(s);
  if (e.type !== 'license') throw new Error(`"${s}" must be a single licence id (optionally with "+", "-or-later" or "WITH exception"), not ${e.type === 'special' ? e.value : 'a compound expression'}`);
  return e;
}

export { formatLicenseExpression };
