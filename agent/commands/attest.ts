// `tollgate attest`: the device makes evidence for a verifier's nonce (attest/appraise
// createEvidence: quote bound to every claim, signed by the TPM-resident device key), or shows an
// evidence file readably (--show, no TPM). This module only parses flags, opens the TPM, reads
// the install record and writes the file.
import { resolve } from 'node:path';
import type { CommandContext, CommandSpec } from '../command.ts';
import { optString, requireOption } from '../options.ts';
import { TollgateError, openTPM, resolveTPMURI, parseNonce, formatPCRList } from '../../hardware/index.ts';
import { appraise as A, eat } from '../../attest/index.ts';
import { readInputFile, writeOutputFile } from '../files.ts';
import { installedPath, installedSoftware, readInstalled } from '../installed.ts';
import { VERSION } from '../version.ts';

function usage(message: string): TollgateError {
  return new TollgateError('CLI_OPTION_CONFLICT', message, 'usage');
}

function stateRoot(ctx: CommandContext): string {
  return resolve(ctx.cwd, optString(ctx, 'state') ?? ctx.env.TOLLGATE_STATE ?? '/var/lib/tollgate');
}

/** --event-log FILE / --no-event-log / neither (the kernel's log, for the kernel's TPM). */
function logOption(ctx: CommandContext, file: string, none: string): A.LogSource | undefined {
  const f = optString(ctx, file);
  if (f !== undefined && ctx.values[none] === true) throw usage(`--${file} and --${none} contradict each other; give one.`);
  if (ctx.values[none] === true) return false;
  return f === undefined ? undefined : resolve(ctx.cwd, f);
}

function show(ctx: CommandContext, file: string): void {
  const d = eat.decodeEvidence(readInputFile(ctx, '--show', file, eat.MAX_EVIDENCE_BYTES));
  ctx.result(eat.evidenceJSON(d), eat.renderEvidence(d));
}

