// Fuzzing the event-log parsers: each gets mutated inputs built from real and synthesised logs,
// 20,000 per parser in `npm test`; TOLLGATE_FUZZ_EVENTLOG=100000 runs the full count (about a
// minute on a quiet 2-core machine). A parsed log is also decoded
// and replayed. The only acceptable outcomes are a result or an EventLogError; anything else
// (RangeError, TypeError, a hang) fails with the seed that rebuilds the input. Memory stays
// bounded: parsed events are views into the input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventlog, TPM_ALG } from '../../hardware/index.ts';
import * as B from '../fixtures/eventlog/builder.ts';
import { REAL } from '../fixtures/eventlog/tool.ts';
import { mutate, prng } from '../fixtures/eventlog/mutate.ts';

const N = Number(process.env.TOLLGATE_FUZZ_EVENTLOG ?? 20_000);
const { EventLogError } = eventlog;

/** The first events of a log, cut at an event boundary at or under `max` bytes. */
function head(bytes: Buffer, max: number): Buffer {
  const log = eventlog.parseTCGLog(bytes);
  let end = 0;
  for (const e of log.events) {
    const next = log.events[e.seq + 1]?.offset ?? bytes.length;
    if (next > max) break;
    end = next;
  }
  return bytes.subarray(0, end);
}

interface Run { inputs: number; accepted: number; codes: Map<string, number>; rssGrowthMB: number }

function fuzz(name: string, seeds: Buffer[], target: (input: Buffer) => void, seed: number): Run {
  const rnd = prng(seed);
  const codes = new Map<string, number>();
  let accepted = 0;
  const rss0 = process.memoryUsage().rss;
  let rssMax = rss0;
  for (let i = 0; i < N; i++) {
    const input = mutate(seeds[i % seeds.length]!, seeds, rnd);
    try {
      target(input);
      accepted++;
    } catch (e) {
      if (!(e instanceof EventLogError)) {
        assert.fail(`${name} input ${i} (seed ${seed}) threw ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}\ninput: ${input.toString('hex').slice(0, 400)}`);
      }
      codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    }
    if ((i & 1023) === 0) rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }
  return { inputs: N, accepted, codes, rssGrowthMB: (rssMax - rss0) / 2 ** 20 };
}

function report(t: { diagnostic: (s: string) => void }, name: string, r: Run): void {
  t.diagnostic(`${name}: ${r.inputs} inputs, ${r.accepted} accepted, ${[...r.codes].map(([c, n]) => `${c} ${n}`).join(', ')}; rss +${r.rssGrowthMB.toFixed(0)} MB`);
  // Both paths are exercised, and no input made the parser hold on to memory.
  assert.ok(r.accepted > 0 && r.codes.size > 0);
  assert.ok(r.rssGrowthMB < 512, `${name}: rss grew ${r.rssGrowthMB} MB`);
}

const banks = [B.ALG.SHA1, B.ALG.SHA256];
const tcgSeeds = [
  B.buildTCGLog(B.typicalBoot({ seed: 'f1', startupLocality: 3 }).slice(0, 14), { banks }),
  B.buildTCGLog(B.typicalBoot({ seed: 'f2', secureBoot: false }).slice(8), { format: 'sha1' }),
  head(readFileSync(join(REAL, 'go-attestation/ubuntu_2104_shielded_vm_no_secure_boot_eventlog')), 3000),
  head(readFileSync(join(REAL, 'tpm2-tools/event-bootorder.bin')), 2500),
  head(readFileSync(join(REAL, 'go-attestation/option_rom_eventlog')), 2500),
  readFileSync(join(REAL, 'tpm2-tools/event-uefivar.bin')),
];

describe('event-log parser fuzz', () => {
  it('parseTCGLog (then decode and replay)', (t) => {
    const r = fuzz('parseTCGLog', tcgSeeds, (input) => {
      const log = eventlog.parseTCGLog(input);
      eventlog.bootSummary(eventlog.decodeTCGLog(log));
      eventlog.replayTCG(log);
    }, 0x7c6);
    report(t, 'parseTCGLog', r);
  });

  const built = B.typicalIMA(12, { violationAt: 5, seed: 'fz' }).map((e) => B.imaEntry(e));
  const builtBE = B.typicalIMA(12, { seed: 'fzbe' }).map((e) => B.imaEntry(e, true));

  it('parseIMABinary (then replay)', (t) => {
    const seeds = [B.buildIMABinary(built), B.buildIMABinary(builtBE, { bigEndian: true }), B.buildIMABinary(built.slice(0, 4), { templateHashAlg: B.ALG.SHA256 })];
    const base = eventlog.PCRState.create([TPM_ALG.SHA1, TPM_ALG.SHA256]);
    const r = fuzz('parseIMABinary', seeds, (input) => {
      eventlog.replayIMA(base, eventlog.parseIMABinary(input, { limits: { maxEventSize: 64 * 1024 } }).entries);
    }, 0x1a4);
    report(t, 'parseIMABinary', r);
  });

  it('parseIMAAscii (then replay)', (t) => {
    const seeds = [Buffer.from(B.buildIMAAscii(built)), readFileSync(join(REAL, 'keylime/ima-entries.txt')), readFileSync(join(REAL, 'keylime/ima-log-sha384'))];
    const base = eventlog.PCRState.create([TPM_ALG.SHA1, TPM_ALG.SHA256]);
    const r = fuzz('parseIMAAscii', seeds, (input) => {
      eventlog.replayIMA(base, eventlog.parseIMAAscii(input).entries);
    }, 0x5c1);
    report(t, 'parseIMAAscii', r);
  });

  it('PCRState.deserialize', (t) => {
    const st = eventlog.replayIMA(eventlog.replayTCG(eventlog.parseTCGLog(tcgSeeds[0]!)), eventlog.parseIMABinary(B.buildIMABinary(built)).entries).state;
    const seeds = [Buffer.from(st.serialize()), Buffer.from(eventlog.PCRState.create([TPM_ALG.SHA384]).serialize())];
    const r = fuzz('PCRState.deserialize', seeds, (input) => {
      eventlog.PCRState.deserialize(input.toString('latin1')).serialize();
    }, 0x3e9);
    report(t, 'PCRState.deserialize', r);
  });
});
