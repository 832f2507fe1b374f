// `tollgate enroll request | activate` (device side) and the handler of `tollgate appraise enroll`
// (verifier side, registered by appraise.ts): enrolment in two round trips as files, for offline
// use. The files are exactly the bodies of the collector protocol (attest/enrol/wire.ts). All
// format, TPM and state logic lives in attest/enrol; this module parses flags and writes files.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { CommandContext, CommandSpec } from '../command.ts';
import { optList, optString, requireOption } from '../options.ts';
import { VERSION } from '../version.ts';
import { TollgateError, openTPM, resolveTPMURI, hex32, type TPM } from '../../hardware/index.ts';
import { loadEKRootStore } from '../../attest/index.ts';
import {
  EnrolStateDir, MAX_CERT_BYTES, MAX_REQUEST_BYTES, MAX_SMALL_DOCUMENT_BYTES, activateEnrolment, buildEnrolRequest, checkEnrolmentId,
  completeEnrolment, enrolChallengeJSON, enrolProofJSON, enrolRequestJSON, parseEnrolChallenge, parseEnrolProof, parseEnrolRequest,
  readBoundedFile, startEnrolment, certificatesOfFile, type EKChoice,
} from '../../attest/enrol/index.ts';
import { ueidFromEKPublic } from '../../attest/eat/index.ts';
import { writeFileAtomic } from '../../tuf/index.ts';

/** A mistake in how an enrolment command was invoked (exit 2). */
class EnrollCommandError extends TollgateError {
  constructor(code: string, message: string) {
    super(code, message, 'usage');
    this.name = 'EnrollCommandError';
  }
}

async function withTPM<T>(ctx: CommandContext, fn: (tpm: TPM) => Promise<T>): Promise<T> {
  const tpm = await openTPM(resolveTPMURI(optString(ctx, 'tpm'), ctx.env));
  try {
    return await fn(tpm);
  } finally {
    await tpm.close();
  }
}

function writeJSON(ctx: CommandContext, option: string, file: string, doc: unknown): string {
  const path = resolve(ctx.cwd, file);
  try {
    writeFileAtomic(path, JSON.stringify(doc, null, 2) + '\n');
  } catch (e) {
    throw new TollgateError('CLI_WRITE_FAILED', `Cannot write --${option} ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that its directory is writable.`, 'environment', { cause: e });
  }
  return path;
}

function ekOption(ctx: CommandContext, allowAuto: boolean): EKChoice | 'auto' | undefined {
  const v = optString(ctx, 'ek');
  if (v === undefined) return undefined;
  const ok = allowAuto ? ['auto', 'rsa', 'ecc'] : ['rsa', 'ecc'];
  if (!ok.includes(v)) throw new EnrollCommandError('CLI_OPTION_VALUE', `--ek ${v} is not valid; write ${ok.join(', ')}.`);
  return v as EKChoice | 'auto';
}

// ------------------------------------------------------------------------------------------------
// tollgate enroll request

export const enrollRequest: CommandSpec = {
  path: ['enroll', 'request'],
  summary: "Write this device's enrolment request (EK certificates, EK, AK and device key, the AK's certification of the device key) for a verifier.",
  usage: 'tollgate enroll request --out FILE [--ek auto|rsa|ecc] [--ek-cert FILE]... [--hostname NAME] [--tpm URI] [--json]',
  options: {
    out: { type: 'string', valueName: 'FILE', description: 'Where to write the request (JSON, the body of POST /v1/enrol).' },
    ek: { type: 'string', valueName: 'auto|rsa|ecc', description: 'The EK to enrol with (default auto: the RSA EK when NV holds its certificate, else the ECC EK).' },
    'ek-cert': { type: 'string', multiple: true, valueName: 'FILE', description: 'An EK certificate or CA certificate (DER or PEM) not in NV, e.g. from the TPM vendor (repeatable).' },
    hostname: { type: 'string', valueName: 'NAME', description: "The host name the verifier records (default this host's name)." },
  },
  async run(ctx) {
    const out = requireOption(ctx, 'out', 'request.json');
    const ek = ekOption(ctx, true) ?? 'auto';
    const extra: Buffer[] = [];
    for (const f of optList(ctx, 'ek-cert')) {
      extra.push(...certificatesOfFile(await readBoundedFile(resolve(ctx.cwd, f), 4 * MAX_CERT_BYTES, { what: '--ek-cert', tooLargeClass: 'usage' }), `--ek-cert ${f}`));
    }
    const host = optString(ctx, 'hostname') ?? hostname();
    const built = await withTPM(ctx, (tpm) => buildEnrolRequest(tpm, { ek, extraCertificates: extra, facts: { hostname: host, version: VERSION } }));
    const path = writeJSON(ctx, 'out', out, enrolRequestJSON(built.request));
    const deviceId = Buffer.from(ueidFromEKPublic(built.request.ekPublic).subarray(1)).toString('hex');
    const from = built.ekCertificateFrom === 'extra' ? '--ek-cert' : `NV ${hex32(built.ekCertificateFrom)}`;
    const data = {
      request: path, deviceId, ek: built.ek, ekHandle: hex32(built.ekHandle), ekCertificate: from, certificates: built.request.ekCerts.length,
      akName: built.request.akName.toString('hex'), hostname: host,
      ekCertificateProblems: built.problems.map((p) => ({ index: hex32(p.index), code: p.code, message: p.message })),
    };
    ctx.result(data, [
      `Wrote the enrolment request to ${path}.`,
      `  device id   ${deviceId}`,
      `  EK          ${built.ek.toUpperCase()} at ${data.ekHandle}, certificate from ${from} (${data.certificates} certificate(s) sent)`,
      `  AK Name     ${data.akName}`,
      ...data.ekCertificateProblems.map((p) => `  note: EK certificate index ${p.index} unreadable: ${p.message}`),
      `Give it to the verifier: tollgate appraise enroll ${out} --state DIR --out challenge.json`,
    ].join('\n'));
  },
};

