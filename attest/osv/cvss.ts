import { OSVError } from './errors.ts';
import MACROVECTORS from './cvss4-macrovectors.json' with { type: 'json' };

// CVSS base scores computed from vector strings: v2 (guide §3.2.1), v3.0/v3.1 (specification §7.1,
// with the v3.1 Roundup for both), v4.0 (specification §8: MacroVector lookup plus the
// severity-distance interpolation; table from FIRST's reference calculator, see SOURCES.md).
// Only base metrics enter the score; threat/environmental metrics are validated and ignored.

export type CVSSVersion = '2.0' | '3.0' | '3.1' | '4.0';

export interface CVSSScore {
  version: CVSSVersion;
  vector: string;
  baseScore: number;
}

function bad(vector: string, why: string): never {
  const shown = vector.length > 200 ? `${vector.slice(0, 200)}…` : vector;
  throw new OSVError('CVSS_INVALID', `${JSON.stringify(shown)} is not a valid CVSS vector: ${why}.`, { vector: shown });
}

function metrics(vector: string, parts: string[], allowed: Record<string, readonly string[]>, required: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of parts) {
    const c = p.indexOf(':');
    if (c <= 0) bad(vector, `"${p}" is not METRIC:VALUE`);
    const k = p.slice(0, c);
    const v = p.slice(c + 1);
    const ok = allowed[k];
    if (!ok) bad(vector, `unknown metric "${k}"`);
    if (!ok.includes(v)) bad(vector, `"${v}" is not a value of ${k}`);
    if (m.has(k)) bad(vector, `metric ${k} appears twice`);
    m.set(k, v);
  }
  for (const k of required) if (!m.has(k)) bad(vector, `base metric ${k} is missing`);
  return m;
}

// ---- v2 ----
const V2_ALLOWED: Record<string, readonly string[]> = {
  AV: ['L', 'A', 'N'], AC: ['H', 'M', 'L'], Au: ['M', 'S', 'N'], C: ['N', 'P', 'C'], I: ['N', 'P', 'C'], A: ['N', 'P', 'C'],
  E: ['U', 'POC', 'F', 'H', 'ND'], RL: ['OF', 'TF', 'W', 'U', 'ND'], RC: ['UC', 'UR', 'C', 'ND'],
  CDP: ['N', 'L', 'LM', 'MH', 'H', 'ND'], TD: ['N', 'L', 'M', 'H', 'ND'], CR: ['L', 'M', 'H', 'ND'], IR: ['L', 'M', 'H', 'ND'], AR: ['L', 'M', 'H', 'ND'],
};
const V2W = {
  AV: { L: 0.395, A: 0.646, N: 1.0 }, AC: { H: 0.35, M: 0.61, L: 0.71 }, Au: { M: 0.45, S: 0.56, N: 0.704 }, CIA: { N: 0, P: 0.275, C: 0.66 },
} as const;

function score2(vector: string): number {
  const body = vector.startsWith('CVSS:2.0/') ? vector.slice(9) : vector.replace(/^\(|\)$/g, '');
  const m = metrics(vector, body.split('/'), V2_ALLOWED, ['AV', 'AC', 'Au', 'C', 'I', 'A']);
  const g = (k: string) => m.get(k)!;
  const cia = V2W.CIA as Record<string, number>;
  const impact = 10.41 * (1 - (1 - cia[g('C')]!) * (1 - cia[g('I')]!) * (1 - cia[g('A')]!));
  const expl = 20 * (V2W.AV as Record<string, number>)[g('AV')]! * (V2W.AC as Record<string, number>)[g('AC')]! * (V2W.Au as Record<string, number>)[g('Au')]!;
  const f = impact === 0 ? 0 : 1.176;
  return Math.round((0.6 * impact + 0.4 * expl - 1.5) * f * 10 + 1e-9) / 10;
}

// ---- v3 ----
const V3_ALLOWED: Record<string, readonly string[]> = {
  AV: ['N', 'A', 'L', 'P'], AC: ['L', 'H'], PR: ['N', 'L', 'H'], UI: ['N', 'R'], S: ['U', 'C'], C: ['H', 'L', 'N'], I: ['H', 'L', 'N'], A: ['H', 'L', 'N'],
  E: ['X', 'H', 'F', 'P', 'U'], RL: ['X', 'U', 'W', 'T', 'O'], RC: ['X', 'C', 'R', 'U'],
  CR: ['X', 'H', 'M', 'L'], IR: ['X', 'H', 'M', 'L'], AR: ['X', 'H', 'M', 'L'],
  MAV: ['X', 'N', 'A', 'L', 'P'], MAC: ['X', 'L', 'H'], MPR: ['X', 'N', 'L', 'H'], MUI: ['X', 'N', 'R'], MS: ['X', 'U', 'C'],
  MC: ['X', 'H', 'L', 'N'], MI: ['X', 'H', 'L', 'N'], MA: ['X', 'H', 'L', 'N'],
};
const V3_BASE = ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'];

