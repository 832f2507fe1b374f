// The device's two steps of enrolment (README.md in this folder):
//   1. buildEnrolRequest: the EK certificate(s) from NV (every slot, low and high range, and the CA
//      certificates of the EK chain indexes), the public area of the EK they certify, the AK's
//      public area and Name, the device key's public area and a fresh TPM2_Certify of it by the AK.
//   2. activateEnrolment: TPM2_ActivateCredential of the verifier's challenge (EK authorized by its
//      policy session, AK through an HMAC session salted to the SRK that also encrypts the
//      recovered secret on the bus), then the proof HMAC-SHA256(secret, enrolmentId ‖ akName).
// Which EK: tollgate provisions the low-range RSA-2048 EK (0x81010001) and ECC P-256 EK
// (0x81010002). The request uses the one a certificate in NV certifies — RSA first, as most TPMs
// ship (swtpm_setup certifies only the RSA-2048 low-range and the P-384 high-range EK, so on swtpm
// it is RSA) — or the one asked for. The verifier answers for whichever EK the request names;
// activation finds it from the challenge's encrypted secret (an RSA-2048 ciphertext or a P-256 point).
import {
  PERSISTENT_HANDLES, TPMError, TPMTPublic, TPM_CC, TpmCryptoError, X509Error, activateAKCredential, certifyDeviceKey, hex32,
  inspectHandles, marshal, objectName, parseCertificate, parseCertificates, pemCertificates, parseIdObject, readEKCertificates, requireAK, ProvisionError,
  type Authorization, type HandleStatus, type TPM, type X509Cert,
} from '../../hardware/index.ts';
import { certifiesEK } from './checks.ts';
import { EnrolError } from './errors.ts';
import { enrolProof } from './verifier.ts';
import { MAX_CERT_BYTES, MAX_EK_CERTS, checkFacts, type EnrolChallenge, type EnrolFacts, type EnrolProof, type EnrolRequest } from './wire.ts';

export type EKChoice = 'rsa' | 'ecc';

export interface BuildRequestOptions {
  facts: EnrolFacts;
  /** Which EK to enrol with (default 'auto': the RSA EK when NV holds its certificate, else the ECC EK). */
  ek?: EKChoice | 'auto';
  /** More certificates (DER) to send, e.g. an EK certificate the TPM vendor publishes online, or its CAs. */
  extraCertificates?: readonly Uint8Array[];
  /** Qualifying data for the device key certification (default 32 random bytes). */
  qualifyingData?: Uint8Array;
}

export interface BuiltRequest {
  request: EnrolRequest;
  ek: EKChoice;
  ekHandle: number;
  /** Where the EK certificate came from: its NV index, or 'extra'. */
  ekCertificateFrom: number | 'extra';
  /** EK certificate indexes that exist but could not be read or parsed. */
  problems: Array<{ index: number; code: string; message: string }>;
}

function notProvisioned(s: HandleStatus | undefined, what: string): never {
  throw new ProvisionError('PROVISION_NOT_PROVISIONED', `This TPM has no tollgate ${what}${s ? ` at ${hex32(s.handle)} (${s.state}${s.reason ? `: ${s.reason}` : ''})` : ''}; run 'tollgate tpm provision' first.`);
}

