// `tollgate appraise …`, the verifier's command group. `tollgate appraise EVIDENCE` (here) appraises
// evidence against an enrolled device record and reference values, with no TPM, and answers with
// a signed EAR. The enrolment subcommand (`tollgate appraise enroll …`) is defined with the other
// enrolment commands in ./enroll.ts and registered with this group below. This module only reads
// the inputs, signs and writes the result.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { CommandContext, CommandSpec } from '../command.ts';
import { optString, requireOption } from '../options.ts';
import { TollgateError, parseNonce } from '../../hardware/index.ts';
import { appraise as A, cose, eat, ear } from '../../attest/index.ts';
import { readInputFile, writeOutputFile } from '../files.ts';
import { VERSION } from '../version.ts';
import { appraiseEnroll } from './enroll.ts';

const MAX_INPUT = 64 * 1024 * 1024;

function verifierKey(ctx: CommandContext, path: string): KeyObject {
  const pem = readInputFile(ctx, '--key', path, 1024 * 1024);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new A.AppraiseError('APPRAISE_KEY_INVALID', `--key ${path} is not a private key in PEM (${(e as Error).message}); give the verifier's EC P-256 or P-384 private key.`, { cause: e });
  }
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve !== 'prime256v1' && curve !== 'secp384r1') throw new A.AppraiseError('APPRAISE_KEY_INVALID', `--key ${path} is a ${key.asymmetricKeyType ?? 'unknown'} key${curve ? ` on ${curve}` : ''}; EARs are signed with EC P-256 (ES256) or P-384 (ES384).`);
  return key;
}

/** The record is the verifier's own input here: one that does not parse is a usage error (exit 2). */
function deviceRecord(bytes: Buffer): A.DeviceRecord {
  try {
    return A.parseDeviceRecord(bytes);
  } catch (e) {
    if (e instanceof TollgateError && e.code === 'ENROL_RECORD_INVALID') throw new A.AppraiseError('APPRAISE_RECORD_INVALID', `--device: ${e.message}`, { cause: e });
    throw e;
  }
}

