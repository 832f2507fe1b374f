// CLI for TUF: init, update, fetch, bundle create, and the tuf-conformance client protocol.
// (--tpm and --json are global options of the dispatcher.)
// All TUF logic lives in tuf/ and the install gate in agent/gate.ts; this module parses flags,
// opens the TPM and formats results.
import { join, resolve } from 'node:path';
import type { CommandContext, CommandSpec, OptionSpec } from '../command.ts';
import { checkLines, optString, outputFile, requireOption } from '../options.ts';
import {
  updateDevice, writeFileAtomic, createBundle, conformanceInit, conformanceRefresh, conformanceDownload,
  TufError, deviceTPM, withStateLock, DEFAULT_LOCK_WAIT_MS, MAX_ROOT_BYTES, checkTargetPath, type DeviceTPM, type UpdateResult, type ProgressInfo,
} from '../../tuf/index.ts';
import { STATE, stateRoot } from '../state-root.ts';
import { openCommandTPM } from '../tpm-state.ts';
import { readBoundedFileSync, TollgateError } from '../../hardware/index.ts';
import { Ledger, appendDecision, fetchDecision, ledgerIndexFor } from '../ledger/index.ts';
import { denyError, gateFetch, type GateResult } from '../gate.ts';
import { checkGateTarget, GATE_OPTIONS, readGateConfig, type GateConfig } from '../gate-config.ts';
import { DEFAULT_OSV_TARGET, DEFAULT_POLICY_TARGET, DEFAULT_TRUSTED_ROOT_TARGET } from '../gate-evidence.ts';
import { initGate } from '../init.ts';
import { recordInstalled } from '../installed.ts';

const BUNDLE: OptionSpec = { type: 'string', description: 'read repository files from this offline bundle instead of the network', valueName: 'FILE' };
const LOCK_WAIT: OptionSpec = { type: 'string', description: `how long to wait while another tollgate holds the state directory (default ${DEFAULT_LOCK_WAIT_MS / 1000}; then exit 3, STATE_LOCKED)`, valueName: 'SECONDS' };

function tufStateDir(ctx: CommandContext): string {
  return join(stateRoot(ctx), 'tuf');
}

/**
 * Runs a state-writing command holding the state directory's lock (tuf/state-lock.ts), taken
 * BEFORE the TPM is opened: a waiting process must not hold the TPM (swtpm serves one connection).
 */
async function withLock<T>(ctx: CommandContext, command: string, fn: () => Promise<T>, o: { create?: boolean } = {}): Promise<T> {
  const v = optString(ctx, 'lock-wait');
  const seconds = v === undefined ? DEFAULT_LOCK_WAIT_MS / 1000 : /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isFinite(seconds) || seconds > 86_400) throw new TufError('TUF_USAGE', `--lock-wait ${v} is not a number of seconds between 0 and 86400.`, 'usage');
  const waitMs = Math.round(seconds * 1000);
  return withStateLock(stateRoot(ctx), {
    command, waitMs, ...(o.create ? { create: true } : {}),
    onWait: (h) => ctx.info(`tollgate: the state directory is in use by ${h ? `tollgate ${h.command} (PID ${h.pid})` : 'another tollgate process'}; waiting up to ${seconds} s`),
  }, fn);
}

// With the SRK pin `tollgate tpm provision` recorded in the same state root (tpm-state.ts).
async function withTPM<T>(ctx: CommandContext, fn: (tpm: DeviceTPM) => Promise<T>): Promise<T> {
  const tpm = await openCommandTPM(ctx, { pinFrom: stateRoot(ctx) });
  try {
    return await fn(deviceTPM(tpm));
  } finally {
    await tpm.close();
  }
}

/**
 * Like withTPM, with the ledger open too (agent/ledger/: opening repairs what a crash left), for
 * commands that record decisions. The caller holds the state lock. A ledger that cannot be opened
 * (tampered, its TPM index gone) stops the command: a decision that cannot be recorded is not taken.
 */
