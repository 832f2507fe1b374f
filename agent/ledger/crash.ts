// Fault injection for the ledger's kill tests: with TOLLGATE_LEDGER_CRASH_AT=N the process SIGKILLs
// itself at the N-th crash point it reaches (between writing and syncing a record, between
// syncing and extending, inside recovery). Unset, as in production, every point is a no-op.
let countdown = (() => {
  const n = Number(process.env.TOLLGATE_LEDGER_CRASH_AT);
  return Number.isInteger(n) && n > 0 ? n : 0;
})();

export function crashPoint(_name: string): void {
  if (countdown === 0) return;
  if (--countdown === 0) process.kill(process.pid, 'SIGKILL');
}
