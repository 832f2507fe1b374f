// PEM certificate blocks (RFC 7468): the CERTIFICATE (and legacy X509 CERTIFICATE) blocks of a text,
// with comments and other blocks between them ignored, as CA bundles and vendor files have them.
import { X509Error } from './errors.ts';

/** Largest PEM text we read (the whole built-in vendor store is well under 1 MiB). */
export const MAX_PEM_TEXT = 16 * 1024 * 1024;
export const MAX_PEM_BLOCKS = 4096;

const BLOCK = /-----BEGIN (X509 )?CERTIFICATE-----([\s\S]*?)-----END (X509 )?CERTIFICATE-----/g;

/** The DER of every certificate block, in order. Throws X509Error for base64 that is not. */
export function pemCertificates(text: string): Buffer[] {
  if (typeof text !== 'string') throw new X509Error('X509_MALFORMED', 'Expected PEM text.');
  if (text.length > MAX_PEM_TEXT) throw new X509Error('X509_TOO_LARGE', `The PEM text is ${text.length} characters; more than ${MAX_PEM_TEXT} is refused.`);
  const out: Buffer[] = [];
  for (const m of text.matchAll(BLOCK)) {
    if (out.length >= MAX_PEM_BLOCKS) throw new X509Error('X509_TOO_LARGE', `More than ${MAX_PEM_BLOCKS} certificates in one PEM text.`);
    const body = m[2]!.replace(/[\s]+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 === 1 || body.length === 0) {
      throw new X509Error('X509_MALFORMED', `PEM block ${out.length + 1} is not base64.`, { details: { block: out.length + 1 } });
    }
    out.push(Buffer.from(body, 'base64'));
  }
  return out;
}

/** One certificate as PEM text. */
export function toPEM(der: Uint8Array): string {
  const b = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b}-----END CERTIFICATE-----\n`;
}