// ------------------------------------------------------------------------------------------------
// tollgate enroll activate

export const enrollActivate: CommandSpec = {
  path: ['enroll', 'activate'],
  summary: "Answer a verifier's enrolment challenge: recover its secret with TPM2_ActivateCredential and write the proof.",
  usage: 'tollgate enroll activate CHALLENGE --out FILE [--ek rsa|ecc] [--tpm URI] [--json]',
  positionals: [{ name: 'challenge', required: true }],
  options: {
    out: { type: 'string', valueName: 'FILE', description: 'Where to write the proof (JSON, the body of POST /v1/enrol/ID/activate).' },
    ek: { type: 'string', valueName: 'rsa|ecc', description: "The EK the challenge was made for (default: told by the challenge's encrypted secret)." },
  },
  async run(ctx) {
    const file = ctx.positionals[0]!;
    const out = requireOption(ctx, 'out', 'proof.json');
    const ek = ekOption(ctx, false) as EKChoice | undefined;
    const challenge = parseEnrolChallenge(await readBoundedFile(resolve(ctx.cwd, file), MAX_SMALL_DOCUMENT_BYTES, { what: 'The enrolment challenge' }));
    const a = await withTPM(ctx, (tpm) => activateEnrolment(tpm, challenge, ek ? { ek } : {}));
    const path = writeJSON(ctx, 'out', out, enrolProofJSON(a.proof));
    const data = { proof: path, enrolmentId: a.enrolmentId, ek: a.ek, akName: a.akName.toString('hex'), expiresAt: challenge.expiresAt };
    ctx.result(data, [
      `Recovered the credential with the ${a.ek.toUpperCase()} EK and the AK; wrote the proof to ${path}.`,
      `Give it to the verifier before ${challenge.expiresAt}: tollgate appraise enroll --finish ${out} --enrolment-id ${a.enrolmentId} --state DIR`,
    ].join('\n'));
  },
};

// ------------------------------------------------------------------------------------------------
// tollgate appraise enroll (registered in appraise.ts)

function ttlOption(ctx: CommandContext): number | undefined {
  const v = optString(ctx, 'ttl');
  if (v === undefined) return undefined;
  if (!/^[1-9][0-9]{0,6}$/.test(v)) throw new EnrollCommandError('CLI_OPTION_VALUE', `--ttl ${v} is not valid; give the seconds a device has to answer, e.g. --ttl 600.`);
  return Number(v);
}