async function withTPMLedger<T>(ctx: CommandContext, fn: (tpm: DeviceTPM, ledger: Ledger) => Promise<T>): Promise<T> {
  const tpm = await openCommandTPM(ctx, { pinFrom: stateRoot(ctx) });
  try {
    const ledger = await Ledger.open({ stateRoot: stateRoot(ctx), tpm, index: ledgerIndexFor(stateRoot(ctx), ctx.env), ownerAuth: ctx.env.TOLLGATE_OWNER_AUTH ?? '' });
    try {
      return await fn(deviceTPM(tpm), ledger);
    } finally {
      await ledger.close();
    }
  } finally {
    await tpm.close();
  }
}

function nowOverride(ctx: CommandContext): number | undefined {
  const v = ctx.env.TOLLGATE_NOW;
  if (v === undefined || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new TufError('TUF_USAGE', `TOLLGATE_NOW=${v} is neither an ISO date nor epoch milliseconds.`, 'usage');
  return n;
}

function warnText(r: { warnings: Array<{ code: string; message: string }> }): string {
  return r.warnings.map((w) => `warning ${w.code}: ${w.message}`).join('\n');
}

function updateText(r: UpdateResult): string {
  const v = r.versions;
  const lines = [
    `updated from ${r.source}: root v${v.root}, timestamp v${v.timestamp}, snapshot v${v.snapshot}, targets v${v.targets}`,
    `TPM floor: root ${r.floors.after.root}, timestamp ${r.floors.after.timestamp}, snapshot ${r.floors.after.snapshot} (epoch ${r.floors.epoch}${r.floors.newEpoch ? ', new key epoch' : ''}, ${r.floors.increments} increments)`,
    `expiry checked at ${r.time.reference}${r.time.floor ? ` (time floor ${r.time.floor})` : ''}`,
  ];
  const w = warnText(r);
  return w ? `${lines.join('\n')}\n${w}` : lines.join('\n');
}

// The bar redraws one stderr line with \r, so it writes to the terminal directly (ctx.info is
// line-oriented); it is only ever created when stderr is a TTY and --json is off.
function progressBar(ctx: CommandContext): ((p: ProgressInfo) => void) | undefined {
  if (!ctx.tty || ctx.json) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    const done = p.total !== undefined && p.received >= p.total;
    if (!done && now - last < 100) return;
    last = now;
    const mb = (n: number) => (n / 1048576).toFixed(1);
    if (p.total) {
      const frac = Math.min(1, p.received / p.total);
      const width = 30;
      const fill = Math.round(frac * width);
      process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${mb(p.received)}/${mb(p.total)} MiB`);
    } else {
      process.stderr.write(`\r${mb(p.received)} MiB`);
    }
    if (done) process.stderr.write('\n');
  };
}

const init: CommandSpec = {
  path: ['init'],
  summary: 'Pin a TUF root in the TPM and prepare the update state',
  usage: [
    'tollgate init --repo URL --root FILE [--root-sha256 HEX] [--policy-target NAME] [--osv-target NAME] [--trusted-root-target NAME] [--state DIR] [--lock-wait SECONDS] [--tpm URI]',
    '',
    'Who decides what: the policy, the OSV database and the Sigstore trusted root that judge every target are',
    'chosen here (kept in <state>/gate.json) or, by default, by the repository\'s top-level targets role',
    `(${DEFAULT_POLICY_TARGET}, ${DEFAULT_OSV_TARGET}, ${DEFAULT_TRUSTED_ROOT_TARGET}). Every one of them must be listed by the`,
    'top-level targets role; a delegated role cannot choose what judges its own targets.',
  ].join('\n'),
  options: {
    repo: { type: 'string', description: 'repository base URL (http, https or file; metadata/ and targets/ below it)', valueName: 'URL' },
    root: { type: 'string', description: 'the initial trusted root.json', valueName: 'FILE' },
    'root-sha256': { type: 'string', description: 'refuse the root unless its sha256 is this', valueName: 'HEX' },
    'metadata-url': { type: 'string', description: 'metadata base URL, when not <repo>/metadata/', valueName: 'URL' },
    'targets-url': { type: 'string', description: 'targets base URL, when not <repo>/targets/', valueName: 'URL' },
    'nv-index': { type: 'string', description: 'TPM NV index of the anchor (default 0x01500020; its counters and key epochs use the next 0x33 handles)', valueName: 'HANDLE' },
    'policy-target': { type: 'string', description: `TUF target holding the verification policy; fetch denies everything while the top-level targets role does not list it (default: ${DEFAULT_POLICY_TARGET} when listed)`, valueName: 'NAME' },
    'osv-target': { type: 'string', description: `TUF target holding the OSV database (default: ${DEFAULT_OSV_TARGET} when the top-level role lists it)`, valueName: 'NAME' },
    'trusted-root-target': { type: 'string', description: `TUF target holding the Sigstore trusted root (default: ${DEFAULT_TRUSTED_ROOT_TARGET} when the top-level role lists it, else the public-good root built in)`, valueName: 'NAME' },
    state: STATE,
    'lock-wait': LOCK_WAIT,
  },
  async run(ctx) {
    const rootFile = resolve(ctx.cwd, requireOption(ctx, 'root'));
    const rootBytes = readBoundedFileSync(rootFile, MAX_ROOT_BYTES, { what: '--root' });
    const repo = optString(ctx, 'repo');
    const metadataUrl = optString(ctx, 'metadata-url');
    if (!repo && !metadataUrl) throw new TufError('TUF_USAGE', '--repo is required.', 'usage');
    const named = (k: keyof typeof GATE_OPTIONS): string | null => {
      const v = optString(ctx, GATE_OPTIONS[k].slice(2));
      return v === undefined ? null : checkGateTarget(v, GATE_OPTIONS[k]);
    };
    const gate: GateConfig = { layout: 1, policyTarget: named('policyTarget'), osvTarget: named('osvTarget'), trustedRootTarget: named('trustedRootTarget') };
    const stateDir = tufStateDir(ctx);
    const nv = optString(ctx, 'nv-index');
    const anchorHandle = nv === undefined ? undefined : Number(nv);
    if (anchorHandle !== undefined && (!Number.isInteger(anchorHandle) || anchorHandle < 0x01000000 || anchorHandle > 0x01bfffcc)) {
      throw new TufError('TUF_USAGE', `--nv-index ${nv} is not an NV index handle in the owner range (e.g. 0x01500020).`, 'usage');
    }
    // gate.json first (agent/init.ts): the TUF state must never exist without it; both under the lock.
    const r = await withLock(ctx, 'init', () => withTPM(ctx, (tpm) => initGate({ stateRoot: stateRoot(ctx), gate, device: {
      stateDir, tpm, rootBytes, ...(anchorHandle !== undefined ? { anchorHandle } : {}),
      ...(repo ? { repo: /^[a-z][a-z0-9+.-]*:/i.test(repo) ? repo : `file://${resolve(ctx.cwd, repo)}` } : {}),
      ...(metadataUrl ? { metadataUrl } : {}),
      ...(optString(ctx, 'targets-url') ? { targetsUrl: optString(ctx, 'targets-url')! } : {}),
      ...(optString(ctx, 'root-sha256') ? { rootSha256: optString(ctx, 'root-sha256')! } : {}),
    } })), { create: true });
    const { policyTarget, osvTarget, trustedRootTarget } = gate;
    ctx.result({ ...r, policyTarget, osvTarget, trustedRootTarget }, [
      `pinned root v${r.root.version} (sha256 ${r.root.sha256}) in TPM NV ${r.anchor.handle}${r.anchor.created ? '' : ' (already pinned)'}`,
      `state: ${r.stateDir}`,
      `metadata: ${r.metadataUrl}`,
      policyTarget ? `policy: TUF target ${policyTarget} (required)` : `policy: ${DEFAULT_POLICY_TARGET} when the top-level targets role lists it`,
      `OSV database: ${osvTarget ? `TUF target ${osvTarget}` : `${DEFAULT_OSV_TARGET} when the top-level targets role lists it`}`,
      `Sigstore trusted root: ${trustedRootTarget ? `TUF target ${trustedRootTarget}` : `${DEFAULT_TRUSTED_ROOT_TARGET} when the top-level targets role lists it, else the public-good root built in`}`,
    ].join('\n'));
  },
};