/** CVSS v3.1 Roundup: the smallest one-decimal number ≥ x, computed on integers to dodge float error. */
export function roundup31(x: number): number {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
}

function score3(vector: string): number {
  const parts = vector.split('/');
  const m = metrics(vector, parts.slice(1), V3_ALLOWED, V3_BASE);
  const g = (k: string) => m.get(k)!;
  const changed = g('S') === 'C';
  const AV = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 }[g('AV')]!;
  const AC = { L: 0.77, H: 0.44 }[g('AC')]!;
  const PR = (changed ? { N: 0.85, L: 0.68, H: 0.5 } : { N: 0.85, L: 0.62, H: 0.27 })[g('PR')]!;
  const UI = { N: 0.85, R: 0.62 }[g('UI')]!;
  const cia = (k: string) => ({ H: 0.56, L: 0.22, N: 0 })[g(k)]!;
  const iss = 1 - (1 - cia('C')) * (1 - cia('I')) * (1 - cia('A'));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const expl = 8.22 * AV * AC * PR * UI;
  if (impact <= 0) return 0;
  return roundup31(Math.min(changed ? 1.08 * (impact + expl) : impact + expl, 10));
}

// ---- v4 ----
const V4_ALLOWED: Record<string, readonly string[]> = {
  AV: ['N', 'A', 'L', 'P'], AC: ['L', 'H'], AT: ['N', 'P'], PR: ['N', 'L', 'H'], UI: ['N', 'P', 'A'],
  VC: ['H', 'L', 'N'], VI: ['H', 'L', 'N'], VA: ['H', 'L', 'N'], SC: ['H', 'L', 'N'], SI: ['H', 'L', 'N'], SA: ['H', 'L', 'N'],
  E: ['X', 'A', 'P', 'U'], CR: ['X', 'H', 'M', 'L'], IR: ['X', 'H', 'M', 'L'], AR: ['X', 'H', 'M', 'L'],
  MAV: ['X', 'N', 'A', 'L', 'P'], MAC: ['X', 'L', 'H'], MAT: ['X', 'N', 'P'], MPR: ['X', 'N', 'L', 'H'], MUI: ['X', 'N', 'P', 'A'],
  MVC: ['X', 'H', 'L', 'N'], MVI: ['X', 'H', 'L', 'N'], MVA: ['X', 'H', 'L', 'N'], MSC: ['X', 'H', 'L', 'N'], MSI: ['X', 'S', 'H', 'L', 'N'], MSA: ['X', 'S', 'H', 'L', 'N'],
  S: ['X', 'N', 'P'], AU: ['X', 'N', 'Y'], R: ['X', 'A', 'U', 'I'], V: ['X', 'D', 'C'], RE: ['X', 'L', 'M', 'H'], U: ['X', 'Clear', 'Green', 'Amber', 'Red'],
};
const V4_BASE = ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'];

// Severity levels within a metric (0 = most severe), as the specification's distance step uses them.
const LEVEL: Record<string, Record<string, number>> = {
  AV: { N: 0, A: 0.1, L: 0.2, P: 0.3 }, PR: { N: 0, L: 0.1, H: 0.2 }, UI: { N: 0, P: 0.1, A: 0.2 },
  AC: { L: 0, H: 0.1 }, AT: { N: 0, P: 0.1 },
  VC: { H: 0, L: 0.1, N: 0.2 }, VI: { H: 0, L: 0.1, N: 0.2 }, VA: { H: 0, L: 0.1, N: 0.2 },
  SC: { H: 0.1, L: 0.2, N: 0.3 }, SI: { S: 0, H: 0.1, L: 0.2, N: 0.3 }, SA: { S: 0, H: 0.1, L: 0.2, N: 0.3 },
  CR: { H: 0, M: 0.1, L: 0.2 }, IR: { H: 0, M: 0.1, L: 0.2 }, AR: { H: 0, M: 0.1, L: 0.2 },
};

