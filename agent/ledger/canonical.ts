// Canonical JSON (RFC 8785, JCS): object keys sorted by UTF-16 code units, no whitespace, numbers
// and strings as ECMAScript JSON.stringify writes them. A record's hash is over these bytes, and
// each ledger line IS the canonical form, so a line edited in any way (even whitespace) that still
// parses no longer re-encodes to itself.
export function canonicalJSON(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`${v} has no JSON form`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  if (typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort();
    return `{${keys.map((k) => {
      if (o[k] === undefined) throw new TypeError(`key ${JSON.stringify(k)} is undefined`);
      return `${JSON.stringify(k)}:${canonicalJSON(o[k])}`;
    }).join(',')}}`;
  }
  throw new TypeError(`a ${typeof v === 'object' ? (v as object).constructor?.name ?? 'object' : typeof v} has no JSON form`);
}
