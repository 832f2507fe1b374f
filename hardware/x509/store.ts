// A store of trust anchors for EK chains: TPM vendor root and intermediate CA certificates (the
// built-in set in attest/ekroots, a directory such as keylime's tpm_cert_store, an operator's PEM
// bundle). Every certificate in the store is a trust anchor, intermediates included: vendors
// publish intermediates whose roots are not public (or are cross-signed by roots nobody ships),
// and this is the partial-chain model keylime's store and OpenSSL's PARTIAL_CHAIN flag use.
import { parseCertificate, type X509Cert } from './certificate.ts';
import { EKChainError, X509Error } from './errors.ts';
import { pemCertificates } from './pem.ts';

export interface EKAnchor {
  cert: X509Cert;
  /** Where it came from, e.g. "keylime/STM_RSA_05I.pem" or "operator:/etc/tollgate/ek-ca.pem". */
  source: string;
}

export class EKRootStore {
  readonly anchors: readonly EKAnchor[];
  readonly #bySubject = new Map<string, EKAnchor[]>();
  readonly #byFingerprint = new Map<string, EKAnchor>();

  constructor(anchors: Iterable<EKAnchor> = []) {
    const list: EKAnchor[] = [];
    for (const a of anchors) {
      if (this.#byFingerprint.has(a.cert.fingerprint256)) continue; // the same certificate from two sources
      this.#byFingerprint.set(a.cert.fingerprint256, a);
      const k = a.cert.subject.key;
      const l = this.#bySubject.get(k);
      if (l) l.push(a);
      else this.#bySubject.set(k, [a]);
      list.push(a);
    }
    this.anchors = list;
  }

  get size(): number {
    return this.anchors.length;
  }

  /** A new store with these anchors added (duplicates ignored). */
  with(more: Iterable<EKAnchor>): EKRootStore {
    return new EKRootStore([...this.anchors, ...more]);
  }

  /** Anchors whose subject is the certificate's issuer (byte-equal or equal after normalisation). */
  issuersOf(cert: X509Cert): EKAnchor[] {
    return this.#bySubject.get(cert.issuer.key) ?? [];
  }

  has(cert: X509Cert): boolean {
    return this.#byFingerprint.has(cert.fingerprint256);
  }

  get(fingerprint256: string): EKAnchor | undefined {
    return this.#byFingerprint.get(fingerprint256);
  }
}

/** Parses the CERTIFICATE blocks of a PEM text as anchors; an unreadable block is EK_ROOT_STORE_INVALID. */
export function anchorsFromPEM(text: string, source: string): EKAnchor[] {
  let ders: Buffer[];
  try {
    ders = pemCertificates(text);
  } catch (e) {
    if (e instanceof X509Error) throw new EKChainError('EK_ROOT_STORE_INVALID', `${source}: ${e.message}`, { cause: e, details: { source } });
    throw e;
  }
  if (ders.length === 0) throw new EKChainError('EK_ROOT_STORE_INVALID', `${source} holds no PEM certificates ("-----BEGIN CERTIFICATE-----"); give the TPM vendor's CA certificates.`, { details: { source } });
  return ders.map((der, i) => anchorFromDER(der, ders.length > 1 ? `${source}#${i + 1}` : source));
}

/** One DER certificate as an anchor; an unreadable one is EK_ROOT_STORE_INVALID. */
export function anchorFromDER(der: Uint8Array, source: string): EKAnchor {
  try {
    return { cert: parseCertificate(der, { trailing: 'none' }), source };
  } catch (e) {
    if (e instanceof X509Error) throw new EKChainError('EK_ROOT_STORE_INVALID', `${source} does not parse as a certificate: ${e.message}`, { cause: e, details: { source } });
    throw e;
  }
}