// Highest-severity vectors of each equivalence class (spec data, FIRST reference calculator).
const MAX_COMPOSED = {
  eq1: [['AV:N/PR:N/UI:N'], ['AV:A/PR:N/UI:N', 'AV:N/PR:L/UI:N', 'AV:N/PR:N/UI:P'], ['AV:P/PR:N/UI:N', 'AV:A/PR:L/UI:P']],
  eq2: [['AC:L/AT:N'], ['AC:H/AT:N', 'AC:L/AT:P']],
  eq3: [
    [['VC:H/VI:H/VA:H/CR:H/IR:H/AR:H'], ['VC:H/VI:H/VA:L/CR:M/IR:M/AR:H', 'VC:H/VI:H/VA:H/CR:M/IR:M/AR:M']],
    [['VC:L/VI:H/VA:H/CR:H/IR:H/AR:H', 'VC:H/VI:L/VA:H/CR:H/IR:H/AR:H'], ['VC:L/VI:H/VA:L/CR:H/IR:M/AR:H', 'VC:L/VI:H/VA:H/CR:H/IR:M/AR:M', 'VC:H/VI:L/VA:H/CR:M/IR:H/AR:M', 'VC:H/VI:L/VA:L/CR:M/IR:H/AR:H', 'VC:L/VI:L/VA:H/CR:H/IR:H/AR:M']],
    [[], ['VC:L/VI:L/VA:L/CR:H/IR:H/AR:H']],
  ],
  eq4: [['SC:H/SI:S/SA:S'], ['SC:H/SI:H/SA:H'], ['SC:L/SI:L/SA:L']],
  eq5: [['E:A'], ['E:P'], ['E:U']],
} as const;
// Depth of each MacroVector class in severity-distance steps (+1), spec data.
const MAX_SEVERITY = { eq1: [1, 4, 5], eq2: [1, 2], eq3eq6: [[7, 6], [8, 8], [NaN, 10]], eq4: [6, 5, 4], eq5: [1, 1, 1] };

const LOOKUP = MACROVECTORS as Record<string, number>;

