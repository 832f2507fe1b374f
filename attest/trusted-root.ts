// Sigstore trusted roots (protobuf-specs TrustedRoot JSON): from a file or bytes the caller got
// through TUF, or — with no network — the public-good root shipped inside @sigstore/tuf's
// seeds.json. Every root is pre-validated before @sigstore/verify sees it: that library treats an
// entry without a validity start as valid since the beginning of time, which would let a key
// added today vouch for signatures dated years ago; we refuse such a root as malformed.
import { createHash } from 'node:crypto';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import seeds from '@sigstore/tuf/seeds.json' with { type: 'json' };
import { AttestError } from './errors.ts';
import { decodeBase64, decodeUTF8, isRecord, parseJSON } from './encoding.ts';
import { MAX_TRUSTED_ROOT_BYTES } from './limits.ts';

export const PUBLIC_GOOD_TUF_URL = 'https://tuf-repo-cdn.sigstore.dev';
const MEDIA_TYPES = ['application/vnd.dev.sigstore.trustedroot+json;version=0.1', 'application/vnd.dev.sigstore.trustedroot.v0.1+json', 'application/vnd.dev.sigstore.trustedroot.v0.2+json'];

export interface LoadedTrustedRoot {
  root: TrustedRoot;
  /** Parsed once; shared by every verification against this root. */
  material: TrustMaterial;
  /** Where it came from (a path, a TUF target name, or the embedded public-good root). */
  source: string;
  digest: { sha256: string };
}

function invalid(source: string, path: string, message: string): AttestError {
  return new AttestError('SIGSTORE_TRUSTED_ROOT_INVALID', `Trusted root ${source}: ${path} ${message}.`, 'usage', { details: { path } });
}

function checkValidFor(v: unknown, path: string, source: string): void {
  if (!isRecord(v)) throw invalid(source, path, 'is missing (every trusted key and CA needs a validity period with a start)');
  if (typeof v.start !== 'string' || v.start === '') throw invalid(source, `${path}.start`, 'is missing (an entry without a validity start is malformed)');
  const start = Date.parse(v.start);
  if (Number.isNaN(start)) throw invalid(source, `${path}.start`, 'is not a timestamp');
  if (v.end !== undefined && v.end !== null) {
    if (typeof v.end !== 'string' || Number.isNaN(Date.parse(v.end))) throw invalid(source, `${path}.end`, 'is not a timestamp');
    if (Date.parse(v.end) < start) throw invalid(source, `${path}.end`, 'is before its start');
  }
}

function checkB64(v: unknown, path: string, source: string, required = true): void {
  if (v === undefined && !required) return;
  if (typeof v !== 'string' || v === '') throw invalid(source, path, 'is missing');
  try {
    decodeBase64(v, path);
  } catch {
    throw invalid(source, path, 'is not base64');
  }
}

/** Structural checks @sigstore/verify does not make (see the header). */
export function prevalidateTrustedRoot(v: unknown, source: string): void {
  if (!isRecord(v)) throw invalid(source, '$', 'must be a JSON object');
  if (typeof v.mediaType !== 'string' || !MEDIA_TYPES.includes(v.mediaType)) throw invalid(source, 'mediaType', `is ${JSON.stringify(v.mediaType)}, not a known trusted root media type`);
  for (const kind of ['tlogs', 'ctlogs'] as const) {
    const list = v[kind] ?? [];
    if (!Array.isArray(list)) throw invalid(source, kind, 'must be an array');
    list.forEach((t, i) => {
      const p = `${kind}[${i}]`;
      if (!isRecord(t)) throw invalid(source, p, 'must be an object');
      if (!isRecord(t.publicKey)) throw invalid(source, `${p}.publicKey`, 'is missing');
      checkB64(t.publicKey.rawBytes, `${p}.publicKey.rawBytes`, source);
      if (typeof t.publicKey.keyDetails !== 'string') throw invalid(source, `${p}.publicKey.keyDetails`, 'is missing');
      checkValidFor(t.publicKey.validFor, `${p}.publicKey.validFor`, source);
      if (!isRecord(t.logId)) throw invalid(source, `${p}.logId`, 'is missing');
      checkB64(t.logId.keyId, `${p}.logId.keyId`, source);
    });
  }
  for (const kind of ['certificateAuthorities', 'timestampAuthorities'] as const) {
    const list = v[kind] ?? [];
    if (!Array.isArray(list)) throw invalid(source, kind, 'must be an array');
    list.forEach((ca, i) => {
      const p = `${kind}[${i}]`;
      if (!isRecord(ca)) throw invalid(source, p, 'must be an object');
      const certs = isRecord(ca.certChain) ? ca.certChain.certificates : undefined;
      if (!Array.isArray(certs) || certs.length === 0) throw invalid(source, `${p}.certChain.certificates`, 'is empty');
      certs.forEach((c, j) => checkB64(isRecord(c) ? c.rawBytes : undefined, `${p}.certChain.certificates[${j}].rawBytes`, source));
      checkValidFor(ca.validFor, `${p}.validFor`, source);
    });
  }
}

/** Loads a trusted root from JSON bytes/text (a file or a TUF target). */
export function loadTrustedRoot(input: Uint8Array | string, source: string): LoadedTrustedRoot {
  const v = parseJSON(input, `trusted root ${source}`, { maxBytes: MAX_TRUSTED_ROOT_BYTES });
  prevalidateTrustedRoot(v, source);
  let root: TrustedRoot;
  let material: TrustMaterial;
  try {
    root = TrustedRoot.fromJSON(v);
    material = toTrustMaterial(root);
  } catch (e) {
    throw new AttestError('SIGSTORE_TRUSTED_ROOT_INVALID', `Trusted root ${source} could not be used: ${(e as Error).message}.`, 'usage', { cause: e });
  }
  const digest = createHash('sha256').update(input).digest('hex');
  return { root, material, source, digest: { sha256: digest } };
}

let publicGood: LoadedTrustedRoot | undefined;

/**
 * The Sigstore public-good trusted root as shipped in @sigstore/tuf's seeds.json — offline, no TUF
 * refresh. Its trust rests on the installed package (and our bundled binary), like any pinned root;
 * callers that can refresh through TUF should pass that target instead.
 */
export function publicGoodTrustedRoot(): LoadedTrustedRoot {
  if (publicGood) return publicGood;
  const repo = (seeds as Record<string, { targets?: Record<string, string> }>)[PUBLIC_GOOD_TUF_URL];
  const b64 = repo?.targets?.['trusted_root.json'];
  if (!b64) throw new AttestError('SIGSTORE_TRUSTED_ROOT_MISSING', 'The embedded public-good trusted root is missing from @sigstore/tuf; pass --trusted-root.', 'environment');
  const bytes = decodeBase64(b64, 'seeds.json trusted_root.json');
  decodeUTF8(bytes, 'seeds.json trusted_root.json');
  publicGood = loadTrustedRoot(bytes, `${PUBLIC_GOOD_TUF_URL}/targets/trusted_root.json (embedded in @sigstore/tuf)`);
  return publicGood;
}