/** The certificates (DER) of a file: PEM blocks, or one or more concatenated DER certificates. */
export function certificatesOfFile(bytes: Uint8Array, what: string): Buffer[] {
  try {
    const b = Buffer.from(bytes);
    if (b.includes('-----BEGIN')) return pemCertificates(b.toString('latin1'));
    return parseCertificates(b).map((c) => c.der);
  } catch (e) {
    if (e instanceof X509Error) throw new EnrolError('ENROL_OPTIONS_INVALID', `${what} holds no readable certificate: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Reads what the verifier needs from the TPM and makes the enrolment request. */
export async function buildEnrolRequest(tpm: TPM, opts: BuildRequestOptions): Promise<BuiltRequest> {
  const facts = checkFacts(opts.facts, 'ENROL_OPTIONS_INVALID');
  const choice = opts.ek ?? 'auto';
  if (choice !== 'auto' && choice !== 'rsa' && choice !== 'ecc') throw new EnrolError('ENROL_OPTIONS_INVALID', `The EK must be rsa, ecc or auto, not ${String(choice)}.`);
  const status = await inspectHandles(tpm, ['ek-rsa', 'ek-ecc', 'ak', 'device']);
  const at = (role: HandleStatus['role']) => status.find((s) => s.role === role);
  const ak = at('ak');
  const dev = at('device');
  if (ak?.state !== 'ours') notProvisioned(ak, 'AK');
  if (dev?.state !== 'ours') notProvisioned(dev, 'device key');

  const nv = await readEKCertificates(tpm);
  const extras = (opts.extraCertificates ?? []).map((der, i) => {
    if (der.length > MAX_CERT_BYTES) throw new EnrolError('ENROL_OPTIONS_INVALID', `Extra certificate ${i + 1} is ${der.length} bytes; at most ${MAX_CERT_BYTES}.`);
    try {
      return parseCertificate(der, { trailing: 'padding' });
    } catch (e) {
      if (e instanceof X509Error) throw new EnrolError('ENROL_OPTIONS_INVALID', `Extra certificate ${i + 1} is not an X.509 certificate: ${e.message}`, { cause: e });
      throw e;
    }
  });
  const leaves: Array<{ x509: X509Cert; from: number | 'extra' }> = [
    ...nv.certificates.map((c) => ({ x509: c.x509, from: c.index })), ...extras.map((x509) => ({ x509, from: 'extra' as const })),
  ];

  const order: EKChoice[] = choice === 'auto' ? ['rsa', 'ecc'] : [choice];
  let picked: { ek: EKChoice; status: HandleStatus; leaf: X509Cert; from: number | 'extra' } | undefined;
  for (const k of order) {
    const s = at(k === 'rsa' ? 'ek-rsa' : 'ek-ecc');
    if (s?.state !== 'ours') {
      if (choice !== 'auto') notProvisioned(s, `${k.toUpperCase()} EK`);
      continue;
    }
    const hit = leaves.find((l) => certifiesEK(l.x509, s.public!));
    if (hit) {
      picked = { ek: k, status: s, leaf: hit.x509, from: hit.from };
      break;
    }
  }
  if (!picked) {
    const have = nv.certificates.map((c) => `${c.keyType} (${c.range} range) at ${hex32(c.index)}`).join(', ') || 'none';
    throw new EnrolError('ENROL_NO_EK_CERT', `No EK certificate certifies ${choice === 'auto' ? "either of tollgate's EKs" : `tollgate's ${choice.toUpperCase()} EK`} (EK certificates in NV: ${have}); a verifier cannot trust this TPM without one. Give the vendor's EK certificate with --ek-cert, or choose the other EK with --ek.`,
      { details: { certificates: nv.certificates.map((c) => hex32(c.index)), problems: nv.problems } });
  }

  // The certificate for the chosen EK first, then the other EK certificates, then the CAs.
  const ders: Buffer[] = [];
  const add = (d: Buffer) => { if (!ders.some((x) => x.equals(d))) ders.push(d); };
  add(picked.leaf.der);
  for (const l of leaves) add(l.x509.der);
  for (const i of nv.intermediates) add(i.der);
  if (ders.length > MAX_EK_CERTS) ders.length = MAX_EK_CERTS;

  const certification = await certifyDeviceKey(tpm, opts.qualifyingData ? { qualifyingData: opts.qualifyingData } : {});
  const akPublic = marshal(TPMTPublic, ak.public!);
  // Our Name computation must agree with the TPM's, or the verifier would bind the credential to nothing.
  if (!Buffer.from(objectName(akPublic)).equals(ak.name!)) throw new EnrolError('ENROL_AK_NAME_MISMATCH', 'The TPM reports an AK Name that is not the hash of its public area; this TPM cannot be enrolled.');
  const request: EnrolRequest = {
    ekCerts: ders,
    ekPublic: marshal(TPMTPublic, picked.status.public!),
    akPublic,
    akName: Buffer.from(ak.name!),
    deviceKeyPublic: marshal(TPMTPublic, dev.public!),
    deviceKeyCertify: { attest: certification.attestBytes, signature: certification.signatureBytes },
    facts,
  };
  return { request, ek: picked.ek, ekHandle: picked.status.handle, ekCertificateFrom: picked.from, problems: nv.problems };
}

