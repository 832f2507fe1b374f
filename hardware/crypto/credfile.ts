// tpm2-tools' credential file, as written by tpm2_makecredential and read by
// tpm2_activatecredential (tools/tpm2_makecredential.c write_cred_and_secret, lib/files.c
// files_write_header; checked against tpm2-tools 5.4 and master):
//   u32 magic 0xBADCC0DE ‖ u32 version 1 ‖ u16 size ‖ TPM2B_ID_OBJECT body ‖ u16 size ‖ TPM2B_ENCRYPTED_SECRET body
// all big-endian.
import { ByteReader, concat, tpm2b, u32 } from './bytes.ts';
import { MAX_ID_OBJECT, parseIdObject, type MakeCredentialResult } from './credential.ts';
import { MAX_ENCRYPTED_SECRET, checkEncryptedSecret } from './secret.ts';
import type { TpmPublicKey } from './pubkey.ts';
import { invalidArgument, malformed } from './errors.ts';

export const TPM2_TOOLS_MAGIC = 0xbadcc0de;
export const CREDENTIAL_FILE_VERSION = 1;

export function encodeCredentialFile(c: MakeCredentialResult): Uint8Array {
  if (c.credentialBlob.length > MAX_ID_OBJECT) throw invalidArgument(`credentialBlob of ${c.credentialBlob.length} bytes exceeds ${MAX_ID_OBJECT}.`);
  if (c.secret.length > MAX_ENCRYPTED_SECRET) throw invalidArgument(`secret of ${c.secret.length} bytes exceeds ${MAX_ENCRYPTED_SECRET}.`);
  return concat(u32(TPM2_TOOLS_MAGIC), u32(CREDENTIAL_FILE_VERSION), tpm2b(c.credentialBlob), tpm2b(c.secret));
}

const MAX_FILE = 8 + 2 + MAX_ID_OBJECT + 2 + MAX_ENCRYPTED_SECRET;

/**
 * Parses a credential file. With the EK it was made for, the encrypted secret's form is checked
 * too (checkEncryptedSecret: an ECC point's coordinates may be shorter than the field size).
 */
export function parseCredentialFile(bytes: Uint8Array, ek?: TpmPublicKey): MakeCredentialResult {
  if (bytes.length > MAX_FILE) throw malformed(`The credential file is ${bytes.length} bytes; a valid one is at most ${MAX_FILE}.`);
  const rd = new ByteReader(bytes, 'tpm2-tools credential file');
  const magic = rd.u32('magic');
  if (magic !== TPM2_TOOLS_MAGIC) throw malformed(`The credential file has magic 0x${magic.toString(16).padStart(8, '0')}; tpm2-tools files start with 0xbadcc0de.`);
  const version = rd.u32('version');
  if (version !== CREDENTIAL_FILE_VERSION) throw malformed(`The credential file has version ${version}; only version 1 exists.`);
  const credentialBlob = rd.tpm2b('credentialBlob', MAX_ID_OBJECT);
  const secret = rd.tpm2b('secret', MAX_ENCRYPTED_SECRET);
  rd.end();
  parseIdObject(credentialBlob);
  if (secret.length === 0) throw malformed('The credential file has an empty encrypted secret.');
  if (ek) checkEncryptedSecret(ek, secret);
  return { credentialBlob, secret };
}