function score4(vector: string): number {
  const parts = vector.split('/');
  const given = metrics(vector, parts.slice(1), V4_ALLOWED, V4_BASE);
  // Base score: threat and environmental metrics at their defaults (E:X→A, CR/IR/AR:X→H, M*:X→base).
  const m = (k: string): string => {
    if (k === 'E') return 'A';
    if (k === 'CR' || k === 'IR' || k === 'AR') return 'H';
    return given.get(k)!;
  };
  if (['VC', 'VI', 'VA', 'SC', 'SI', 'SA'].every((k) => m(k) === 'N')) return 0;
  const AV = m('AV'), PR = m('PR'), UI = m('UI');
  const eq1 = AV === 'N' && PR === 'N' && UI === 'N' ? 0 : (AV === 'N' || PR === 'N' || UI === 'N') && AV !== 'P' ? 1 : 2;
  const eq2 = m('AC') === 'L' && m('AT') === 'N' ? 0 : 1;
  const VC = m('VC'), VI = m('VI'), VA = m('VA');
  const eq3 = VC === 'H' && VI === 'H' ? 0 : VC === 'H' || VI === 'H' || VA === 'H' ? 1 : 2;
  const eq4 = m('SI') === 'S' || m('SA') === 'S' ? 0 : m('SC') === 'H' || m('SI') === 'H' || m('SA') === 'H' ? 1 : 2;
  const eq5 = 0; // E:A
  const eq6 = (m('CR') === 'H' && VC === 'H') || (m('IR') === 'H' && VI === 'H') || (m('AR') === 'H' && VA === 'H') ? 0 : 1;
  const key = (a: number, b: number, c: number, d: number, e: number, f: number) => `${a}${b}${c}${d}${e}${f}`;
  const value = LOOKUP[key(eq1, eq2, eq3, eq4, eq5, eq6)];
  if (value === undefined) bad(vector, 'no MacroVector score (internal table gap)');
  const at = (k: string) => LOOKUP[k] ?? NaN;
  const lower1 = at(key(eq1 + 1, eq2, eq3, eq4, eq5, eq6));
  const lower2 = at(key(eq1, eq2 + 1, eq3, eq4, eq5, eq6));
  let lower36: number;
  if (eq3 === 0 && eq6 === 0) {
    // Two ways down; the spec takes the higher-scoring neighbour.
    const left = at(key(eq1, eq2, eq3, eq4, eq5, eq6 + 1));
    const right = at(key(eq1, eq2, eq3 + 1, eq4, eq5, eq6));
    lower36 = left > right ? left : right;
  } else if (eq3 === 1 && eq6 === 0) lower36 = at(key(eq1, eq2, eq3, eq4, eq5, eq6 + 1));
  else if ((eq3 === 0 || eq3 === 1) && eq6 === 1) lower36 = at(key(eq1, eq2, eq3 + 1, eq4, eq5, eq6));
  else lower36 = at(key(eq1, eq2, eq3 + 1, eq4, eq5, eq6 + 1));
  const lower4 = at(key(eq1, eq2, eq3, eq4 + 1, eq5, eq6));
  const lower5 = at(key(eq1, eq2, eq3, eq4, eq5 + 1, eq6));

  // Severity distance from the highest-severity vector of the class that the vector is not more severe than.
  const maxes: string[] = [];
  for (const a of MAX_COMPOSED.eq1[eq1]!)
    for (const b of MAX_COMPOSED.eq2[eq2]!)
      for (const c of MAX_COMPOSED.eq3[eq3]![eq6]!)
        for (const d of MAX_COMPOSED.eq4[eq4]!) for (const e of MAX_COMPOSED.eq5[eq5]!) maxes.push(`${a}/${b}/${c}/${d}/${e}`);
  const names = ['AV', 'PR', 'UI', 'AC', 'AT', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA', 'CR', 'IR', 'AR'];
  let dist: Record<string, number> = {};
  for (const mv of maxes) {
    const mm = new Map(mv.split('/').map((p) => p.split(':') as [string, string]));
    dist = {};
    for (const n of names) dist[n] = LEVEL[n]![m(n)]! - LEVEL[n]![mm.get(n)!]!;
    if (!names.some((n) => dist[n]! < 0)) break;
  }
  const d = (k: string) => dist[k]!;
  const cur1 = d('AV') + d('PR') + d('UI');
  const cur2 = d('AC') + d('AT');
  const cur36 = d('VC') + d('VI') + d('VA') + d('CR') + d('IR') + d('AR');
  const cur4 = d('SC') + d('SI') + d('SA');
  const step = 0.1;
  const parts5: Array<[number, number, number]> = [
    [value - lower1, cur1, MAX_SEVERITY.eq1[eq1]! * step],
    [value - lower2, cur2, MAX_SEVERITY.eq2[eq2]! * step],
    [value - lower36, cur36, MAX_SEVERITY.eq3eq6[eq3]![eq6]! * step],
    [value - lower4, cur4, MAX_SEVERITY.eq4[eq4]! * step],
  ];
  let n = 0;
  let sum = 0;
  for (const [avail, cur, max] of parts5) {
    if (Number.isNaN(avail)) continue;
    n++;
    sum += avail * (cur / max);
  }
  if (!Number.isNaN(value - lower5)) n++; // eq5's proportion is always 0
  let v = value - (n === 0 ? 0 : sum / n);
  if (v < 0) v = 0;
  if (v > 10) v = 10;
  return Math.round(v * 10) / 10;
}

export const MAX_CVSS_VECTOR_LENGTH = 512;

/** Computes the base score of a CVSS v2, v3.x or v4.0 vector; throws CVSS_INVALID otherwise. */
export function cvssBaseScore(vector: string): CVSSScore {
  if (typeof vector !== 'string' || vector.length === 0) bad(String(vector), 'empty');
  if (vector.length > MAX_CVSS_VECTOR_LENGTH) bad(vector, 'too long');
  if (vector.startsWith('CVSS:3.0/') || vector.startsWith('CVSS:3.1/')) {
    return { version: vector.startsWith('CVSS:3.0/') ? '3.0' : '3.1', vector, baseScore: score3(vector) };
  }
  if (vector.startsWith('CVSS:4.0/')) return { version: '4.0', vector, baseScore: score4(vector) };
  if (vector.startsWith('CVSS:2.0/') || /^\(?AV:[LAN]\//.test(vector)) return { version: '2.0', vector, baseScore: score2(vector) };
  return bad(vector, 'unknown CVSS version prefix');
}

export type SeverityLevel = 'none' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITY_LEVELS: readonly SeverityLevel[] = ['none', 'low', 'medium', 'high', 'critical'];

/** CVSS qualitative rating scale (v3/v4; v2 scores are mapped with the same bands). */
export function levelOfScore(score: number): SeverityLevel {
  if (score === 0) return 'none';
  if (score < 4) return 'low';
  if (score < 7) return 'medium';
  if (score < 9) return 'high';
  return 'critical';
}

export function levelRank(l: SeverityLevel): number {
  return SEVERITY_LEVELS.indexOf(l);
}