/** The EK a challenge was made for, from the form of its encrypted secret. */
export function challengeEK(encryptedSecret: Uint8Array): EKChoice {
  if (encryptedSecret.length === 256) return 'rsa'; // RSA-2048 OAEP ciphertext
  // TPMS_ECC_POINT of a P-256 ephemeral key: u16 32 ‖ x ‖ u16 32 ‖ y.
  const b = Buffer.from(encryptedSecret);
  if (b.length === 68 && b.readUInt16BE(0) === 32 && b.readUInt16BE(34) === 32) return 'ecc';
  throw new EnrolError('ENROL_CHALLENGE_INVALID', `The challenge's encrypted secret (${b.length} bytes) is made for neither an RSA-2048 nor an ECC P-256 EK.`);
}

// Answers of ActivateCredential that mean "this credential was not made for this TPM's EK and AK".
const NOT_FOR_US = new Set(['TPM_RC_INTEGRITY', 'TPM_RC_VALUE', 'TPM_RC_SIZE', 'TPM_RC_ECC_POINT', 'TPM_RC_INSUFFICIENT', 'TPM_RC_NO_RESULT', 'TPM_RC_KEY', 'TPM_RC_SCHEME']);

/**
 * swtpm 0.7.1 (libtpms) answers ActivateCredential with TPM_RC_FAILURE, not TPM_RC_VALUE, when the
 * encrypted secret does not decrypt under its RSA EK (another TPM's EK, an altered secret), yet is
 * not in failure mode: the next command works. A TPM that answers one more command is taken to
 * have refused the secret; one that does not keeps its failure.
 */
async function stillWorking(tpm: TPM): Promise<boolean> {
  try {
    await tpm.readPublic(PERSISTENT_HANDLES.ak);
    return true;
  } catch {
    return false;
  }
}

export interface ActivateOptions {
  /** The EK the challenge was made for (default: from the encrypted secret's form). */
  ek?: EKChoice;
  endorsementAuth?: Authorization;
}

export interface Activation {
  proof: EnrolProof;
  enrolmentId: string;
  ek: EKChoice;
  /** The AK Name the proof is bound to. */
  akName: Buffer;
}

/** Recovers the challenge's secret with TPM2_ActivateCredential and returns the proof. */
export async function activateEnrolment(tpm: TPM, challenge: EnrolChallenge, opts: ActivateOptions = {}): Promise<Activation> {
  const ek = opts.ek ?? challengeEK(challenge.encryptedSecret);
  try {
    parseIdObject(challenge.credentialBlob, 'sha256');
  } catch (e) {
    if (e instanceof TpmCryptoError) throw new EnrolError('ENROL_CHALLENGE_INVALID', `The challenge's credential blob is not a TPM2B_ID_OBJECT for a SHA-256 EK: ${e.message}`, { cause: e });
    throw e;
  }
  const ak = await requireAK(tpm);
  let secret: Buffer;
  try {
    secret = await activateAKCredential(tpm, {
      credentialBlob: challenge.credentialBlob, secret: challenge.encryptedSecret, ek,
      ...(opts.endorsementAuth !== undefined ? { endorsementAuth: opts.endorsementAuth } : {}),
    });
  } catch (e) {
    if (e instanceof TPMError && e.commandCode === TPM_CC.ActivateCredential && (NOT_FOR_US.has(e.code) || (e.code === 'TPM_RC_FAILURE' && await stillWorking(tpm)))) {
      throw new EnrolError('ENROL_ACTIVATION_FAILED', `The TPM refused to recover the challenge's secret (${e.code}): the challenge was not made for this TPM's ${ek.toUpperCase()} EK and AK, or was altered.`, { cause: e, details: { rc: e.code } });
    }
    throw e;
  }
  try {
    return {
      proof: { proof: enrolProof(secret, challenge.enrolmentId, ak.name) }, enrolmentId: challenge.enrolmentId, ek, akName: Buffer.from(ak.name),
    };
  } finally {
    secret.fill(0);
  }
}