const update: CommandSpec = {
  path: ['update'],
  summary: 'Refresh TUF metadata and raise the TPM rollback floor',
  usage: 'tollgate update [--bundle FILE] [--state DIR] [--lock-wait SECONDS] [--tpm URI]',
  options: { bundle: BUNDLE, state: STATE, 'lock-wait': LOCK_WAIT },
  async run(ctx) {
    const stateDir = tufStateDir(ctx);
    const bundle = optString(ctx, 'bundle');
    const now = nowOverride(ctx);
    const r = await withLock(ctx, 'update', () => withTPMLedger(ctx, async (tpm, ledger) => {
      let u: UpdateResult;
      try {
        u = await updateDevice({ stateDir, tpm, ...(bundle ? { bundle: resolve(ctx.cwd, bundle) } : {}), ...(now !== undefined ? { nowMs: now } : {}) });
      } catch (e) {
        // The failure is what the user needs to see; a ledger that cannot take it is secondary.
        await appendDecision(ledger, 'update', { result: 'failure', error: e instanceof TollgateError ? e.code : 'INTERNAL' }).catch(() => undefined);
        throw e;
      }
      await appendDecision(ledger, 'update', { result: 'success', versions: { ...u.versions } });
      return u;
    }));
    ctx.result(r, updateText(r));
  },
};

