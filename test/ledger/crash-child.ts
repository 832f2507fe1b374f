// Child process for the ledger kill test: opens the ledger (which repairs what the previous,
// killed child left), reports the repair on stdout as one JSON line, then appends records in a
// loop, printing each record's seq once append() has returned (the record is on disk and in the
// TPM). The parent SIGKILLs it at a random moment, or it kills itself at the N-th crash point
// (TOLLGATE_LEDGER_CRASH_AT, agent/ledger/crash.ts).
import { writeSync } from 'node:fs';
import { openTPM } from '../../hardware/index.ts';
import { Ledger, appendDecision } from '../../agent/ledger/index.ts';

const env = process.env;
const tpm = await openTPM(env.TG_TPM!);
try {
  const ledger = await Ledger.open({ stateRoot: env.TG_STATE!, tpm });
  writeSync(1, JSON.stringify({ recovered: ledger.recovered, count: ledger.state().count }) + '\n');
  const n = Number(env.TG_APPENDS ?? '10');
  for (let i = 0; i < n; i++) {
    const r = await appendDecision(ledger, 'fetch', { decision: i % 3 ? 'allow' : 'deny', target: `app-${i}.bin`, sha256: (i % 256).toString(16).padStart(2, '0').repeat(32), vsaDigest: 'ab'.repeat(32) });
    writeSync(1, `${r.seq}\n`);
  }
  await ledger.close();
} finally {
  await tpm.close();
}
