// The verifier side: appraises tollgate evidence against an enrolled device record, the nonce the
// verifier issued, its reference values and what it kept from the last appraisal, and answers
// with an EAR whose per-claim reasons say what was checked, what was expected and what was found.
//
// Order, and why: first the chain of trust (the UEID and the AK's certification of the device key
// are the enrolled ones, the device key signed the COSE_Sign1, the enrolled AK signed the quote,
// the quote binds these claims, the claimed PCR values are the quoted ones), then freshness (the
// nonce, and a TPM clock that did not go back). Only evidence that passes both has its claims
// appraised: event logs replayed to the QUOTED PCR values, then the reference values. A failure
// never throws; it is a contraindicated reason. Only evidence that does not decode throws (the
// typed CBOR_/COSE_/EAT_ errors).
//
// AR4SI categories (draft-ietf-rats-ar4si) get a value from the checks that can vouch for them:
// instance-identity (UEID, key certification, COSE signature), hardware (quote by the enrolled
// AK, EK roots), configuration (PCR values, boot log, Secure Boot), executables (IMA), file-system
// (installed software). Integrity checks of the logs without reference values claim no category:
// a log that replays is authentic, not approved.
import { createHash } from 'node:crypto';
import {
  TPM_ALG, eventlog, isTollgateError, pcrDigest, publicName, publicKeyOf, selectedPCRs, verifyAttestSignature, verifyCertification, bankName,
  type QuotePCRValue, type TPMLPCRSelection, type TPMSQuoteInfo, type TPMSAttest,
} from '../../hardware/index.ts';
import { verifySign1 } from '../cose/index.ts';
import { decodeEvidence, type DecodedEvidence } from '../eat/index.ts';
import { appraisalFromReasons, buildEAR, type Appraisal, type ClaimReason, type EAR, type TrustClaim, type TrustTier, type VerifierId } from '../ear/index.ts';
import type { DeviceRecord } from '../enrol/index.ts';
import { deviceKeys, type DeviceKeys } from './record.ts';
import type { ReferenceValues } from './reference.ts';
import type { AppraisalState } from './state.ts';

/** The EAR submodule tollgate's appraisal is reported under. */
export const EAR_SUBMODULE = 'tollgate';
export const DEFAULT_VERIFIER: VerifierId = { developer: 'tollgate', build: 'tollgate attest/appraise' };

/** AR4SI claim values (draft-ietf-rats-ar4si §2.3, as Veraison's ear library names them). */
const V = {
  trustworthy: 2, untrustworthyInstance: 96, unrecognizedInstance: 97, cryptoFailed: 99,
  approved: 2, unsafe: 32, unrecognizedRuntime: 33, unsupportable: 96, contraindicated: 96, unrecognizedHardware: 97,
} as const;

export interface AppraiseOptions {
  /** The enrolled device (its record, or the keys already decoded from it). */
  device: DeviceRecord | DeviceKeys;
  /** The nonce the verifier issued for this evidence. */
  nonce: Uint8Array;
  reference?: ReferenceValues;
  /** What the last accepted appraisal of this device returned as `next`. */
  previous?: AppraisalState;
  verifierId?: VerifierId;
  /** The EAR's iat; default now. */
  now?: Date;
  /** Put the evidence into the EAR (ear.raw-evidence). Default false: it may be megabytes. */
  includeEvidence?: boolean;
}

export interface AppraiseResult {
  /** The attestation result, unsigned (signEARJWT / signEARCWT sign it with the verifier's key). */
  ear: EAR;
  /** The tollgate submodule's appraisal (status, trustworthiness vector, per-claim reasons). */
  appraisal: Appraisal;
  status: TrustTier;
  /**
   * The state to store for this device's next appraisal, when this evidence was authentic and
   * fresh; undefined otherwise (keep the previous one).
   */
  next?: AppraisalState;
  /** What the evidence said, for display. */
  facts: AppraisalFacts;
}