function gateText(r: GateResult): string {
  const verb = r.cached ? 'already present' : 'downloaded';
  const sums = `${r.length} bytes, ${Object.keys(r.hashes).join('+')} verified`;
  if (!r.verified) return `${verb}: ${r.target} → ${r.path} (${sums})\n${r.note}`;
  const head = `${r.decision === 'allow' ? verb : 'staged'}: ${r.target} (${sums} by TUF)`;
  const lines = [head, `policy: ${r.policy?.target}${r.policy?.sha256 ? ` (sha256:${r.policy.sha256.slice(0, 16)}…)` : ' (not usable)'}`];
  lines.push(...checkLines(r.checks));
  lines.push('', r.decision === 'allow'
    ? `ALLOW: installed ${r.target} → ${r.path}`
    : `DENY: ${r.checks.filter((c) => c.status === 'failed').length} check(s) failed; nothing was installed`);
  return lines.join('\n');
}

const fetch: CommandSpec = {
  path: ['fetch'],
  summary: 'Download one TUF target, verify it against its evidence and the policy, and install it only if allowed',
  usage: [
    'Verification runs whenever the target\'s TUF custom metadata names evidence (custom.tollgate) or a',
    `policy is configured (init --policy-target, or ${DEFAULT_POLICY_TARGET} listed by the repository); it cannot`,
    'be skipped. Evidence, policy, OSV database and Sigstore trusted root are TUF targets too; the policy,',
    'OSV database and trusted root are chosen at init or by the top-level targets role, never by a delegated',
    'role or the target itself. The target is staged privately and moved to --out only on allow; a deny',
    '(exit 1, POLICY_DENY) writes nothing there. With neither evidence nor a policy, the file is checked by',
    'TUF alone and the output says so. Without <state>/gate.json (written by init) nothing is fetched (exit 2).',
  ].join('\n'),
  positionals: [{ name: 'TARGET', required: true }],
  options: {
    out: { type: 'string', description: 'where to place the verified file', valueName: 'FILE' },
    'vsa-out': { type: 'string', description: 'write the verification summary attestation (in-toto statement, allow or deny) here', valueName: 'FILE' },
    bundle: BUNDLE,
    state: STATE,
    'lock-wait': LOCK_WAIT,
  },
  async run(ctx) {
    const target = ctx.positionals[0];
    if (target === undefined || ctx.positionals.length !== 1) throw new TufError('TUF_USAGE', 'fetch takes exactly one TARGET.', 'usage');
    checkTargetName(target);
    const out = outputFile(ctx, 'out', requireOption(ctx, 'out'));
    const vsaOpt = optString(ctx, 'vsa-out');
    const vsaOut = vsaOpt === undefined ? undefined : outputFile(ctx, 'vsa-out', vsaOpt);
    const root = stateRoot(ctx);
    const stateDir = tufStateDir(ctx);
    const bundle = optString(ctx, 'bundle');
    const now = nowOverride(ctx);
    const onProgress = progressBar(ctx);
    // The whole fetch holds the lock: the lookups after the refresh commit delegated metadata too.
    const r = await withLock(ctx, 'fetch', () => {
      const { policyTarget, osvTarget, trustedRootTarget } = readGateConfig(root);
      return withTPMLedger(ctx, (tpm, ledger) => gateFetch({
        stateDir, tpm, target, out, policyTarget, osvTarget, trustedRootTarget, ...(bundle ? { bundle: resolve(ctx.cwd, bundle) } : {}), ...(now !== undefined ? { nowMs: now } : {}), ...(onProgress ? { onProgress } : {}),
        // Durable on disk and in the TPM before anything is installed.
        onDecision: async (d) => { await appendDecision(ledger, 'fetch', fetchDecision(d)); },
      }));
    });
    if (vsaOut !== undefined && r.vsa) writeFileAtomic(vsaOut, JSON.stringify(r.vsa, null, 2) + '\n');
    const w = warnText(r.update);
    const text = gateText(r) + (w ? '\n' + w : '');
    if (r.decision === 'deny') {
      const e = denyError(r);
      ctx.result({ ...r, error: e.toJSON() }, text);
      ctx.info(`tollgate: ${e.code}: ${e.message}`);
      return e.exitCode;
    }
    // The install record the evidence's installed-software claim is read from (tollgate attest).
    if (r.decision === 'allow' && r.path) recordInstalled(root, { target: r.target, path: r.path, hashes: r.hashes, tufVersion: r.update.versions.targets, installedAt: new Date().toISOString() });
    ctx.result(r, text);
    return 0;
  },
};

