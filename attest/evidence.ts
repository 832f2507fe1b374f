// Evidence files as producers publish them: a Sigstore bundle, a DSSE envelope, JSON Lines of
// either (slsa-github-generator's .intoto.jsonl, `gh attestation download`), or the npm registry's
// attestation set ({"attestations":[{"predicateType","bundle"}]}, provenance and publish bundles). Each item is parsed on
// its own, so one malformed line is reported without hiding the others.
import { createHash } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import { formatCap, readBoundedFile, type ErrorClass } from '../hardware/index.ts';
import { AttestError } from './errors.ts';
import { decodeUTF8, isRecord, jsonTextLimits, parseJSON } from './encoding.ts';
import { parseBundle, MAX_BUNDLE_BYTES } from './sigstore.ts';
import { parseEnvelope, type Envelope } from './dsse.ts';
import { MAX_EVIDENCE_BYTES, MAX_EVIDENCE_ITEMS, MAX_EVIDENCE_VALUES } from './limits.ts';

/** Evidence as bytes with a name (a path, a TUF target), or a path to read. */
export type EvidenceSource = string | { uri: string; bytes: Uint8Array };

export { MAX_EVIDENCE_BYTES };

export type EvidenceItem =
  | { kind: 'bundle'; uri: string; digest: { sha256: string }; bundle: Bundle; /** From npm's attestation set: the entry's declared predicateType (unverified). */ npmPredicateType?: string }
  | { kind: 'envelope'; uri: string; digest: { sha256: string }; envelope: Envelope }
  | { kind: 'error'; uri: string; digest?: { sha256: string }; error: AttestError };

export interface ReadEvidenceOptions {
  /** How the input is named in messages, e.g. "--sbom". */
  what?: string;
  /** Error class when the file is over its cap: 'denied' (default) for evidence, 'usage' for the operator's own files. */
  tooLargeClass?: ErrorClass;
}

/**
 * Reads evidence (or any input attest reads from a path): a regular file of at most `maxBytes`
 * (default 64 MiB), never blocking on a FIFO or reading a device (hardware/files.ts). Errors are
 * InputFileErrors: INPUT_NOT_FOUND / INPUT_NOT_REGULAR (usage), INPUT_TOO_LARGE (denied unless
 * told otherwise), INPUT_UNREADABLE (environment).
 */
export async function readEvidence(src: EvidenceSource, maxBytes = MAX_EVIDENCE_BYTES, o: ReadEvidenceOptions = {}): Promise<{ uri: string; bytes: Uint8Array }> {
  if (typeof src !== 'string') return src;
  const bytes = await readBoundedFile(src, maxBytes, { what: o.what ?? 'evidence file', tooLargeClass: o.tooLargeClass ?? 'denied' });
  return { uri: src, bytes };
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

/**
 * The documents of an evidence file: the whole text when it is one JSON document (possibly over
 * many lines), else its JSON Lines, or how many there are when that is more than `maxItems` (the
 * lines are then not kept). A file is JSON Lines when every non-blank line is one `{…}` object.
 */
function splitDocuments(text: string, maxItems: number): string[] | number {
  const lines: string[] = [];
  let count = 0;
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let a = start;
    let b = end;
    while (a < b && text.charCodeAt(a) <= 0x20) a++;
    while (b > a && text.charCodeAt(b - 1) <= 0x20) b--;
    if (a < b) {
      if (text.charCodeAt(a) !== 0x7b || text.charCodeAt(b - 1) !== 0x7d) return [text];
      if (++count <= maxItems) lines.push(text.slice(start, end));
    }
    start = end + 1;
  }
  if (count > maxItems) return count;
  return count <= 1 ? [text] : lines;
}

/**
 * Parses every item in an evidence file (JSON or JSON Lines). Bounded: at most MAX_EVIDENCE_BYTES,
 * MAX_EVIDENCE_VALUES JSON values in the whole file and `maxItems` (default MAX_EVIDENCE_ITEMS)
 * items, each at most MAX_BUNDLE_BYTES; a file over any of them is one error item naming the limit.
 */
export function parseEvidence(uri: string, bytes: Uint8Array, maxItems = MAX_EVIDENCE_ITEMS): EvidenceItem[] {
  const refuse = (code: string, message: string, details: Record<string, unknown>): EvidenceItem[] => [{ kind: 'error', uri, error: new AttestError(code, message, 'denied', { details }) }];
  if (bytes.byteLength > MAX_EVIDENCE_BYTES) {
    return refuse('INPUT_TOO_LARGE', `${uri} is ${bytes.byteLength} bytes, more than the ${formatCap(MAX_EVIDENCE_BYTES)} limit for an evidence file.`, { size: bytes.byteLength, cap: MAX_EVIDENCE_BYTES });
  }
  let text: string;
  try {
    text = decodeUTF8(bytes, uri);
  } catch (e) {
    return [{ kind: 'error', uri, error: e as AttestError }];
  }
  if (jsonTextLimits(text, Infinity, MAX_EVIDENCE_VALUES) === 'values') {
    return refuse('ATTEST_JSON_TOO_MANY_VALUES', `${uri} holds more than ${MAX_EVIDENCE_VALUES} JSON values (arrays, objects and their elements), the limit for an evidence file.`, { maxValues: MAX_EVIDENCE_VALUES });
  }
  const docs = splitDocuments(text, maxItems);
  if (typeof docs === 'number') {
    return refuse('EVIDENCE_TOO_MANY_ITEMS', `${uri} holds ${docs} JSON Lines items, more than the limit of ${maxItems}${maxItems < MAX_EVIDENCE_ITEMS ? ` left of ${MAX_EVIDENCE_ITEMS} for all evidence files together` : ''}; keep only the attestations about this artifact.`, { items: docs, maxItems });
  }
  const whole = docs.length === 1 ? sha256(bytes) : undefined;
  return docs.flatMap((doc, i): EvidenceItem[] => {
    const itemUri = docs.length > 1 ? `${uri}#${i + 1}` : uri;
    const digest = whole ?? sha256(Buffer.from(doc));
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
