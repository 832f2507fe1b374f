// A readable view of decoded evidence for `tollgate attest --show`: text for people, and a JSON
// document (bytes as hex) for --json. Shows what the evidence claims; it verifies nothing more
// than decodeEvidence() did, and says so.
import { algName, bankName, type TPMSAttest, type TPMSQuoteInfo, type TPMTSignature } from '../../hardware/index.ts';
import { coseAlgInfo } from '../cose/index.ts';
import { CLAIM_NAMES, EAT_MEDIA_TYPE } from './claims.ts';
import type { DecodedEvidence } from './evidence.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function short(b: Uint8Array, n = 16): string {
  const h = hex(b);
  return h.length > 2 * n ? `${h.slice(0, 2 * n)}… (${b.length} bytes)` : h;
}

function sigName(s: TPMTSignature): string {
  const hash = (s.signature as { hash?: number } | null)?.hash;
  return hash === undefined ? algName(s.sigAlg) : `${algName(s.sigAlg)}/${algName(hash)}`;
}

function attestSummary(a: TPMSAttest): Record<string, unknown> {
  return {
    signerName: hex(a.qualifiedSigner),
    extraData: hex(a.extraData),
    clock: String(a.clockInfo.clock),
    resetCount: a.clockInfo.resetCount,
    restartCount: a.clockInfo.restartCount,
    safe: a.clockInfo.safe,
    firmwareVersion: `0x${a.firmwareVersion.toString(16)}`,
  };
}

/** The decoded evidence as one JSON-ready document (byte strings in hex). */
export function evidenceJSON(d: DecodedEvidence): Record<string, unknown> {
  const c = d.claims;
  const quote = d.parsed.quote.attest;
  const qi = quote.attested as TPMSQuoteInfo;
  return {
    mediaType: EAT_MEDIA_TYPE,
    profile: c.profile,
    signature: { alg: coseAlgInfo(d.alg).name, ...(d.kid ? { kid: hex(d.kid) } : {}), verified: false },
    nonce: hex(c.nonce),
    ueid: hex(c.ueid),
    iat: c.iat,
    issuedAt: new Date(c.iat * 1000).toISOString(),
    ...(c.swname !== undefined ? { swname: c.swname } : {}),
    ...(c.swversion !== undefined ? { swversion: c.swversion } : {}),
    quote: {
      ...attestSummary(quote),
      pcrSelection: qi.pcrSelect.map((s) => ({ bank: bankName(s.hash), pcrs: selected(s.pcrSelect) })),
      pcrDigest: hex(qi.pcrDigest),
      signature: sigName(d.parsed.quote.signature),
      boundToClaims: true,
      claimsDigest: hex(d.claimsDigest),
    },
    pcrs: c.pcrs.map((b) => ({ bank: bankName(b.hashAlg), values: Object.fromEntries(b.values.map((v) => [String(v.pcr), hex(v.digest)])) })),
    eventLogs: c.eventLogs.map((l) => ({ format: l.format, offset: l.offset, firstEvent: l.firstEvent, bytes: l.data.length })),
    software: c.software.map((s) => ({ target: s.target, hashes: Object.fromEntries(Object.entries(s.hashes).map(([k, v]) => [k, hex(v)])), tufVersion: s.tufVersion })),
    ...(c.ledger ? { ledger: { seq: c.ledger.seq, hash: hex(c.ledger.hash), nvCertified: c.ledger.nvCertify !== undefined } } : {}),
    keyCertification: {
      ...attestSummary(d.parsed.keyCertification.attest),
      signature: sigName(d.parsed.keyCertification.signature),
      akType: algName(d.parsed.keyCertification.akPublic.type),
      deviceKeyType: algName(d.parsed.keyCertification.deviceKeyPublic.type),
    },
    ...(d.unknownClaims.length ? { unknownClaims: d.unknownClaims.map(String) } : {}),
  };
}

function selected(mask: Uint8Array): number[] {
  const out: number[] = [];
  mask.forEach((byte, i) => {
    for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) out.push(i * 8 + bit);
  });
  return out;
}

/** Renders decoded evidence as text (default) or as a JSON document. */
export function renderEvidence(d: DecodedEvidence, format: 'text' | 'json' = 'text'): string {
  if (format === 'json') return JSON.stringify(evidenceJSON(d), null, 2);
  const c = d.claims;
  const qi = d.parsed.quote.attest.attested as TPMSQuoteInfo;
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`  ${k.length < 14 ? k.padEnd(14) : `${k} `}${v}`);
  lines.push(`EAT evidence (${EAT_MEDIA_TYPE}, profile ${c.profile})`);
  row('signature', `${coseAlgInfo(d.alg).name} by the device key${d.kid ? `, kid ${short(d.kid)}` : ''} (not verified here: needs the enrolled device key)`);
  row('nonce', short(c.nonce, 32));
  row('ueid', short(c.ueid, 33));
  row('issued at', `${new Date(c.iat * 1000).toISOString()} (iat ${c.iat})`);
  if (c.swname !== undefined || c.swversion !== undefined) row('software', [c.swname, c.swversion].filter(Boolean).join(' '));
  row('quote', `${sigName(d.parsed.quote.signature)} over PCRs ${qi.pcrSelect.map((s) => `${bankName(s.hash)}:${selected(s.pcrSelect).join(',')}`).join(' ')}, digest ${short(qi.pcrDigest)}`);
  row('', `clock ${d.parsed.quote.attest.clockInfo.clock}, resets ${d.parsed.quote.attest.clockInfo.resetCount}, restarts ${d.parsed.quote.attest.clockInfo.restartCount}`);
  row('', `extraData = SHA-256(nonce ‖ claims digest ${short(d.claimsDigest, 8)}): bound to these claims`);
  for (const b of c.pcrs) {
    row(`PCRs ${bankName(b.hashAlg)}`, '');
    for (const v of b.values) lines.push(`    ${String(v.pcr).padStart(2)}  ${hex(v.digest)}`);
  }
  if (c.eventLogs.length === 0) row('event logs', 'none');
  for (const l of c.eventLogs) row(`log ${l.format}`, `${l.data.length} bytes from byte ${l.offset}, event ${l.firstEvent} on`);
  row('installed', c.software.length === 0 ? 'nothing' : `${c.software.length} target(s)`);
  for (const s of c.software) {
    const [alg, digest] = Object.entries(s.hashes)[0]!;
    lines.push(`    ${s.target}  ${alg}:${short(digest, 8)}  (TUF targets v${s.tufVersion})`);
  }
  row('ledger', c.ledger ? `seq ${c.ledger.seq}, head ${short(c.ledger.hash)}${c.ledger.nvCertify ? ', NV-certified by the AK' : ''}` : 'none');
  const kc = d.parsed.keyCertification;
  row('device key', `${algName(kc.deviceKeyPublic.type)} key certified by the ${algName(kc.akPublic.type)} AK (TPM2_Certify, ${sigName(kc.signature)})`);
  if (d.unknownClaims.length) row('other claims', d.unknownClaims.map((k) => CLAIM_NAMES.get(k as number) ?? String(k)).join(', '));
  return lines.join('\n') + '\n';
}
