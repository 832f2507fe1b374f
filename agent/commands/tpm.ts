// `tollgate tpm info | provision | quote | verify-quote`. (--tpm and --json are global options of
// the dispatcher.) All TPM and format logic lives in hardware/; this module parses flags, opens
// the TPM, writes files durably and formats results.
import { join, resolve } from 'node:path';
import type { CommandContext, CommandSpec } from '../command.ts';
import { optList, optString, outputDir, requireOption } from '../options.ts';
import {
  TollgateError, TPM_ALG, TPM_HT, TPM_PT, hex32, selectedPCRs,
  parsePCRList, formatPCRList, bankName, encodeSerializedPCRs, parseSerializedPCRs, parsePublicFile, TPM2ToolsError,
  parseNonce, quote, verifyQuote, provision, inspectHandles, requireAK, PERSISTENT_HANDLES,
  readEKCertificates, parseCABundle, verifyEKCertChain, ekCertMatches, KEY_ROLE_NAMES, publicPem, SRK_HANDLE, readBoundedFile, defineLedgerIndex,
  type TPM, type TPMSQuoteInfo, type EKCertificate,
} from '../../hardware/index.ts';
import { ledgerIndexFor } from '../ledger/index.ts';
import { writeFileAtomic } from '../../tuf/index.ts';
import { STATE, stateRoot } from '../state-root.ts';
import { openCommandTPM, readSrkPin, writeSrkPin } from '../tpm-state.ts';

/** A mistake in how a tpm command was invoked (exit 2). */
class TpmCommandError extends TollgateError {
  constructor(code: string, message: string) {
    super(code, message, 'usage');
    this.name = 'TpmCommandError';
  }
}

// No SRK pin here: these commands start no salted session, and provisioning is what records it.
async function withTPM<T>(ctx: CommandContext, fn: (tpm: TPM) => Promise<T>): Promise<T> {
  const tpm = await openCommandTPM(ctx);
  try {
    return await fn(tpm);
  } finally {
    await tpm.close();
  }
}

// Caps far above any real file of each kind (a TPMS_ATTEST, TPMT_SIGNATURE or serialized PCR file
// is at most a few KiB; a PEM CA bundle of a whole trust store is under 1 MiB).
const MAX_TPM_FILE_BYTES = 64 * 1024;
const MAX_CA_FILE_BYTES = 4 * 1024 * 1024;

/**
 * A file named by --OPTION: a regular file under its cap, never a FIFO or device (exit 2). The
 * quote's own files over the cap are a failed verification (exit 1), like any malformed quote.
 */
async function readInput(ctx: CommandContext, option: string, path: string): Promise<Buffer> {
  const evidence = option === 'msg' || option === 'sig' || option === 'pcrs';
  return readBoundedFile(resolve(ctx.cwd, path), option === 'ca' ? MAX_CA_FILE_BYTES : MAX_TPM_FILE_BYTES, {
    what: `--${option}`,
    tooLargeClass: evidence ? 'denied' : 'usage',
    codes: { 'not-found': 'CLI_FILE_UNREADABLE', unreadable: 'CLI_FILE_UNREADABLE' },
  });
}

