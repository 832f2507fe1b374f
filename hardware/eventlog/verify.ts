// One call for a verifier: the quote's signature, nonce and selection (verifyQuote), then the
// logs against the PCR digest inside it.
import { TPM_ALG } from '../constants.ts';
import { QuoteError, verifyQuote, parseAttest, parseSignature, type QuotePCRValue, type VerifyQuoteInput, type VerifiedQuote } from '../quote.ts';
import type { TPMSQuoteInfo, TPMTSignature } from '../types.ts';
import { EventLogError } from './errors.ts';
import { hashName, knownDigestSize } from './hash.ts';
import type { IMAEntry } from './ima.ts';
import { matchQuote, quotedPCRs, selectionKeys, valuesFor, type MatchContext, type QuoteMatch } from './match.ts';
import { replayIMA, replayTCG, type IMAReplay } from './replay.ts';
import { PCRState, stateData } from './state.ts';
import type { TCGLog } from './tcg.ts';

export interface VerifyEventLogsInput extends Omit<VerifyQuoteInput, 'pcrs' | 'selection'> {
  /** The measured-boot log (first appraisal of a boot). */
  tcg?: TCGLog;
  /** IMA entries (all, or those after `state.imaEntries`). */
  ima?: readonly IMAEntry[];
  /** The state a previous appraisal of this boot returned (instead of `tcg`). */
  state?: PCRState;
  /** PCR values the device reported (only to locate a mismatch). */
  claimed?: readonly QuotePCRValue[];
}

export interface VerifiedEventLogs {
  quote: VerifiedQuote;
  match: QuoteMatch;
  /** The state to keep for the next appraisal of this boot. */
  state: PCRState;
  ima: IMAReplay | undefined;
}

/**
 * Verifies a quote (QuoteError as verifyQuote) and that the logs replay to the PCR digest inside
 * it (EventLogError). Give `tcg` on the first appraisal of a boot, `state` on later ones.
 */
export function verifyEventLogs(input: VerifyEventLogsInput): VerifiedEventLogs {
  if (input.tcg && input.state) throw new EventLogError('EVENTLOG_STATE_INVALID', 'Give either the boot log (first appraisal of a boot) or the saved state (later ones), not both.');
  const attest = parseAttest(input.attest);
  const q = attest.attested as Partial<TPMSQuoteInfo>;
  const selection = q.pcrSelect ?? [];
  const quoteBanks = [...new Set(selection.map((s) => s.hash))].filter((b) => hashName(b));
  let base: PCRState;
  if (input.state) base = input.state;
  else if (input.tcg) base = replayTCG(input.tcg, { banks: [...new Set([...input.tcg.algorithms.map((a) => a.alg).filter((a) => hashName(a)), ...quoteBanks])] });
  else base = PCRState.create(quoteBanks.length ? quoteBanks : [TPM_ALG.SHA256]);
  const ima = input.ima ? replayIMA(base, input.ima) : undefined;
  const state = ima ? ima.state : base;
  // Signature, nonce, type and selection first: a placeholder for PCRs the logs cannot give
  // cannot make a forged quote pass, it only lets those checks run.
  const first = valuesFor(stateData(state), selection, undefined);
  const placeholder = first.values.concat(selectionKeys(selection).filter(({ alg, pcr }) => !first.values.some((v) => v.hash === alg && v.pcr === pcr)).map(({ alg, pcr }) => ({ hash: alg, pcr, digest: Buffer.alloc(knownDigestSize(alg) ?? 32) })));
  const { tcg: _t, ima: _i, state: _s, claimed: _c, ...quoteInput } = input;
  let verified: VerifiedQuote;
  try {
    verified = verifyQuote({ ...quoteInput, pcrs: placeholder });
  } catch (e) {
    if (!(e instanceof QuoteError) || e.code !== 'QUOTE_PCR_DIGEST_MISMATCH') throw e;
    const sig: TPMTSignature = input.signature instanceof Uint8Array ? parseSignature(input.signature) : input.signature;
    const hashAlg = (sig.signature as { hash: number }).hash;
    verified = { attest, quote: attest.attested as TPMSQuoteInfo, signature: sig, hashAlg, selection };
  }
  const ctx: MatchContext = {
    ...(input.tcg ? { tcg: input.tcg } : {}),
    ...(input.ima ? { ima: { entries: ima!.appraised, before: base } } : {}),
    ...(input.claimed ? { claimed: input.claimed } : {}),
  };
  const match = matchQuote(state, quotedPCRs(verified), ctx);
  return { quote: verified, match, state: match.state, ima };
}