const attest: CommandSpec = {
  path: ['attest'],
  summary: 'Make evidence for a verifier: EAT (CWT in COSE_Sign1) with a quote bound to PCRs, event logs and installed software, signed by the device key.',
  usage: [
    'tollgate attest --nonce HEX --out FILE [--pcrs LIST] [--event-log FILE | --no-event-log] [--ima-log FILE | --no-ima-log]',
    '                [--ima-offset N] [--ek rsa|ecc] [--state DIR] [--tpm URI] [--json]',
    'tollgate attest --show FILE [--json]',
    '',
    'The evidence follows attest/eat/PROFILE.md. Logs default to the kernel\'s',
    `(${A.KERNEL_BOOT_LOG} and ${A.KERNEL_IMA_LOG}) when readable and the`,
    'TPM is the kernel\'s (device:); with a swtpm no log is sent unless given. PCRs default to',
    `${A.DEFAULT_PCRS} plus every PCR the logs extend. The installed software is what 'tollgate fetch'`,
    'recorded in <state>/installed.json. --show decodes a file without checking its signatures (that needs',
    'the enrolled device: tollgate appraise).',
  ].join('\n'),
  options: {
    nonce: { type: 'string', valueName: 'HEX', description: 'The verifier\'s challenge, 8 to 64 bytes as hex.' },
    out: { type: 'string', valueName: 'FILE', description: 'Where to write the evidence (application/eat+cwt).' },
    pcrs: { type: 'string', valueName: 'LIST', description: 'PCRs to quote, e.g. sha256:0,1,2,3,4,5,6,7,10.' },
    'event-log': { type: 'string', valueName: 'FILE', description: 'The measured-boot log to send (default: the kernel\'s, for the kernel\'s TPM).' },
    'no-event-log': { type: 'boolean', description: 'Send no measured-boot log.' },
    'ima-log': { type: 'string', valueName: 'FILE', description: 'The IMA log (binary_runtime_measurements) to send (default: the kernel\'s, for the kernel\'s TPM).' },
    'no-ima-log': { type: 'boolean', description: 'Send no IMA log.' },
    'ima-offset': { type: 'string', valueName: 'N', description: 'Send IMA entries from index N on (the verifier appraised the ones before).' },
    ek: { type: 'string', valueName: 'rsa|ecc', description: 'The EK the device enrolled with (default: as enrolment chose, the RSA EK when NV holds its certificate).' },
    state: { type: 'string', valueName: 'DIR', description: 'tollgate state directory, for installed.json (default $TOLLGATE_STATE or /var/lib/tollgate).' },
    show: { type: 'string', valueName: 'FILE', description: 'Print an evidence file readably (with --json: as JSON) instead of making one.' },
  },
  async run(ctx) {
    const shown = optString(ctx, 'show');
    if (shown !== undefined) {
      const extra = ['nonce', 'out', 'pcrs', 'event-log', 'ima-log', 'ima-offset', 'no-event-log', 'no-ima-log', 'ek'].filter((o) => ctx.values[o] !== undefined);
      if (extra.length) throw usage(`--show reads an evidence file; it takes no ${extra.map((o) => `--${o}`).join(', ')}.`);
      show(ctx, shown);
      return;
    }
    const nonce = parseNonce(requireOption(ctx, 'nonce', '$(openssl rand -hex 32)'));
    const out = requireOption(ctx, 'out', 'evidence.cbor');
    const offText = optString(ctx, 'ima-offset');
    if (offText !== undefined && !/^\d{1,10}$/.test(offText)) throw new TollgateError('CLI_OPTION_VALUE', `--ima-offset ${offText} is not an entry index (0, 1, 2, …).`, 'usage');
    const eventLog = logOption(ctx, 'event-log', 'no-event-log');
    const imaLog = logOption(ctx, 'ima-log', 'no-ima-log');
    const root = stateRoot(ctx);
    const installed = readInstalled(root);
    const pcrs = optString(ctx, 'pcrs');
    const ek = optString(ctx, 'ek');
    if (ek !== undefined && ek !== 'rsa' && ek !== 'ecc') throw new TollgateError('CLI_OPTION_VALUE', `--ek ${ek} is not rsa or ecc.`, 'usage');
    const tpm = await openTPM(resolveTPMURI(optString(ctx, 'tpm'), ctx.env));
    let created: A.CreatedEvidence;
    try {
      created = await A.createEvidence(tpm, {
        nonce, ...(ek !== undefined ? { identity: await A.evidenceIdentity(tpm, { ek }) } : {}), installed: installedSoftware(installed), swversion: VERSION,
        ...(pcrs !== undefined ? { pcrs } : {}), ...(eventLog !== undefined ? { eventLog } : {}), ...(imaLog !== undefined ? { imaLog } : {}),
        ...(offText !== undefined ? { imaOffset: Number(offText) } : {}),
      });
    } finally {
      await tpm.close();
    }
    const file = writeOutputFile(ctx, out, created.bytes);
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const data = {
      file, bytes: created.bytes.length, mediaType: eat.EAT_CONTENT_TYPE, nonce: hex(nonce), ueid: hex(created.identity.ueid),
      pcrs: formatPCRList(created.selection), logs: created.logs,
      software: created.claims.software.map((s) => s.target), installedRecord: installed.length ? installedPath(root) : null,
    };
    const lines = [
      `Wrote evidence (${data.bytes} bytes, ${eat.EAT_MEDIA_TYPE}) to ${file}.`,
      `  nonce      ${data.nonce}`,
      `  device     UEID ${data.ueid}`,
      `  quote      PCRs ${data.pcrs}, signed by the AK; the COSE_Sign1 by the device key`,
      ...(created.logs.length ? created.logs.map((l) => `  log        ${l.format}: ${l.events} event(s) from #${l.firstEvent}, ${l.bytes} bytes (${l.source})`) : ['  logs       none']),
      `  installed  ${data.software.length ? data.software.join(', ') : `nothing recorded (${installedPath(root)})`}`,
      `Appraise it with: tollgate appraise ${out} --device RECORD --nonce ${data.nonce}`,
    ];
    ctx.result(data, lines.join('\n'));
  },
};

export const commands: CommandSpec[] = [attest];