async function writeFiles(dir: string, files: Record<string, Uint8Array | string>): Promise<Record<string, string>> {
  try {
    // writeFileAtomic creates the directory and makes each file durable (temp, fsync, rename, fsync dir).
    const out: Record<string, string> = {};
    for (const [name, data] of Object.entries(files)) {
      writeFileAtomic(join(dir, name), data);
      out[name] = join(dir, name);
    }
    return out;
  } catch (e) {
    if (e instanceof TollgateError) throw e;
    throw new TollgateError('CLI_WRITE_FAILED', `Cannot write into ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that it is a writable directory.`, 'environment', { cause: e });
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// ------------------------------------------------------------------------------------------------
// tpm info

function certJSON(c: EKCertificate, chain: string | undefined) {
  return {
    index: hex32(c.index), keyType: c.keyType, range: c.range, subject: c.subject, issuer: c.issuer,
    serialNumber: c.serialNumber, validFrom: c.validFrom, validTo: c.validTo, fingerprint256: c.fingerprint256,
    ...(chain !== undefined ? { chain } : {}),
  };
}

const info: CommandSpec = {
  path: ['tpm', 'info'],
  summary: 'Show the TPM: manufacturer, firmware, PCR banks, EK certificates and tollgate\'s persistent keys.',
  usage: 'tollgate tpm info [--ca FILE]... [--tpm URI] [--json]',
  options: {
    ca: { type: 'string', multiple: true, valueName: 'FILE', description: 'PEM CA certificates to check the EK certificates against (repeatable).' },
  },
  async run(ctx) {
    const caFiles = optList(ctx, 'ca');
    const bundle = caFiles.length ? parseCABundle((await Promise.all(caFiles.map((f) => readInput(ctx, 'ca', f)))).map((b) => b.toString('utf8')).join('\n')) : undefined;
    const data = await withTPM(ctx, async (tpm) => {
      const i = await tpm.info();
      const banks = await tpm.pcrBanks();
      const certs = await readEKCertificates(tpm);
      const handles = await inspectHandles(tpm);
      const persistent = await tpm.handles(TPM_HT.PERSISTENT);
      return {
        tpm: tpm.uri,
        manufacturer: i.manufacturer, manufacturerId: hex32(i.properties.get(TPM_PT.MANUFACTURER) ?? 0), vendorString: i.vendorString,
        firmwareVersion: i.firmwareVersion,
        firmwareVersionRaw: [TPM_PT.FIRMWARE_VERSION_1, TPM_PT.FIRMWARE_VERSION_2].map((pt) => hex32(i.properties.get(pt) ?? 0)),
        family: i.family, level: i.level, revision: i.revision, year: i.year, dayOfYear: i.dayOfYear,
        pcrBanks: banks.filter((b) => selectedPCRs(b).length > 0).map((b) => ({ bank: bankName(b.hash), pcrs: selectedPCRs(b).length })),
        ekCertificates: certs.certificates.map((c) => {
          let chain: string | undefined;
          if (bundle) {
            try { verifyEKCertChain(c, bundle); chain = 'valid'; } catch (e) { chain = (e as Error).message; }
          }
          return certJSON(c, chain);
        }),
        ekCertificateProblems: certs.problems.map((p) => ({ index: hex32(p.index), code: p.code, message: p.message })),
        handles: handles.map((h) => ({
          role: h.role, description: KEY_ROLE_NAMES[h.role], handle: hex32(h.handle), state: h.state,
          ...(h.reason ? { reason: h.reason } : {}), ...(h.name ? { name: hex(h.name) } : {}),
        })),
        otherPersistentHandles: persistent.filter((h) => !Object.values(PERSISTENT_HANDLES).includes(h)).map(hex32),
      };
    });
    const lines = [
      `TPM            ${data.tpm}`,
      `manufacturer   ${data.manufacturer} [${data.manufacturerId}]${data.vendorString ? ` vendor "${data.vendorString}"` : ''}`,
      `firmware       ${data.firmwareVersion} (${data.firmwareVersionRaw.join(' ')})`,
      `specification  TPM ${data.family} level ${data.level} revision ${data.revision} (${data.year}, day ${data.dayOfYear})`,
      `PCR banks      ${data.pcrBanks.map((b) => `${b.bank} (${b.pcrs} PCRs)`).join(', ') || 'none'}`,
      'EK certificates:',
      ...(data.ekCertificates.length ? data.ekCertificates.map((c) => `  ${c.index} ${c.keyType} (${c.range} range) subject "${c.subject}" issuer "${c.issuer}"${c.chain ? ` chain: ${c.chain}` : ''}`) : ['  none found']),
      ...data.ekCertificateProblems.map((p) => `  ${p.index} unreadable: ${p.message}`),
      'tollgate handles:',
      ...data.handles.map((h) => `  ${h.handle} ${h.description}: ${h.state}${h.reason ? ` (${h.reason})` : ''}${h.name ? ` name ${h.name}` : ''}`),
      ...(data.otherPersistentHandles.length ? [`other persistent objects: ${data.otherPersistentHandles.join(', ')}`] : []),
    ];
    ctx.result(data, lines.join('\n'));
  },
};

// ------------------------------------------------------------------------------------------------
// tpm provision

function parseEKs(v: string | undefined): Array<'rsa' | 'ecc'> {
  if (v === undefined) return ['rsa', 'ecc'];
  const parts = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (parts.length === 0 || parts.some((p) => p !== 'rsa' && p !== 'ecc')) throw new TpmCommandError('CLI_OPTION_VALUE', `--ek ${v} is not valid; write rsa, ecc or rsa,ecc.`);
  return [...new Set(parts)] as Array<'rsa' | 'ecc'>;
}

/** The recorded pin; a corrupted record has nothing to keep and is rewritten (that is its remedy). */
function pinToKeep(root: string): ReturnType<typeof readSrkPin> {
  try {
    return readSrkPin(root);
  } catch (e) {
    if (e instanceof TollgateError && e.code === 'TPM_STATE_INVALID') return undefined;
    throw e;
  }
}

function srkChanged(name: Uint8Array, pin: { name: Buffer; path: string }): TollgateError {
  return new TollgateError('TPM_SALT_KEY_MISMATCH',
    `The SRK at ${hex32(SRK_HANDLE)} has Name ${hex(name)}, but an earlier provisioning pinned ${hex(pin.name)} in ${pin.path}; the pin was kept. If this TPM was cleared on purpose, delete ${pin.path} and provision again; otherwise something substituted the key.`,
    'environment', { details: { name: hex(name), pinned: hex(pin.name), file: pin.path } });
}

const provisionCmd: CommandSpec = {
  path: ['tpm', 'provision'],
  summary: 'Create (once) the EK, SRK, AK and device key at tollgate\'s persistent handles; the AK certifies the device key.',
  usage: 'tollgate tpm provision [--ek rsa,ecc] [--out DIR] [--state DIR] [--tpm URI] [--json]',
  options: {
    ek: { type: 'string', valueName: 'rsa,ecc', description: 'Which EKs to persist (default both).' },
    out: { type: 'string', valueName: 'DIR', description: 'Also write ak.pub.pem, device.pub.pem, certify.msg and certify.sig here.' },
    state: { ...STATE, description: `${STATE.description}; the SRK Name is recorded in its tpm.json, and salted sessions accept no other key` },
  },
  async run(ctx) {
    const eks = parseEKs(optString(ctx, 'ek'));
    const outOpt = optString(ctx, 'out');
    const out = outOpt === undefined ? undefined : outputDir(ctx, 'out', outOpt);
    const pin = pinToKeep(stateRoot(ctx));
    const { r, certs, ledgerIndex } = await withTPM(ctx, async (tpm) => {
      // A pinned SRK is never silently re-pinned: keys would be created under a substituted one.
      const [now] = await inspectHandles(tpm, ['srk']);
      if (pin && now!.name && !now!.name.equals(pin.name)) throw srkChanged(now!.name, pin);
      const r = await provision(tpm, { eks });
      const made = r.keys.find((k) => k.role === 'srk')!;
      if (pin && !made.name.equals(pin.name)) throw srkChanged(made.name, pin);
      // The ledger's NV extend index (hardware/nvledger.ts) is part of provisioning too (the ledger
      // also defines it on first use). Owner authorization as the TUF anchor uses it.
      const ledgerIndex = await defineLedgerIndex(tpm, { index: ledgerIndexFor(stateRoot(ctx), ctx.env), ownerAuth: ctx.env.TOLLGATE_OWNER_AUTH ?? '' });
      return { r, ledgerIndex, certs: await readEKCertificates(tpm) };
    });
    const srk = r.keys.find((k) => k.role === 'srk')!;
    let pinFile: string;
    try {
      pinFile = writeSrkPin(stateRoot(ctx), srk.name);
    } catch (e) {
      throw new TollgateError('CLI_WRITE_FAILED', `The keys are provisioned, but the SRK Name could not be recorded in ${stateRoot(ctx)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a writable state directory with --state and run provisioning again (it changes nothing on the TPM).`, 'environment', { cause: e });
    }
    const files = out ? await writeFiles(out, {
      'ak.pub.pem': r.ak.pem, 'device.pub.pem': r.deviceKey.pem, 'certify.msg': r.certification.attestBytes, 'certify.sig': r.certification.signatureBytes,
    }) : undefined;
    const key = (k: typeof r.keys[number]) => ({ role: k.role, description: KEY_ROLE_NAMES[k.role], handle: hex32(k.handle), created: k.created, name: hex(k.name), qualifiedName: hex(k.qualifiedName) });
    const ekCerts = r.keys.filter((k) => k.role === 'ek-rsa' || k.role === 'ek-ecc').map((k) => {
      const c = certs.certificates.find((x) => ekCertMatches(x, k.public));
      return { role: k.role, handle: hex32(k.handle), certificate: c ? hex32(c.index) : null };
    });
    const data = {
      changed: r.changed || ledgerIndex.created,
      keys: r.keys.map(key),
      ledgerIndex: { handle: hex32(ledgerIndex.index), created: ledgerIndex.created, written: ledgerIndex.status.written, name: hex(ledgerIndex.status.name!) },
      ak: { ...key(r.ak), pem: r.ak.pem },
      deviceKey: { ...key(r.deviceKey), pem: r.deviceKey.pem },
      certification: {
        verified: true, attest: hex(r.certification.attestBytes), signature: hex(r.certification.signatureBytes), qualifyingData: hex(r.certification.qualifyingData),
      },
      ekCertificates: ekCerts,
      srkPin: { file: pinFile, name: hex(srk.name) },
      ...(files ? { files } : {}),
    };
    const lines = [
      data.changed ? 'Provisioned (created what was missing):' : 'Already provisioned; nothing changed:',
      ...r.keys.map((k) => `  ${hex32(k.handle)} ${KEY_ROLE_NAMES[k.role]}${k.created ? ' [created]' : ''}\n      name ${hex(k.name)}`),
      `  ${data.ledgerIndex.handle} ledger NV extend index${ledgerIndex.created ? ' [created]' : ''}\n      name ${data.ledgerIndex.name}`,
      ...ekCerts.map((e) => `  ${e.handle} EK certificate: ${e.certificate ? `at NV ${e.certificate}` : 'none matches this EK'}`),
      'Device key certified by the AK (TPM2_Certify), certification verified.',
      `SRK Name recorded in ${pinFile}: salted sessions refuse any other key at ${hex32(srk.handle)}.`,
      'AK public key:', r.ak.pem.trimEnd(),
      ...(files ? [`Wrote ${Object.keys(files).join(', ')} to ${out}`] : []),
    ];
    ctx.result(data, lines.join('\n'));
  },
};

// ------------------------------------------------------------------------------------------------
// tpm quote

const quoteCmd: CommandSpec = {
  path: ['tpm', 'quote'],
  summary: 'Quote PCRs with the AK over a nonce; writes quote.msg, quote.sig, quote.pcrs and ak.pub.pem for tpm2_checkquote.',
  usage: 'tollgate tpm quote --nonce HEX --pcrs sha256:0,1,2,3,4,5,6,7,16 --out DIR [--tpm URI] [--json]',
  options: {
    nonce: { type: 'string', valueName: 'HEX', description: 'The verifier\'s nonce, 1 to 64 bytes as hex.' },
    pcrs: { type: 'string', valueName: 'LIST', description: 'PCRs as tpm2-tools writes them, e.g. sha256:0,1,2,3,4,5,6,7,16+sha1:0.' },
    out: { type: 'string', valueName: 'DIR', description: 'Directory for quote.msg, quote.sig, quote.pcrs and ak.pub.pem.' },
  },
  async run(ctx) {
    const nonce = parseNonce(requireOption(ctx, 'nonce', '$(openssl rand -hex 32)'));
    const selection = parsePCRList(requireOption(ctx, 'pcrs', 'sha256:0,1,2,3,4,5,6,7'));
    const out = outputDir(ctx, 'out', requireOption(ctx, 'out', 'DIR'));
    const { q, ak } = await withTPM(ctx, async (tpm) => {
      const ak = await requireAK(tpm);
      return { ak, q: await quote(tpm, { akHandle: ak.handle, nonce, selection }) };
    });
    const files = await writeFiles(out, {
      'quote.msg': q.attestBytes, 'quote.sig': q.signatureBytes, 'quote.pcrs': encodeSerializedPCRs(q.selection, q.pcrs), 'ak.pub.pem': publicPem(ak.public),
    });
    const data = {
      files, nonce: nonce.toString('hex'), pcrs: formatPCRList(q.selection), akName: hex(ak.name),
      pcrValues: q.pcrs.map((v) => ({ bank: bankName(v.hash), pcr: v.pcr, digest: v.digest.toString('hex') })),
    };
    const text = [
      `Quoted ${data.pcrs} with the AK (${hex32(ak.handle)}) over nonce ${data.nonce}.`,
      `Wrote ${Object.keys(files).join(', ')} to ${out}.`,
      `Check with: tpm2_checkquote -u ${files['ak.pub.pem']} -m ${files['quote.msg']} -s ${files['quote.sig']} -f ${files['quote.pcrs']} -g sha256 -q ${data.nonce}`,
    ];
    ctx.result(data, text.join('\n'));
  },
};

// ------------------------------------------------------------------------------------------------
// tpm verify-quote

const verifyQuoteCmd: CommandSpec = {
  path: ['tpm', 'verify-quote'],
  summary: 'Verify a quote (ours or tpm2_quote\'s) against an AK public key, PCR values and a nonce; exit 0 valid, 1 not.',
  usage: 'tollgate tpm verify-quote --ak PEM --msg FILE --sig FILE --pcrs FILE --nonce HEX [--json]',
  options: {
    ak: { type: 'string', valueName: 'PEM', description: 'The AK public key (PEM, or a tpm2-tools TPM2B_PUBLIC file).' },
    msg: { type: 'string', valueName: 'FILE', description: 'The quoted TPMS_ATTEST (quote.msg, tpm2_quote -m).' },
    sig: { type: 'string', valueName: 'FILE', description: 'The TPMT_SIGNATURE (quote.sig, tpm2_quote -s).' },
    pcrs: { type: 'string', valueName: 'FILE', description: 'The PCR values in tpm2-tools serialized format (quote.pcrs, tpm2_quote -o).' },
    nonce: { type: 'string', valueName: 'HEX', description: 'The nonce the quote must carry.' },
  },
  async run(ctx) {
    const nonce = parseNonce(requireOption(ctx, 'nonce', 'HEX'));
    const akFile = requireOption(ctx, 'ak', 'ak.pub.pem');
    const [akBytes, msg, sig, pcrFile] = await Promise.all([
      readInput(ctx, 'ak', akFile), readInput(ctx, 'msg', requireOption(ctx, 'msg', 'quote.msg')),
      readInput(ctx, 'sig', requireOption(ctx, 'sig', 'quote.sig')), readInput(ctx, 'pcrs', requireOption(ctx, 'pcrs', 'quote.pcrs')),
    ]);
    let ak;
    try {
      ak = parsePublicFile(akBytes).key;
    } catch (e) {
      // The AK is the verifier's own trusted input: an unusable one is a configuration mistake.
      if (e instanceof TPM2ToolsError) throw new TpmCommandError('CLI_AK_INVALID', `--ak ${akFile} is not a usable public key: ${e.message}`);
      throw e;
    }
    const pcrs = parseSerializedPCRs(pcrFile);
    const v = verifyQuote({ ak, attest: msg, signature: sig, nonce, pcrs: pcrs.values, selection: pcrs.selection });
    const q = v.attest.attested as TPMSQuoteInfo;
    const data = {
      verified: true, nonce: nonce.toString('hex'), pcrs: formatPCRList(q.pcrSelect),
      hashAlg: v.hashAlg === TPM_ALG.SHA256 ? 'sha256' : bankName(v.hashAlg), pcrDigest: hex(q.pcrDigest),
      signer: hex(v.attest.qualifiedSigner), clock: v.attest.clockInfo.clock.toString(), resetCount: v.attest.clockInfo.resetCount,
      restartCount: v.attest.clockInfo.restartCount, safe: v.attest.clockInfo.safe === 1, firmwareVersion: v.attest.firmwareVersion.toString(16),
      pcrValues: pcrs.values.map((p) => ({ bank: bankName(p.hash), pcr: p.pcr, digest: p.digest.toString('hex') })),
    };
    ctx.result(data, `Quote verified: signed by the AK, nonce ${data.nonce}, PCRs ${data.pcrs} match (digest ${data.pcrDigest}).`);
  },
};

export const commands: CommandSpec[] = [info, provisionCmd, quoteCmd, verifyQuoteCmd];
