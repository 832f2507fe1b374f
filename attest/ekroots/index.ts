// The EK root store a verifier appraises TPMs against: the public TPM vendor root and intermediate
// CAs shipped in this directory (built into the binary through roots.json, see SOURCES.md), or a
// directory of CA files the operator keeps (keylime's tpm_cert_store layout works as is), plus
// operator PEM bundles (a private TPM vendor CA; swtpm-localca's issuer and root in tests).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EKChainError, EKRootStore, anchorFromDER, anchorsFromPEM, parseCertificates, X509Error, type EKAnchor } from '../../hardware/index.ts';
import ROOTS from './roots.json' with { type: 'json' };

/** Largest CA file read from a directory or bundle. */
const MAX_CA_FILE = 4 * 1024 * 1024;
const MAX_DIR_FILES = 4096;
const CA_EXTENSIONS = ['.pem', '.crt', '.cer', '.der'];

let builtin: EKRootStore | undefined;

/** The vendor CAs built into tollgate (parsed once). */
export function builtinEKRootStore(): EKRootStore {
  builtin ??= new EKRootStore(ROOTS.certificates.map((c) => anchorFromDER(Buffer.from(c.der, 'base64'), `builtin:${c.sources[0]}`)));
  return builtin;
}

function readCAFile(path: string): Buffer {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new EKChainError('EK_ROOT_STORE_INVALID', `${path} is not a file; give a PEM or DER CA certificate file.`, { details: { path } });
    if (st.size > MAX_CA_FILE) throw new EKChainError('EK_ROOT_STORE_INVALID', `${path} is ${st.size} bytes; CA files over ${MAX_CA_FILE} bytes are refused.`, { details: { path } });
    return readFileSync(path);
  } catch (e) {
    if (e instanceof EKChainError) throw e;
    throw new EKChainError('EK_ROOT_STORE_INVALID', `Cannot read the CA file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path.`, { cause: e, details: { path } });
  }
}

/** The certificates of one CA file: PEM (one or more blocks) or DER (one or more concatenated). */
export function readCAFileAnchors(path: string, source = path): EKAnchor[] {
  const bytes = readCAFile(path);
  if (bytes.includes('-----BEGIN')) return anchorsFromPEM(bytes.toString('latin1'), source);
  try {
    const certs = parseCertificates(bytes);
    return certs.map((cert, i) => ({ cert, source: certs.length > 1 ? `${source}#${i + 1}` : source }));
  } catch (e) {
    if (e instanceof X509Error) throw new EKChainError('EK_ROOT_STORE_INVALID', `${source} is neither PEM nor DER certificates: ${e.message}`, { cause: e, details: { path } });
    throw e;
  }
}

/** Every CA file (.pem .crt .cer .der) directly in `dir`, in name order. */
export function readCADirectory(dir: string): EKAnchor[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new EKChainError('EK_ROOT_STORE_INVALID', `Cannot read the CA directory ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path.`, { cause: e, details: { path: dir } });
  }
  const files = names.filter((n) => CA_EXTENSIONS.some((x) => n.toLowerCase().endsWith(x)));
  if (files.length > MAX_DIR_FILES) throw new EKChainError('EK_ROOT_STORE_INVALID', `${dir} holds ${files.length} CA files; at most ${MAX_DIR_FILES} are read.`, { details: { path: dir } });
  const out: EKAnchor[] = [];
  for (const n of files) out.push(...readCAFileAnchors(join(dir, n), `${dir}/${n}`));
  if (out.length === 0) throw new EKChainError('EK_ROOT_STORE_INVALID', `${dir} holds no CA certificate files (${CA_EXTENSIONS.join(' ')}).`, { details: { path: dir } });
  return out;
}

/**
 * The EK root store: the built-in vendor CAs, or (when `dir` is given) the CA files of that
 * directory instead; plus every PEM/DER bundle in `caFiles` (operator CAs, e.g. swtpm-localca).
 */
export function loadEKRootStore(dir?: string, caFiles: readonly string[] = []): EKRootStore {
  const base = dir === undefined ? builtinEKRootStore() : new EKRootStore(readCADirectory(dir));
  if (caFiles.length === 0) return base;
  return base.with(caFiles.flatMap((f) => readCAFileAnchors(f, `operator:${f}`)));
}