/**
 * A TARGET typed on the command line that no repository can list (absolute, empty, `..`, control
 * characters…) is the user's mistake (exit 2), refused before the TPM or the network is touched;
 * the same name coming from metadata is the repository's (TUF_TARGET_PATH_INVALID, denied).
 */
function checkTargetName(target: string): void {
  try {
    checkTargetPath(target);
  } catch (e) {
    if (!(e instanceof TufError)) throw e;
    throw new TufError('TUF_TARGET_PATH_INVALID', `TARGET ${JSON.stringify(target)} cannot be a TUF target path (empty, absolute, with '.' or '..' segments, backslashes or control characters); give the path the repository lists, e.g. app/v1.bin.`, 'usage', { details: { target } });
  }
}

const bundleCreate: CommandSpec = {
  path: ['bundle', 'create'],
  summary: 'Pack a repository\'s metadata and selected targets into an offline bundle',
  usage: 'tollgate bundle create --repo DIR --targets PATTERN [--targets PATTERN …] --out FILE',
  options: {
    repo: { type: 'string', description: 'repository directory (with metadata/ and targets/)', valueName: 'DIR' },
    targets: { type: 'string', multiple: true, description: 'glob of target paths to include (repeatable; * within a segment, ** across)', valueName: 'PATTERN' },
    out: { type: 'string', description: 'bundle file to write', valueName: 'FILE' },
  },
  async run(ctx) {
    const repo = resolve(ctx.cwd, requireOption(ctx, 'repo'));
    const out = outputFile(ctx, 'out', requireOption(ctx, 'out'));
    const t = ctx.values['targets'];
    const patterns = Array.isArray(t) ? t : typeof t === 'string' ? [t] : [];
    if (patterns.length === 0) throw new TufError('TUF_USAGE', '--targets PATTERN is required (use "**" for all).', 'usage');
    const r = await createBundle(repo, patterns, out);
    ctx.result(r, `wrote ${r.file}: ${r.metadata.length} metadata files, ${r.targets.length} targets, ${r.bytes} bytes`);
  },
};