const appraiseCmd: CommandSpec = {
  path: ['appraise'],
  summary: 'Appraise device evidence against its enrolment record and reference values (no TPM); prints an EAR, exit 0 affirming, 1 contraindicated.',
  usage: [
    'tollgate appraise EVIDENCE --device RECORD --nonce HEX [--reference FILE] [--key PEM] [--out FILE] [--format jwt|cbor]',
    '                  [--previous FILE] [--state-out FILE] [--fail-on-warning] [--json]',
    '',
    'Checks, each reported as a claim: the COSE signature by the enrolled device key, the AK\'s',
    'certification of that key, the quote by the enrolled AK and its binding to every claim, the nonce,',
    'a TPM clock later than in --previous, the event logs replayed to the quoted PCRs, and the reference',
    'values (README "Evidence and appraisal"). The result is an EAR (draft-ietf-rats-ear); with --key it',
    'is signed (JWT by default, or a CWT with --format cbor) and --out writes it. --state-out writes what',
    'to pass as --previous next time (TPM clock, log replay state); it is written only for evidence that',
    'is authentic and fresh. Exit codes: 0 affirming or warning (1 for warning with --fail-on-warning),',
    '1 contraindicated or undecodable evidence, 2 a problem with the inputs.',
    'Enrolment, which writes the RECORD, is `tollgate appraise enroll` (see its --help).',
  ].join('\n'),
  positionals: [{ name: 'evidence', required: true }],
  options: {
    device: { type: 'string', valueName: 'RECORD', description: 'The enrolled-device record (JSON, from tollgate appraise enroll).' },
    nonce: { type: 'string', valueName: 'HEX', description: 'The nonce the verifier issued for this evidence.' },
    reference: { type: 'string', valueName: 'FILE', description: 'Reference values: the acceptable set of machines (JSON).' },
    key: { type: 'string', valueName: 'PEM', description: 'The verifier\'s private key (EC P-256/P-384) that signs the EAR.' },
    out: { type: 'string', valueName: 'FILE', description: 'Write the signed EAR here (needs --key).' },
    format: { type: 'string', valueName: 'jwt|cbor', description: 'EAR form: a JWT (default) or a CWT (COSE_Sign1).' },
    previous: { type: 'string', valueName: 'FILE', description: 'The state --state-out wrote at the last appraisal of this device.' },
    'state-out': { type: 'string', valueName: 'FILE', description: 'Write the state to pass as --previous next time (may be the same file).' },
    'fail-on-warning': { type: 'boolean', description: 'Exit 1 for a warning result too.' },
  },
  async run(ctx) {
    const evidenceFile = ctx.positionals[0]!;
    const nonce = parseNonce(requireOption(ctx, 'nonce', 'HEX'));
    const format = optString(ctx, 'format') ?? 'jwt';
    if (format !== 'jwt' && format !== 'cbor') throw new TollgateError('CLI_OPTION_VALUE', `--format ${format} is not jwt or cbor.`, 'usage');
    const out = optString(ctx, 'out');
    const keyFile = optString(ctx, 'key');
    if (out !== undefined && keyFile === undefined) throw new TollgateError('CLI_MISSING_OPTION', '--out writes a signed EAR: give the verifier\'s key with --key PEM.', 'usage');
    const device = deviceRecord(readInputFile(ctx, '--device', requireOption(ctx, 'device', 'device.json'), MAX_INPUT));
    const refFile = optString(ctx, 'reference');
    const reference = refFile === undefined ? undefined : A.parseReferenceValues(readInputFile(ctx, '--reference', refFile, MAX_INPUT));
    const prevFile = optString(ctx, 'previous');
    const previous = prevFile === undefined ? undefined : A.parseAppraisalState(readInputFile(ctx, '--previous', prevFile, MAX_INPUT));
    const key = keyFile === undefined ? undefined : verifierKey(ctx, keyFile);
    const evidence = readInputFile(ctx, 'EVIDENCE', evidenceFile, eat.MAX_EVIDENCE_BYTES);

    const r = A.appraise(evidence, {
      device, nonce, ...(reference ? { reference } : {}), ...(previous ? { previous } : {}),
      verifierId: { developer: 'tollgate', build: `tollgate ${VERSION}` },
    });

    let signed: { format: string; file?: string; token?: string } | undefined;
    if (key) {
      const signer = cose.softwareCoseSigner(key);
      const bytes = format === 'cbor' ? await ear.signEARCWT(r.ear, signer) : `${await ear.signEARJWT(r.ear, signer)}\n`;
      signed = { format, ...(out !== undefined ? { file: writeOutputFile(ctx, out, bytes) } : {}), ...(format === 'jwt' && out === undefined ? { token: (bytes as string).trim() } : {}) };
    }
    const stateOut = optString(ctx, 'state-out');
    const stateFile = stateOut !== undefined && r.next ? writeOutputFile(ctx, stateOut, A.serializeAppraisalState(r.next)) : undefined;

    const lines = [A.renderAppraisal(r).trimEnd()];
    if (signed?.file) lines.push(`Wrote the EAR signed as a ${signed.format === 'cbor' ? 'CWT' : 'JWT'} to ${signed.file}.`);
    else if (signed?.token) lines.push(`EAR (JWT): ${signed.token}`);
    else if (!key) lines.push('The EAR is not signed (no --key).');
    if (stateOut !== undefined) lines.push(stateFile ? `Stored the state for the next appraisal in ${stateFile}.` : `Did not update ${stateOut}: the evidence was not authentic and fresh.`);
    ctx.result({
      status: r.status, ear: ear.earToJSON(r.ear), facts: r.facts, ...(signed ? { signed } : {}),
      ...(r.next ? { next: JSON.parse(A.serializeAppraisalState(r.next)) } : {}), ...(stateFile ? { stateFile } : {}),
    }, lines.join('\n'));
    if (r.status === 'affirming') return 0;
    if (r.status === 'warning') return ctx.values['fail-on-warning'] === true ? 1 : 0;
    return 1;
  },
};

/** The `appraise` group: appraisal of evidence, and the verifier side of enrolment. */
export const commands: CommandSpec[] = [appraiseCmd, appraiseEnroll];