async function challengeStep(ctx: CommandContext, file: string, stateDir: string): Promise<void> {
  const out = requireOption(ctx, 'out', 'challenge.json');
  const ttl = ttlOption(ctx);
  const request = parseEnrolRequest(await readBoundedFile(resolve(ctx.cwd, file), MAX_REQUEST_BYTES, { what: 'The enrolment request' }));
  const roots = loadEKRootStore(optString(ctx, 'ek-roots') !== undefined ? resolve(ctx.cwd, optString(ctx, 'ek-roots')!) : undefined, optList(ctx, 'ek-ca').map((f) => resolve(ctx.cwd, f)));
  const state = EnrolStateDir.open(resolve(ctx.cwd, stateDir));
  const r = await startEnrolment(state, request, { roots, ...(ttl !== undefined ? { ttlSeconds: ttl } : {}) });
  const path = writeJSON(ctx, 'out', out, enrolChallengeJSON(r.challenge));
  const data = {
    challenge: path, enrolmentId: r.challenge.enrolmentId, expiresAt: r.challenge.expiresAt, deviceId: r.checked.deviceId, ek: r.checked.ekType,
    ekChain: { ...r.pending.ekChain, anchor: r.checked.chain.anchor.source }, hostname: request.facts.hostname, warnings: r.checked.warnings,
  };
  ctx.result(data, [
    `Request checked: ${r.checked.ekType.toUpperCase()} EK certified by ${data.ekChain.vendor ?? 'an unnamed vendor'} (chain to "${data.ekChain.root}", anchor ${data.ekChain.anchor}); AK and device key accepted.`,
    `  enrolment   ${data.enrolmentId} (expires ${data.expiresAt})`,
    `  device id   ${data.deviceId} (host ${data.hostname})`,
    ...data.warnings.map((w) => `  warning: ${w}`),
    `Wrote the challenge to ${path}. On the device: tollgate enroll activate ${out} --out proof.json`,
  ].join('\n'));
}

async function finishStep(ctx: CommandContext, file: string, stateDir: string): Promise<void> {
  const id = checkEnrolmentId(requireOption(ctx, 'enrolment-id', 'ID (from the challenge)'));
  const outOpt = optString(ctx, 'out');
  const proof = parseEnrolProof(await readBoundedFile(resolve(ctx.cwd, file), MAX_SMALL_DOCUMENT_BYTES, { what: 'The activation proof' }));
  const state = EnrolStateDir.open(resolve(ctx.cwd, stateDir));
  const r = await completeEnrolment(state, id, proof, outOpt !== undefined ? { out: resolve(ctx.cwd, outOpt) } : {});
  const data = {
    record: r.path, deviceId: r.record.deviceId, replaced: r.replaced, enrolledAt: r.record.enrolledAt, hostname: r.record.facts.hostname,
    akName: r.record.akName.toString('hex'), ekChain: r.record.ekChain,
  };
  ctx.result(data, [
    `Enrolled device ${data.deviceId} (host ${data.hostname}): the AK is in the TPM of the certified EK.`,
    `Wrote the enrolled-device record to ${r.path}${r.replaced ? ' (replacing the earlier one)' : ''}.`,
  ].join('\n'));
}

export const appraiseEnroll: CommandSpec = {
  path: ['appraise', 'enroll'],
  summary: "Verifier side of enrolment: check a device's request and write its challenge, or (--finish) check its proof and write the enrolled-device record.",
  usage: [
    'tollgate appraise enroll REQUEST --state DIR --out CHALLENGE [--ek-ca FILE]... [--ek-roots DIR] [--ttl SECONDS] [--json]',
    '       tollgate appraise enroll --finish PROOF --enrolment-id ID --state DIR [--out RECORD] [--json]',
  ].join('\n'),
  positionals: [{ name: 'file', required: true }],
  options: {
    state: { type: 'string', valueName: 'DIR', description: 'The verifier\'s enrolment state: pending challenges and enrolled-device records (created 0700).' },
    out: { type: 'string', valueName: 'FILE', description: 'Where to write the challenge; with --finish, the record (default DIR/devices/DEVICEID.json).' },
    finish: { type: 'boolean', description: 'FILE is the device\'s proof: check it and write the enrolled-device record.' },
    'enrolment-id': { type: 'string', valueName: 'ID', description: 'With --finish: the enrolment the proof answers (the challenge\'s enrolmentId).' },
    'ek-ca': { type: 'string', multiple: true, valueName: 'FILE', description: 'Also trust these EK CA certificates (PEM or DER), e.g. a private TPM vendor CA (repeatable).' },
    'ek-roots': { type: 'string', valueName: 'DIR', description: 'Use the CA files of DIR (e.g. keylime\'s tpm_cert_store) instead of the built-in TPM vendor CAs.' },
    ttl: { type: 'string', valueName: 'SECONDS', description: 'How long the device has to answer (default 600).' },
  },
  async run(ctx) {
    const file = ctx.positionals[0]!;
    const stateDir = requireOption(ctx, 'state', 'DIR');
    if (ctx.values.finish === true) {
      for (const o of ['ek-ca', 'ek-roots', 'ttl']) if (ctx.values[o] !== undefined) throw new EnrollCommandError('CLI_OPTION_CONFLICT', `--${o} applies to checking a request, not to --finish.`);
      return finishStep(ctx, file, stateDir);
    }
    if (ctx.values['enrolment-id'] !== undefined) throw new EnrollCommandError('CLI_OPTION_CONFLICT', '--enrolment-id goes with --finish.');
    return challengeStep(ctx, file, stateDir);
  },
};

export const commands: CommandSpec[] = [enrollRequest, enrollActivate];
