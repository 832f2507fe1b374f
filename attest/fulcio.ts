// The claims Fulcio writes into a GitHub Actions signing certificate (OIDs 1.3.6.1.4.1.57264.1.*,
// https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md): which repository, ref and commit
// the workflow ran for and on what kind of runner. Read from the leaf certificate's DER with a
// small bounds-checked walker (Node's X509Certificate does not expose extensions by OID). Only
// called on certificates that already verified against the trusted root.
import { AttestError } from './errors.ts';

export interface FulcioClaims {
  /** OIDC issuer (1.8, or the deprecated 1.1). */
  issuer?: string;
  /** https://github.com/OWNER/REPO (1.12, or https://github.com/ + the deprecated 1.5). */
  sourceRepositoryUri?: string;
  /** refs/heads/… or refs/tags/… (1.14, or the deprecated 1.6). */
  sourceRepositoryRef?: string;
  /** The commit (1.13, or the deprecated 1.3). */
  sourceRepositoryDigest?: string;
  /** 'github-hosted' or 'self-hosted' (1.11). */
  runnerEnvironment?: string;
}

interface TLV {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

function malformed(what: string): AttestError {
  return new AttestError('SIGSTORE_CERTIFICATE_MALFORMED', `The signing certificate could not be read: ${what}.`);
}

function readTLV(b: Uint8Array, at: number, limit: number): TLV {
  if (at + 2 > limit) throw malformed('truncated DER header');
  const tag = b[at]!;
  if ((tag & 0x1f) === 0x1f) throw malformed('multi-byte DER tags are not used in certificates');
  let len = b[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw malformed('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw malformed('DER value runs past its container');
  return { tag, start, end };
}

function children(b: Uint8Array, parent: TLV): TLV[] {
  const out: TLV[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const c = readTLV(b, at, parent.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

function oidString(b: Uint8Array, t: TLV): string {
  if (t.tag !== 0x06 || t.end === t.start) throw malformed('an extension id is not an OID');
  const subids: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw malformed('an OID arc is too large');
    if (!(b[i]! & 0x80)) {
      subids.push(v);
      v = 0;
    }
  }
  if (v !== 0 || (b[t.end - 1]! & 0x80)) throw malformed('an OID ends inside an arc');
  // The first subidentifier packs the first two arcs (X.690 8.19.4).
  const first = subids[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...subids.slice(1)].join('.');
}

const FULCIO_ARC = '1.3.6.1.4.1.57264.1.';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Every 1.3.6.1.4.1.57264.1.N extension of a DER certificate, by N, as text. */
export function fulcioExtensions(der: Uint8Array): Map<number, string> {
  const cert = readTLV(der, 0, der.length);
  if (cert.tag !== 0x30 || cert.end !== der.length) throw malformed('not a DER certificate');
  const tbs = children(der, cert)[0];
  if (!tbs || tbs.tag !== 0x30) throw malformed('no TBSCertificate');
  const exts = children(der, tbs).find((c) => c.tag === 0xa3);
  const out = new Map<number, string>();
  if (!exts) return out;
  const seq = children(der, exts)[0];
  if (!seq || seq.tag !== 0x30) throw malformed('extensions are not a SEQUENCE');
  for (const ext of children(der, seq)) {
    const parts = children(der, ext);
    const oid = oidString(der, parts[0] ?? { tag: 0, start: 0, end: 0 });
    if (!oid.startsWith(FULCIO_ARC)) continue;
    const n = Number(oid.slice(FULCIO_ARC.length));
    const value = parts[parts.length - 1];
    if (!Number.isInteger(n) || !value || value.tag !== 0x04) throw malformed(`extension ${oid} has no value`);
    // 1.1–1.7 hold the raw string; 1.8 and later a DER UTF8String.
    let s = der.subarray(value.start, value.end);
    if (n >= 8) {
      const inner = readTLV(der, value.start, value.end);
      if (inner.tag !== 0x0c || inner.end !== value.end) throw malformed(`extension ${oid} is not a UTF8String`);
      s = der.subarray(inner.start, inner.end);
    }
    try {
      out.set(n, utf8.decode(s));
    } catch {
      throw malformed(`extension ${oid} is not UTF-8`);
    }
  }
  return out;
}

/** The GitHub Actions claims of a Fulcio certificate (new OIDs preferred, deprecated ones as fallback). */
export function fulcioClaims(der: Uint8Array): FulcioClaims {
  const x = fulcioExtensions(der);
  const pick = (n: number, old?: number): string | undefined => x.get(n) ?? (old !== undefined ? x.get(old) : undefined);
  const repo = x.get(12) ?? (x.get(5) !== undefined ? `https://github.com/${x.get(5)}` : undefined);
  const claims: FulcioClaims = {};
  const issuer = pick(8, 1);
  if (issuer !== undefined) claims.issuer = issuer;
  if (repo !== undefined) claims.sourceRepositoryUri = repo;
  const ref = pick(14, 6);
  if (ref !== undefined) claims.sourceRepositoryRef = ref;
  const digest = pick(13, 3);
  if (digest !== undefined) claims.sourceRepositoryDigest = digest;
  const runner = x.get(11);
  if (runner !== undefined) claims.runnerEnvironment = runner;
  return claims;
}