// tuf-conformance CLIENT-CLI.md: exit 0 on success, 1 on any failure (never 2/3).
const conformance: CommandSpec = {
  path: ['conformance', 'tuf'],
  summary: 'TUF conformance-suite client (init | refresh | download); no TPM',
  usage: 'tollgate conformance tuf --metadata-dir DIR [--metadata-url URL] [--target-name T …] [--target-dir DIR] [--target-base-url URL] (init TRUSTED_ROOT | refresh | download)',
  passThrough: true,
  positionals: [{ name: 'COMMAND', required: true }, { name: 'ARG', required: false }],
  options: {
    'metadata-dir': { type: 'string', description: 'trusted metadata directory', valueName: 'DIR' },
    'metadata-url': { type: 'string', description: 'repository metadata URL', valueName: 'URL' },
    'target-name': { type: 'string', multiple: true, description: 'target path to download (repeatable, in order)', valueName: 'T' },
    'target-dir': { type: 'string', description: 'where downloaded targets go', valueName: 'DIR' },
    'target-base-url': { type: 'string', description: 'repository targets URL', valueName: 'URL' },
  },
  async run(ctx) {
    try {
      const cmd = ctx.positionals[0];
      const metadataDir = resolve(ctx.cwd, requireOption(ctx, 'metadata-dir'));
      if (cmd === 'init') {
        const root = ctx.positionals[1];
        if (!root) throw new TufError('TUF_USAGE', 'init needs TRUSTED_ROOT.', 'usage');
        conformanceInit(metadataDir, resolve(ctx.cwd, root));
        ctx.result({ ok: true }, `initialised ${metadataDir}`);
      } else if (cmd === 'refresh') {
        await conformanceRefresh(requireOption(ctx, 'metadata-url'), metadataDir);
        ctx.result({ ok: true }, 'refreshed');
      } else if (cmd === 'download') {
        const t = ctx.values['target-name'];
        const names = Array.isArray(t) ? t : typeof t === 'string' ? [t] : [];
        if (names.length === 0) throw new TufError('TUF_USAGE', '--target-name is required.', 'usage');
        const r = await conformanceDownload({
          metadataUrl: requireOption(ctx, 'metadata-url'), metadataDir, targetNames: names,
          targetDir: resolve(ctx.cwd, requireOption(ctx, 'target-dir')), targetBaseUrl: requireOption(ctx, 'target-base-url'),
        });
        ctx.result({ ok: true, downloads: r }, r.map((d) => `${d.cached ? 'cached' : 'downloaded'} ${d.target}`).join('\n'));
      } else {
        throw new TufError('TUF_USAGE', `Unknown conformance command ${cmd ?? '(none)'}; use init, refresh or download.`, 'usage');
      }
      return 0;
    } catch (e) {
      // Reported like every other command's error (CODE: message), but the exit code stays 1.
      const err = e instanceof TollgateError ? e.toJSON() : { code: 'UNEXPECTED_ERROR', message: `unexpected error: ${e instanceof Error ? e.message : String(e)}` };
      ctx.info(`tollgate: ${String(err.code)}: ${String(err.message)}`);
      if (ctx.json) ctx.result({ ok: false, error: err }, '');
      return 1;
    }
  },
};

export const commands: CommandSpec[] = [init, update, fetch, bundleCreate, conformance];
