// Evidence files as producers publish them: a Sigstore bundle, a DSSE envelope, JSON Lines of
// either (slsa-github-generator's .intoto.jsonl, `gh attestation download`), or the npm registry's
// attestation set ({"attestations":[{"predicateType","bundle"}]}, provenance and publish bundles). Each item is parsed on
// its own, so one malformed line is reported without hiding the others.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Bundle } from '@sigstore/bundle';
import { AttestError } from './errors.ts';
import { decodeUTF8, isRecord, parseJSON } from './encoding.ts';
import { parseBundle, MAX_BUNDLE_BYTES } from './sigstore.ts';
import { parseEnvelope, type Envelope } from './dsse.ts';

/** Evidence as bytes with a name (a path, a TUF target), or a path to read. */
export type EvidenceSource = string | { uri: string; bytes: Uint8Array };

export const MAX_EVIDENCE_BYTES = 64 * 1024 * 1024;

export type EvidenceItem =
  | { kind: 'bundle'; uri: string; digest: { sha256: string }; bundle: Bundle; /** From npm's attestation set: the entry's declared predicateType (unverified). */ npmPredicateType?: string }
  | { kind: 'envelope'; uri: string; digest: { sha256: string }; envelope: Envelope }
  | { kind: 'error'; uri: string; digest?: { sha256: string }; error: AttestError };

/** Reads evidence, refusing files over `maxBytes` before reading them (default 64 MiB). */
export async function readEvidence(src: EvidenceSource, maxBytes = MAX_EVIDENCE_BYTES): Promise<{ uri: string; bytes: Uint8Array }> {
  if (typeof src !== 'string') return src;
  try {
    const st = await stat(src);
    if (st.size > maxBytes) throw new AttestError('ATTEST_JSON_TOO_LARGE', `${src} is ${st.size} bytes, more than the ${maxBytes}-byte limit.`);
    return { uri: src, bytes: await readFile(src) };
  } catch (e) {
    if (e instanceof AttestError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new AttestError(code === 'ENOENT' ? 'EVIDENCE_NOT_FOUND' : 'EVIDENCE_UNREADABLE', `Evidence file ${src} could not be read (${code ?? (e as Error).message}).`, code === 'ENOENT' ? 'usage' : 'environment', { cause: e });
  }
}

const sha256 = (b: Uint8Array): { sha256: string } => ({ sha256: createHash('sha256').update(b).digest('hex') });

function classify(v: unknown, uri: string, digest: { sha256: string }): EvidenceItem {
  try {
    if (isRecord(v) && typeof v.mediaType === 'string' && v.mediaType.startsWith('application/vnd.dev.sigstore.bundle')) {
      return { kind: 'bundle', uri, digest, bundle: parseBundle(v, `bundle ${uri}`) };
    }
    if (isRecord(v) && 'payloadType' in v) return { kind: 'envelope', uri, digest, envelope: parseEnvelope(v, `DSSE envelope ${uri}`) };
    throw new AttestError('EVIDENCE_UNKNOWN', `${uri} is neither a Sigstore bundle (mediaType application/vnd.dev.sigstore.bundle…) nor a DSSE envelope (payloadType).`);
  } catch (e) {
    if (e instanceof AttestError) return { kind: 'error', uri, digest, error: e };
    throw e;
  }
}

/** Parses every item in an evidence file (JSON or JSON Lines). */
export function parseEvidence(uri: string, bytes: Uint8Array): EvidenceItem[] {
  if (bytes.byteLength > MAX_EVIDENCE_BYTES) {
    return [{ kind: 'error', uri, error: new AttestError('ATTEST_JSON_TOO_LARGE', `${uri} is ${bytes.byteLength} bytes, more than the ${MAX_EVIDENCE_BYTES}-byte limit.`) }];
  }
  let text: string;
  try {
    text = decodeUTF8(bytes, uri);
  } catch (e) {
    return [{ kind: 'error', uri, error: e as AttestError }];
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  // One document (possibly pretty-printed over many lines), or one document per line.
  const single = lines.length <= 1 || !lines.every((l) => l.trimStart().startsWith('{') && l.trimEnd().endsWith('}'));
  const docs = single ? [text] : lines;
  return docs.flatMap((doc, i): EvidenceItem[] => {
    const itemUri = docs.length > 1 ? `${uri}#${i + 1}` : uri;
    const digest = docs.length > 1 ? sha256(Buffer.from(doc)) : sha256(bytes);
    try {
      const v = parseJSON(doc, itemUri, { maxBytes: MAX_BUNDLE_BYTES });
      return isRecord(v) && 'attestations' in v ? npmAttestations(v.attestations, itemUri, digest) : [classify(v, itemUri, digest)];
    } catch (e) {
      if (e instanceof AttestError) return [{ kind: 'error', uri: itemUri, error: e }];
      throw e;
    }
  });
}

/** The npm registry's attestation set: each entry's bundle is an item of its own (`uri#attestations[i]`). */
function npmAttestations(list: unknown, uri: string, digest: { sha256: string }): EvidenceItem[] {
  if (!Array.isArray(list) || list.length === 0) {
    return [{ kind: 'error', uri, digest, error: new AttestError('EVIDENCE_UNKNOWN', `${uri}: "attestations" must be a non-empty array of {predicateType, bundle} (the npm registry's attestation set).`) }];
  }
  return list.map((a, i) => {
    const itemUri = `${uri}#attestations[${i}]`;
    if (!isRecord(a) || !isRecord(a.bundle)) return { kind: 'error', uri: itemUri, digest, error: new AttestError('EVIDENCE_UNKNOWN', `${itemUri} has no bundle.`) };
    const item = classify(a.bundle, itemUri, digest);
    return item.kind === 'bundle' && typeof a.predicateType === 'string' ? { ...item, npmPredicateType: a.predicateType } : item;
  });
}