export interface AppraisalFacts {
  ueid: string;
  issuedAt: string;
  quote?: { clock: string; resetCount: number; restartCount: number; safe: boolean; pcrs: string };
  pcrs: Array<{ pcr: string; digest: string }>;
  logs: Array<{ format: string; firstEvent: number; bytes: number }>;
  software: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
const short = (h: string): string => (h.length > 24 ? `${h.slice(0, 16)}…` : h);
const BANK_NAMES = new Map<number, string>();
const pcrLabel = (alg: number, pcr: number): string => {
  let b = BANK_NAMES.get(alg);
  if (b === undefined) BANK_NAMES.set(alg, b = bankName(alg));
  return `${b}:${pcr}`;
};
const listText = (xs: readonly string[], n = 8): string => xs.length <= n ? xs.join(', ') : `${xs.slice(0, n).join(', ')} and ${xs.length - n} more`;

/** "sha256:0", "sha256:1", "sha1:7" → "sha256:0,1 sha1:7" (as tpm2-tools writes selections). */
function pcrSetText(labels: Iterable<string>): string {
  const by = new Map<string, number[]>();
  for (const l of labels) {
    const [bank, n] = l.split(':') as [string, string];
    let a = by.get(bank);
    if (!a) by.set(bank, a = []);
    a.push(Number(n));
  }
  return [...by].map(([b, ps]) => `${b}:${ps.sort((x, y) => x - y).join(',')}`).join(' ');
}
const IMA_DEFAULT_PCR = 10;

class Reasons {
  readonly list: ClaimReason[] = [];
  add(claim: string, status: TrustTier, message: string, o: { category?: TrustClaim; value?: number; expected?: string; actual?: string } = {}): boolean {
    this.list.push({ claim, status, ...(o.category ? { category: o.category } : {}), ...(o.value !== undefined ? { value: o.value } : {}), ...(o.expected !== undefined ? { expected: o.expected } : {}), ...(o.actual !== undefined ? { actual: o.actual } : {}), message });
    return status === 'affirming' || status === 'none';
  }
}

function errMessage(e: unknown): string {
  if (isTollgateError(e)) return e.message;
  throw e;
}

/** Appraises tollgate evidence (see the file comment). Throws only for evidence that does not decode. */
export function appraise(evidence: Uint8Array, opts: AppraiseOptions): AppraiseResult {
  const dev = 'kind' in opts.device && opts.device.kind === 'device-keys' ? opts.device : deviceKeys(opts.device as DeviceRecord);
  const d = decodeEvidence(evidence, { binding: 'report' });
  const q = d.parsed.quote.attest;
  const qi = q.attested as TPMSQuoteInfo;
  const R = new Reasons();

  const authentic = chainOfTrust(R, d, dev);
  const fresh = freshness(R, d, q, opts);
  let next: AppraisalState | undefined;
  if (authentic && fresh) {
    const claimed = claimedValues(d);
    const logs = appraiseLogs(R, d, qi, claimed, opts.previous);
    if (opts.reference) appraiseReference(R, d, dev, claimed, logs, opts.reference);
    // Logs that did not replay leave the last good replay state of this boot in place, so the
    // device's next (honest) evidence can still continue from it.
    const sameBoot = opts.previous?.resetCount === q.clockInfo.resetCount && opts.previous.restartCount === q.clockInfo.restartCount;
    const keep = logs.state ?? (sameBoot ? opts.previous!.logs : undefined);
    next = { clock: q.clockInfo.clock, resetCount: q.clockInfo.resetCount, restartCount: q.clockInfo.restartCount, ...(keep ? { logs: keep } : {}) };
  } else {
    R.add('appraisal', 'none', 'The evidence is not authentic or not fresh, so none of its claims (PCR values, logs, software) was appraised.');
  }

  const appraisal = appraisalFromReasons(R.list, opts.reference?.policyId ? { policyId: opts.reference.policyId } : {});
  const ear = buildEAR({
    verifierId: opts.verifierId ?? DEFAULT_VERIFIER, submods: { [EAR_SUBMODULE]: appraisal }, iat: opts.now ?? new Date(),
    nonce: opts.nonce, ...(opts.includeEvidence ? { rawEvidence: evidence } : {}),
  });
  return { ear, appraisal: ear.submods[EAR_SUBMODULE]!, status: appraisal.status, ...(next ? { next } : {}), facts: factsOf(d, q, qi) };
}

// ------------------------------------------------------------------------------------------------
// Chain of trust: COSE → device key → AK certification → enrolled AK; quote and its binding

function chainOfTrust(R: Reasons, d: DecodedEvidence, dev: DeviceKeys): boolean {
  let ok = true;
  ok = (same(d.claims.ueid, dev.ueid)
    ? R.add('ueid', 'affirming', 'The evidence names the enrolled device (UEID from its EK).', { category: 'instance-identity', value: V.trustworthy })
    : R.add('ueid', 'contraindicated', 'The evidence names another device than the enrolled one.', { category: 'instance-identity', value: V.unrecognizedInstance, expected: hex(dev.ueid), actual: hex(d.claims.ueid) })) && ok;

  const kc = d.parsed.keyCertification;
  const claimedAK = nameOf(kc.akPublic);
  const claimedDev = nameOf(kc.deviceKeyPublic);
  if (claimedAK !== hex(dev.akName)) {
    ok = R.add('keyCertification', 'contraindicated', 'The evidence names another AK than the enrolled one.', { category: 'instance-identity', value: V.unrecognizedInstance, expected: `AK Name ${hex(dev.akName)}`, actual: `AK Name ${claimedAK}` }) && ok;
  } else if (claimedDev !== hex(dev.deviceKeyName)) {
    ok = R.add('keyCertification', 'contraindicated', 'The evidence names another device key than the enrolled one.', { category: 'instance-identity', value: V.unrecognizedInstance, expected: `device key Name ${hex(dev.deviceKeyName)}`, actual: `device key Name ${claimedDev}` }) && ok;
  } else {
    try {
      verifyCertification({ ak: dev.akPublic, attest: d.claims.keyCertification.attest, signature: d.claims.keyCertification.signature, objectName: dev.deviceKeyName });
      R.add('keyCertification', 'affirming', 'The enrolled AK certified (TPM2_Certify) the enrolled device key in the same TPM.', { category: 'instance-identity', value: V.trustworthy });
    } catch (e) {
      ok = R.add('keyCertification', 'contraindicated', `The device key certification does not verify with the enrolled AK: ${errMessage(e)}`, { category: 'instance-identity', value: V.cryptoFailed, expected: `TPM2_Certify of ${hex(dev.deviceKeyName)} signed by the AK ${hex(dev.akName)}` }) && ok;
    }
  }

  try {
    verifySign1(d.sign1, dev.deviceKeyObject);
    R.add('signature', 'affirming', 'The COSE_Sign1 is signed by the enrolled device key.', { category: 'instance-identity', value: V.trustworthy });
  } catch (e) {
    ok = R.add('signature', 'contraindicated', `The COSE_Sign1 does not verify with the enrolled device key: ${errMessage(e)}`, { category: 'instance-identity', value: V.cryptoFailed, expected: `ES256 signature by the device key ${hex(dev.deviceKeyName)}` }) && ok;
  }

  try {
    verifyAttestSignature(publicKeyOf(dev.akPublic), d.claims.quote.attest, d.parsed.quote.signature);
    R.add('quote.signature', 'affirming', 'The TPM quote is signed by the enrolled AK.', { category: 'hardware', value: V.trustworthy });
  } catch (e) {
    ok = R.add('quote.signature', 'contraindicated', `The quote is not signed by the enrolled AK: ${errMessage(e)}`, { category: 'hardware', value: V.cryptoFailed, expected: `a quote signed by the AK ${hex(dev.akName)}` }) && ok;
  }

  ok = (d.bindingValid
    ? R.add('quote.extraData', 'affirming', 'The quote binds the nonce and every other claim (extraData = SHA-256(nonce ‖ claims digest)).')
    : R.add('quote.extraData', 'contraindicated', 'The quote was not made over these claims: they changed after quoting, or the quote comes from other evidence.', { expected: hex(d.expectedExtraData), actual: hex(d.parsed.quote.attest.extraData) })) && ok;

  ok = pcrClaims(R, d) && ok;
  return ok;
}

/** A public area's Name as hex, or why it has none (a nameAlg no TPM uses). */
function nameOf(pub: Parameters<typeof publicName>[0]): string {
  try {
    return hex(publicName(pub));
  } catch (e) {
    return `(no Name: ${errMessage(e)})`;
  }
}

/** The claimed PCR values are the quoted ones: same selection, digest equal to the quote's pcrDigest. */
function pcrClaims(R: Reasons, d: DecodedEvidence): boolean {
  const qi = d.parsed.quote.attest.attested as TPMSQuoteInfo;
  const quoted = selectionKeys(qi.pcrSelect);
  const claimed = claimedValues(d);
  const claimedKeys = claimed.map((v) => pcrLabel(v.hash, v.pcr));
  const a = [...quoted].sort().join(' ');
  const b = [...claimedKeys].sort().join(' ');
  if (a !== b) {
    return R.add('pcrs', 'contraindicated', 'The claims give values for other PCRs than the quote covers.', { category: 'configuration', value: V.contraindicated, expected: quoted.join(', '), actual: claimedKeys.join(', ') });
  }
  const hashAlg = (d.parsed.quote.signature.signature as { hash?: number } | null)?.hash ?? TPM_ALG.SHA256;
  let digest: string;
  try {
    digest = hex(pcrDigest(hashAlg, qi.pcrSelect, claimed));
  } catch (e) {
    return R.add('pcrs', 'contraindicated', `The claimed PCR values cannot be checked against the quote: ${errMessage(e)}`, { category: 'configuration', value: V.contraindicated });
  }
  if (digest !== hex(qi.pcrDigest)) {
    return R.add('pcrs', 'contraindicated', "The claimed PCR values are not the ones the TPM quoted (their digest is not the quote's pcrDigest).", { category: 'configuration', value: V.contraindicated, expected: `pcrDigest ${hex(qi.pcrDigest)}`, actual: `pcrDigest ${digest}` });
  }
  return R.add('pcrs', 'affirming', `The claimed values of PCRs ${pcrSetText(quoted)} are the quoted ones.`);
}

function selectionKeys(sel: TPMLPCRSelection): string[] {
  return sel.flatMap((s) => selectedPCRs(s).map((p) => pcrLabel(s.hash, p)));
}

function claimedValues(d: DecodedEvidence): QuotePCRValue[] {
  return d.claims.pcrs.flatMap((b) => b.values.map((v) => ({ hash: b.hashAlg, pcr: v.pcr, digest: v.digest })));
}

// ------------------------------------------------------------------------------------------------
// Freshness: the nonce, and the TPM clock and counters against the last accepted evidence

function freshness(R: Reasons, d: DecodedEvidence, q: TPMSAttest, opts: AppraiseOptions): boolean {
  const nonceOK = same(d.claims.nonce, opts.nonce)
    ? R.add('nonce', 'affirming', 'The evidence answers this challenge (the nonce the verifier issued).')
    : R.add('nonce', 'contraindicated', 'The evidence answers another challenge: it is a replay, or was made for another request.', { expected: hex(opts.nonce), actual: hex(d.claims.nonce) });
  const c = q.clockInfo;
  const now = `clock ${c.clock} ms, resetCount ${c.resetCount}, restartCount ${c.restartCount}`;
  const p = opts.previous;
  if (!p) return R.add('clock', 'affirming', `First appraisal of this device: TPM ${now} recorded.`) && nonceOK;
  const before = `clock ${p.clock} ms, resetCount ${p.resetCount}, restartCount ${p.restartCount}`;
  let why: string | undefined;
  if (c.resetCount < p.resetCount) why = 'the TPM reset count went back (the TPM was cleared, or this is another TPM or old evidence)';
  else if (c.resetCount === p.resetCount && c.restartCount < p.restartCount) why = 'the TPM restart count went back within the same boot';
  else if (c.resetCount === p.resetCount && c.restartCount === p.restartCount && c.clock <= p.clock) why = 'the TPM clock is not later than in the last accepted evidence of this boot (old evidence replayed, or the clock went back)';
  if (why) return R.add('clock', 'contraindicated', `Not newer than the last accepted evidence: ${why}.`, { expected: `after ${before}`, actual: now }) && false;
  const booted = c.resetCount !== p.resetCount || c.restartCount !== p.restartCount;
  return R.add('clock', 'affirming', `TPM ${now}: later than the last accepted evidence (${before})${booted ? '; the device restarted since' : ''}.`) && nonceOK;
}

// ------------------------------------------------------------------------------------------------
// Event logs, replayed to the quoted PCR values

interface LogResult {
  /** The boot log, when it was sent and replays (or is the one replayed before in this boot). */
  tcg?: eventlog.TCGLog;
  /** IMA: the entries appraised now, when the IMA log was sent and replays. */
  ima?: eventlog.IMAReplay;
  imaSent: boolean;
  bootSent: boolean;
  state?: AppraisalState['logs'];
}

function appraiseLogs(R: Reasons, d: DecodedEvidence, qi: TPMSQuoteInfo, claimed: QuotePCRValue[], previous: AppraisalState | undefined): LogResult {
  const q = d.parsed.quote.attest.clockInfo;
  const sameBoot = previous?.logs !== undefined && previous.resetCount === q.resetCount && previous.restartCount === q.restartCount;
  const tcgChunk = d.claims.eventLogs.find((l) => l.format === 'tcg-pc-client');
  const imaChunk = d.claims.eventLogs.find((l) => l.format === 'ima');
  const out: LogResult = { imaSent: imaChunk !== undefined, bootSent: tcgChunk !== undefined };
  const quotedBanks = [...new Set(qi.pcrSelect.filter((s) => selectedPCRs(s).length > 0).map((s) => s.hash))];
  const quoted = new Set(selectionKeys(qi.pcrSelect));
  const covered = new Set<string>();
  const cover = (pcr: number) => { for (const b of quotedBanks) if (quoted.has(pcrLabel(b, pcr))) covered.add(pcrLabel(b, pcr)); };

  let base: eventlog.PCRState;
  let tcg: eventlog.TCGLog | undefined;
  let freshTCG = false;
  let bootSha: string | undefined;
  try {
    if (tcgChunk) {
      if (tcgChunk.offset !== 0 || tcgChunk.firstEvent !== 0) {
        R.add('eventLogs.tcg-pc-client', 'contraindicated', 'The measured-boot log must be sent whole (offset 0, first event 0).', { category: 'configuration', value: V.contraindicated, expected: 'offset 0', actual: `offset ${tcgChunk.offset}, first event ${tcgChunk.firstEvent}` });
        return out;
      }
      tcg = eventlog.parseTCGLog(tcgChunk.data);
      bootSha = createHash('sha256').update(tcgChunk.data).digest('hex');
      if (sameBoot && previous!.logs!.bootLogSha256 !== undefined && previous!.logs!.bootLogSha256 !== bootSha) {
        R.add('eventLogs.tcg-pc-client', 'contraindicated', 'The measured-boot log differs from the one appraised earlier in this boot (same TPM reset and restart counts).', { category: 'configuration', value: V.contraindicated, expected: `sha256 ${previous!.logs!.bootLogSha256}`, actual: `sha256 ${bootSha}` });
        return out;
      }
      if (sameBoot && previous!.logs!.bootLogSha256 === bootSha) {
        base = eventlog.PCRState.deserialize(previous!.logs!.pcrState);
        for (const k of previous!.logs!.covered) if (quoted.has(k)) covered.add(k);
      } else {
        // Only the quoted banks are compared, so only they are replayed (half the hashing of a
        // SHA-1 + SHA-256 log when SHA-256 alone is quoted).
        base = eventlog.replayTCG(tcg, { banks: quotedBanks });
        freshTCG = true;
        // The firmware and boot loader PCRs are the log's to explain, events or not.
        for (let p = 0; p <= 9; p++) cover(p);
        for (const p of new Set(tcg.events.filter((e) => e.type !== eventlog.EV.NO_ACTION).map((e) => e.pcr))) cover(p);
      }
    } else if (sameBoot) {
      base = eventlog.PCRState.deserialize(previous!.logs!.pcrState);
      bootSha = previous!.logs!.bootLogSha256;
      for (const k of previous!.logs!.covered) if (quoted.has(k)) covered.add(k);
    } else {
      base = eventlog.PCRState.create(quotedBanks.length ? quotedBanks : [TPM_ALG.SHA256]);
    }
  } catch (e) {
    R.add('eventLogs.tcg-pc-client', 'contraindicated', `The measured-boot log cannot be replayed: ${errMessage(e)}`, { category: 'configuration', value: V.contraindicated });
    return out;
  }

  let ima: eventlog.IMAReplay | undefined;
  let state = base;
  if (imaChunk) {
    try {
      const entries = eventlog.parseIMABinary(imaChunk.data, { firstIndex: imaChunk.firstEvent }).entries;
      ima = eventlog.replayIMA(base, entries);
      state = ima.state;
      for (const p of new Set(ima.appraised.map((e) => e.pcr))) cover(p);
      if (entries.length === 0 && base.imaEntries > 0) cover(IMA_DEFAULT_PCR);
    } catch (e) {
      R.add('eventLogs.ima', 'contraindicated', `The IMA log cannot be replayed: ${errMessage(e)}`, { category: 'executables', value: V.contraindicated });
      return out;
    }
  }

  if (covered.size === 0) {
    R.add('eventLogs', 'none', tcgChunk || imaChunk ? 'The logs sent extend none of the quoted PCRs: nothing to replay.' : 'No event log was sent: the quoted PCR values are appraised against reference values only.');
    return out;
  }
  // The claimed values are authenticated (their digest is the quote's), so the quoted values of
  // the PCRs the logs account for are known, and their digest is a quoted digest too.
  const sub: TPMLPCRSelection = qi.pcrSelect.map((s) => {
    const mask = new Uint8Array(s.pcrSelect.length);
    for (const p of selectedPCRs(s)) if (covered.has(pcrLabel(s.hash, p))) mask[p >> 3]! |= 1 << (p & 7);
    return { hash: s.hash, pcrSelect: mask };
  }).filter((s) => selectedPCRs(s).length > 0);
  const hashAlg = (d.parsed.quote.signature.signature as { hash?: number } | null)?.hash ?? TPM_ALG.SHA256;
  const subValues = claimed.filter((v) => covered.has(pcrLabel(v.hash, v.pcr)));
  const quotedSub = { selection: sub, pcrDigest: pcrDigest(hashAlg, sub, subValues), hashAlg };
  const imaPCRs = new Set((ima?.appraised ?? []).map((e) => e.pcr));
  let match: eventlog.QuoteMatch;
  try {
    match = eventlog.matchQuote(state, quotedSub, {
      ...(freshTCG && tcg ? { tcg } : {}), ...(ima ? { ima: { entries: ima.appraised, before: base } } : {}), claimed: subValues,
    });
  } catch (e) {
    replayFailure(R, e, state, claimed, imaPCRs);
    return out;
  }
  const coveredList = [...covered];
  const parts = [
    ...(tcgChunk ? [`the measured-boot log (${tcg!.events.length} events${freshTCG ? '' : ', replayed before in this boot'})`] : bootSha ? ['the measured-boot log replayed before in this boot'] : []),
    ...(ima ? [`the IMA log (${ima.appraised.length} new entries${ima.skipped ? `, ${ima.skipped} re-sent and skipped` : ''}, ${match.state.imaEntries} in all)`] : []),
  ];
  R.add('eventLogs', 'affirming', `${parts.join(' and ')} replay${parts.length > 1 ? '' : 's'} to the quoted PCRs ${pcrSetText(coveredList)}${match.quirks.length ? `; ${match.quirks.join('; ')}` : ''}.`);
  if (ima && ima.violations.length) {
    R.add('eventLogs.ima', 'warning', `IMA logged ${ima.violations.length} measurement violation(s) (a file measured while open for writing, or changed while measured) at entr${ima.violations.length > 1 ? 'ies' : 'y'} ${listText(ima.violations.map(String))}: what ran there is not known.`, { category: 'executables', value: V.unsafe });
  }
  out.tcg = tcg;
  if (ima) out.ima = ima;
  out.state = { pcrState: match.state.serialize(), ...(bootSha ? { bootLogSha256: bootSha } : {}), covered: coveredList };
  return out;
}

/** A replay mismatch: one reason for the log, and one per differing PCR with the replayed value as the expected one. */
function replayFailure(R: Reasons, e: unknown, state: eventlog.PCRState, claimed: QuotePCRValue[], imaPCRs: Set<number>): void {
  const message = errMessage(e);
  if (!(e instanceof eventlog.EventLogError) || e.code !== 'EVENTLOG_REPLAY_MISMATCH') {
    R.add('eventLogs', 'contraindicated', `The event logs cannot be compared with the quote: ${message}`, { category: 'configuration', value: V.contraindicated });
    return;
  }
  const diag = e.details?.diagnosis as eventlog.MismatchDiagnosis | undefined;
  const differing = (e.details?.differing as string[] | undefined) ?? [];
  const source = diag?.kind === 'inserted' ? diag.event.source : diag?.kind === 'reordered' ? diag.events[0].source
    : diag?.kind === 'missing-or-altered' ? (diag.pcrs.every((p) => imaPCRs.has(p)) ? 'ima' : 'tcg') : undefined;
  const claim = source === 'ima' ? 'eventLogs.ima' : source === 'tcg' ? 'eventLogs.tcg-pc-client' : 'eventLogs';
  R.add(claim, 'contraindicated', message, { category: source === 'ima' ? 'executables' : 'configuration', value: V.contraindicated });
  for (const label of differing) {
    const [bank, n] = label.split(':') as [string, string];
    const v = claimed.find((c) => pcrLabel(c.hash, c.pcr) === `${bank}:${n}`);
    if (!v) continue;
    const replayed = state.value(v.hash, v.pcr, state.imaMode ?? 'bank-hash');
    const ima = imaPCRs.has(v.pcr);
    R.add(`pcrs.${label}`, 'contraindicated', `PCR ${label} is not what the event logs replay to: it was extended with something the logs do not show${ima ? ' (or the IMA log was changed)' : ''}.`,
      { category: ima ? 'executables' : 'configuration', value: V.contraindicated, ...(replayed ? { expected: `${hex(replayed)} (replayed from the logs)` } : {}), actual: `${hex(v.digest)} (quoted)` });
  }
}

// ------------------------------------------------------------------------------------------------
// Reference values

function appraiseReference(R: Reasons, d: DecodedEvidence, dev: DeviceKeys, claimed: QuotePCRValue[], logs: LogResult, ref: ReferenceValues): void {
  if (ref.ekRoots) {
    const chain = dev.ekChain;
    const vendor = chain?.vendor ?? undefined;
    const hit = chain && ((vendor !== undefined && ref.ekRoots.vendors.has(vendor.toLowerCase())) || chain.path.some((f) => ref.ekRoots!.fingerprints.has(f)));
    if (hit) R.add('reference.ekRoots', 'affirming', `The EK certificate chains to an allowed CA (${vendor ?? chain!.root}).`, { category: 'hardware', value: V.trustworthy });
    else R.add('reference.ekRoots', 'contraindicated', chain ? 'The EK certificate chains to a CA the reference values do not allow.' : 'The enrolment did not chain the EK certificate to any CA.', { category: 'hardware', value: V.unrecognizedHardware, expected: `one of: ${listText(ref.ekRoots.entries)}`, actual: chain ? `vendor ${chain.vendor ?? '(none)'}, root ${chain.root}` : 'no EK chain' });
  }

  if (ref.pcrs) {
    for (const [label, want] of ref.pcrs) {
      const v = claimed.find((c) => c.hash === want.alg && c.pcr === want.pcr);
      if (!v) R.add(`pcrs.${label}`, 'contraindicated', `The reference values name PCR ${label}, which the quote does not cover; quote it.`, { category: 'configuration', value: V.unsupportable, expected: `one of: ${listText(want.allowed.map(short))}`, actual: 'not quoted' });
      else if (want.allowed.includes(hex(v.digest))) R.add(`pcrs.${label}`, 'affirming', `PCR ${label} has an allowed value.`, { category: 'configuration', value: V.approved });
      else R.add(`pcrs.${label}`, 'contraindicated', `PCR ${label} has a value the reference values do not allow.`, { category: 'configuration', value: V.unsupportable, expected: `one of: ${listText(want.allowed, 4)}`, actual: hex(v.digest) });
    }
  }

  if (ref.eventLog) bootReference(R, logs, ref.eventLog);
  if (ref.ima) imaReference(R, logs, ref.ima);
  if (ref.software) softwareReference(R, d, ref.software);
}

/** An EFI signature database entry: the hash itself, or the SHA-256 of a certificate's DER. */
function entryId(list: eventlog.SignatureList, e: eventlog.SignatureEntry): string {
  return (list.typeName === 'sha256' || list.typeName === 'sha1') && e.hash ? e.hash.toLowerCase() : createHash('sha256').update(e.data).digest('hex');
}

function bootReference(R: Reasons, logs: LogResult, ref: NonNullable<ReferenceValues['eventLog']>): void {
  if (!logs.tcg) {
    R.add('eventLog', 'contraindicated', logs.bootSent ? 'The measured-boot log did not replay to the quote, so nothing in it can be relied on.' : 'The reference values need the measured-boot log, and the evidence has none (or sent only later IMA entries).', { category: 'configuration', value: V.unsupportable, expected: 'a measured-boot log that replays to the quote', actual: logs.bootSent ? 'a log that does not replay' : 'no log' });
    return;
  }
  const log = logs.tcg;
  const s = eventlog.bootSummary(eventlog.decodeTCGLog(log));
  if (ref.secureBoot === 'required') {
    if (s.secureBoot?.enabled) R.add('eventLog.secureBoot', 'affirming', `Secure Boot is on (event ${s.secureBoot.seq}).`, { category: 'configuration', value: V.approved });
    else R.add('eventLog.secureBoot', 'contraindicated', s.secureBoot ? `Secure Boot is off (event ${s.secureBoot.seq}).` : 'The log has no trusted SecureBoot variable event: Secure Boot state unknown.', { category: 'configuration', value: V.unsupportable, expected: 'enabled', actual: s.secureBoot ? 'disabled' : 'not measured' });
  }
  const entries = (name: string): string[] | undefined => s.databases[name]?.signatureLists.flatMap((l) => l.signatures.map((e) => entryId(l, e)));
  if (ref.db) {
    const db = entries('db');
    const unknown = db?.filter((x) => !ref.db!.has(x)) ?? [];
    if (!db) R.add('eventLog.db', 'contraindicated', 'The log has no trusted measurement of the db signature database.', { category: 'configuration', value: V.unsupportable, expected: 'db measured', actual: 'not measured' });
    else if (unknown.length) R.add('eventLog.db', 'contraindicated', `The db signature database holds ${unknown.length} entr${unknown.length > 1 ? 'ies' : 'y'} the reference values do not allow: firmware would run code they sign.`, { category: 'configuration', value: V.unsupportable, expected: `entries from the allow list (${ref.db.size})`, actual: `not allowed: ${listText(unknown, 4)}` });
    else R.add('eventLog.db', 'affirming', `Every db entry (${db.length}) is allowed.`, { category: 'configuration', value: V.approved });
  }
  if (ref.dbx) {
    const dbx = new Set(entries('dbx') ?? []);
    const missing = ref.dbx.filter((x) => !dbx.has(x));
    if (missing.length) R.add('eventLog.dbx', 'contraindicated', `The dbx revocation list lacks ${missing.length} required entr${missing.length > 1 ? 'ies' : 'y'}: revoked code could still boot.`, { category: 'configuration', value: V.unsupportable, expected: `dbx contains ${listText(ref.dbx, 4)}`, actual: `missing: ${listText(missing, 4)}` });
    else R.add('eventLog.dbx', 'affirming', `dbx holds all ${ref.dbx.length} required revocation(s).`, { category: 'configuration', value: V.approved });
  }
  if (ref.bootApplications) {
    const bad: string[] = [];
    for (const a of s.applications) {
      const e = log.events[a.seq]!;
      const dg = e.digests.find((x) => x.alg === TPM_ALG.SHA256)?.digest;
      if (!dg || !ref.bootApplications.has(hex(dg))) bad.push(`event ${a.seq} ${dg ? hex(dg) : '(no SHA-256 digest)'}`);
    }
    if (bad.length) R.add('eventLog.bootApplications', 'contraindicated', `${bad.length} EFI application(s) started before the OS are not allowed.`, { category: 'configuration', value: V.unsupportable, expected: `Authenticode SHA-256 from the allow list (${ref.bootApplications.size})`, actual: listText(bad, 4) });
    else R.add('eventLog.bootApplications', 'affirming', `Every EFI application started (${s.applications.length}) is allowed.`, { category: 'configuration', value: V.approved });
  }
}

function imaReference(R: Reasons, logs: LogResult, ref: NonNullable<ReferenceValues['ima']>): void {
  if (!logs.ima) {
    R.add('ima', 'contraindicated', logs.imaSent ? 'The IMA log did not replay to the quote, so nothing in it can be relied on.' : 'The reference values need the IMA log, and the evidence has none.', { category: 'executables', value: V.contraindicated, expected: 'an IMA log that replays to the quote', actual: logs.imaSent ? 'a log that does not replay' : 'no log' });
    return;
  }
  const denied: string[] = [];
  const unknown: string[] = [];
  const untrusted: string[] = [];
  let checked = 0;
  for (const e of logs.ima.appraised) {
    if (e.violation) continue; // reported with the replay
    const f = e.fields;
    if (!e.trusted || !f) { untrusted.push(`entry ${e.index}`); continue; }
    if (f.name === 'boot_aggregate') continue;
    checked++;
    const digest = `${f.digestAlg}:${hex(f.digest)}`;
    const what = `${f.name} (${digest.length > 30 ? `${digest.slice(0, 23)}…` : digest})`;
    if (ref.deny?.some((r) => (r.digest === undefined || r.digest === digest) && (r.path === undefined || r.path === f.name))) { denied.push(what); continue; }
    if (ref.allow) {
      const paths = ref.allow.digests.get(digest);
      if (!paths || !paths.some((p) => p === undefined || p === f.name)) unknown.push(what);
    }
  }
  if (untrusted.length) R.add('ima.entries', 'contraindicated', `${untrusted.length} IMA entr${untrusted.length > 1 ? 'ies have' : 'y has'} data that does not match its template hash: the file names and digests there cannot be appraised.`, { category: 'executables', value: V.contraindicated, actual: listText(untrusted) });
  if (denied.length) R.add('ima.deny', 'contraindicated', `${denied.length} measured file(s) are on the deny list.`, { category: 'executables', value: V.contraindicated, expected: 'no file from the deny list', actual: listText(denied, 5) });
  if (ref.allow) {
    if (unknown.length) R.add('ima.allow', ref.unknown, `${unknown.length} measured file(s) are not on the allow list.`, { category: 'executables', value: ref.unknown === 'warning' ? V.unrecognizedRuntime : V.contraindicated, expected: 'files from the allow list', actual: listText(unknown, 5) });
    else R.add('ima.allow', 'affirming', `Every measured file appraised now (${checked}) is on the allow list.`, { category: 'executables', value: V.approved });
  } else if (!denied.length && !untrusted.length) {
    R.add('ima.deny', 'affirming', `None of the ${checked} measured file(s) appraised now is on the deny list.`, { category: 'executables', value: V.approved });
  }
}

function softwareReference(R: Reasons, d: DecodedEvidence, ref: NonNullable<ReferenceValues['software']>): void {
  const sw = d.claims.software;
  for (const want of ref.mustInclude) {
    const hit = sw.filter((s) => s.target === want.target);
    const ok = hit.some((s) => want.sha256 === undefined || (s.hashes.sha256 !== undefined && hex(s.hashes.sha256) === want.sha256));
    const expected = `${want.target} installed${want.sha256 ? ` with sha256 ${want.sha256}` : ''}`;
    if (ok) R.add(`software[${want.target}]`, 'affirming', `${want.target} is installed${want.sha256 ? ' with the required digest' : ''}.`, { category: 'file-system', value: V.approved });
    else R.add(`software[${want.target}]`, 'contraindicated', hit.length ? `${want.target} is installed with another digest.` : `${want.target} is not installed.`, { category: 'file-system', value: V.contraindicated, expected, actual: hit.length ? hit.map((s) => `sha256 ${s.hashes.sha256 ? hex(s.hashes.sha256) : '(none)'}`).join(', ') : 'not installed' });
  }
  for (const not of ref.mustNotInclude) {
    const hit = sw.filter((s) => (not.target === undefined || s.target === not.target) && (not.sha256 === undefined || (s.hashes.sha256 !== undefined && hex(s.hashes.sha256) === not.sha256)));
    const label = not.target ?? `sha256:${not.sha256}`;
    if (hit.length) R.add(`software[${label}]`, 'contraindicated', `Software the reference values forbid is installed: ${hit.map((s) => s.target).join(', ')}.`, { category: 'file-system', value: V.contraindicated, expected: `${label} not installed`, actual: hit.map((s) => `${s.target}${s.hashes.sha256 ? ` sha256 ${hex(s.hashes.sha256)}` : ''}`).join(', ') });
    else R.add(`software[${label}]`, 'affirming', `${label} is not installed.`, { category: 'file-system', value: V.approved });
  }
}

// ------------------------------------------------------------------------------------------------

function factsOf(d: DecodedEvidence, q: TPMSAttest, qi: TPMSQuoteInfo): AppraisalFacts {
  return {
    ueid: hex(d.claims.ueid),
    issuedAt: new Date(d.claims.iat * 1000).toISOString(),
    quote: { clock: q.clockInfo.clock.toString(), resetCount: q.clockInfo.resetCount, restartCount: q.clockInfo.restartCount, safe: q.clockInfo.safe === 1, pcrs: pcrSetText(selectionKeys(qi.pcrSelect)) },
    pcrs: claimedValues(d).map((v) => ({ pcr: pcrLabel(v.hash, v.pcr), digest: hex(v.digest) })),
    logs: d.claims.eventLogs.map((l) => ({ format: l.format, firstEvent: l.firstEvent, bytes: l.data.length })),
    software: d.claims.software.length,
  };
}
