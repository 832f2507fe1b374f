// The command list the dispatcher reads. Each entry names its words and one-line summary here so
// that `--help` and `--version` never load a command module; `load` imports the module only when
// the command runs. The import strings are static, so esbuild still bundles every module (wrapped
// to evaluate lazily). A module may export any number of CommandSpecs (as `commands`, `default`, or
// named exports); test/cli/registry.test.ts checks that this list and the modules agree.

export interface CommandEntry {
  /** Words after `tollgate`, e.g. ['tpm', 'quote']; must equal the spec's path. */
  path: string[];
  /** Must equal the spec's summary (shown by `tollgate --help`). */
  summary: string;
  load: () => Promise<Record<string, unknown>>;
}

const tpm = () => import('./tpm.ts');
const tuf = () => import('./tuf.ts');
const verify = () => import('./verify.ts');
const conformanceSigstore = () => import('./conformance-sigstore.ts');
const attest = () => import('./attest.ts');
const enroll = () => import('./enroll.ts');
const appraise = () => import('./appraise.ts');
const ledger = () => import('./ledger.ts');

export const commands: CommandEntry[] = [
  { path: ['tpm', 'info'], summary: "Show the TPM: manufacturer, firmware, PCR banks, EK certificates and tollgate's persistent keys.", load: tpm },
  { path: ['tpm', 'provision'], summary: "Create (once) the EK, SRK, AK and device key at tollgate's persistent handles; the AK certifies the device key.", load: tpm },
  { path: ['tpm', 'quote'], summary: 'Quote PCRs with the AK over a nonce; writes quote.msg, quote.sig, quote.pcrs and ak.pub.pem for tpm2_checkquote.', load: tpm },
  { path: ['tpm', 'verify-quote'], summary: "Verify a quote (ours or tpm2_quote's) against an AK public key, PCR values and a nonce; exit 0 valid, 1 not.", load: tpm },
  { path: ['enroll', 'request'], summary: "Write this device's enrolment request (EK certificates, EK, AK and device key, the AK's certification of the device key) for a verifier.", load: enroll },
  { path: ['enroll', 'activate'], summary: "Answer a verifier's enrolment challenge: recover its secret with TPM2_ActivateCredential and write the proof.", load: enroll },
  { path: ['appraise', 'enroll'], summary: "Verifier side of enrolment: check a device's request and write its challenge, or (--finish) check its proof and write the enrolled-device record.", load: appraise },
  { path: ['attest'], summary: 'Make evidence for a verifier: EAT (CWT in COSE_Sign1) with a quote bound to PCRs, event logs and installed software, signed by the device key.', load: attest },
  { path: ['appraise'], summary: 'Appraise device evidence against its enrolment record and reference values (no TPM); prints an EAR, exit 0 affirming, 1 contraindicated.', load: appraise },
  { path: ['init'], summary: 'Pin a TUF root in the TPM and prepare the update state', load: tuf },
  { path: ['update'], summary: 'Refresh TUF metadata and raise the TPM rollback floor', load: tuf },
  { path: ['fetch'], summary: 'Download one TUF target, verify it against its evidence and the policy, and install it only if allowed', load: tuf },
  { path: ['bundle', 'create'], summary: "Pack a repository's metadata and selected targets into an offline bundle", load: tuf },
  { path: ['verify'], summary: 'Verify an artifact against signatures, provenance, SBOMs and a policy; exit 0 allow, 1 deny.', load: verify },
  { path: ['ledger', 'verify'], summary: "Replay the ledger's hash chain and compare it with the TPM's ledger index; exit 0 consistent, 1 tampered.", load: ledger },
  { path: ['ledger', 'show'], summary: 'Print ledger records (all, or from --since SEQ on); the hash chain is checked, the TPM is not used.', load: ledger },
  { path: ['conformance', 'tuf'], summary: 'TUF conformance-suite client (init | refresh | download); no TPM', load: tuf },
  { path: ['conformance', 'sigstore'], summary: 'sigstore-conformance client protocol (verify-bundle); exit 0 only for a valid bundle.', load: conformanceSigstore },
];
