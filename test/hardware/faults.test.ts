// Faults between us and a real swtpm: responses altered in transit (bit flips, truncation,
// padding), TPM warnings that must be retried, a TPM that hangs (timeout) and one that dies in the
// middle of a command. Every one must end in a typed error, never a hang or a crash, and a
// connection whose framing stayed intact must keep working.
// Always a private swtpm (never TOLLGATE_TEST_SWTPM): these tests freeze and kill it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import { silentPorts } from '../silent-tpm.ts';
import {
  TPM, openTPM, TollgateError, TPMMarshalError, TPMTransportError, TPMResponseAuthError, TPMError,
  TPM_ALG, TPM_CC, TPM_RH, TPMA_NV, COMMAND_TIMEOUT_MS, KEYGEN_TIMEOUT_MS, type Transport, type SendOptions,
} from '../../hardware/index.ts';
import { eccSigning, rsaSigning } from './templates.ts';

type Mutator = (resp: Buffer, cmd: Buffer) => Buffer;

/** Passes commands to the real TPM and lets a test rewrite (or replace) the next responses. */
class FaultyTransport implements Transport {
  readonly inner: Transport;
  readonly uri: string;
  mutators: Mutator[] = [];
  /** Responses to return instead of asking the TPM (simulated warnings), consumed in order. */
  canned: Buffer[] = [];
  sends = 0;
  /** Each send's command code and the timeout the execute path gave it. */
  timeouts: Array<[cc: number, ms: number | undefined]> = [];

  constructor(inner: Transport) {
    this.inner = inner;
    this.uri = inner.uri;
    if (inner.powerOn) this.powerOn = () => inner.powerOn!();
  }

  powerOn?: () => Promise<void>;

  async send(cmd: Uint8Array, opts?: SendOptions): Promise<Buffer> {
    this.sends++;
    this.timeouts.push([Buffer.from(cmd).readUInt32BE(6), opts?.timeoutMs]);
    const c = this.canned.shift();
    if (c) return c;
    const r = await this.inner.send(cmd, opts);
    const m = this.mutators.shift();
    return m ? m(r, Buffer.from(cmd)) : r;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function fixSize(b: Buffer): Buffer {
  b.writeUInt32BE(b.length, 2);
  return b;
}

function warning(rc: number): Buffer {
  const b = Buffer.alloc(10);
  b.writeUInt16BE(0x8001, 0);
  b.writeUInt32BE(10, 2);
  b.writeUInt32BE(rc, 6);
  return b;
}

const isMalformed = (e: unknown) => e instanceof TPMMarshalError && e.code === 'TPM_MALFORMED_RESPONSE' && e.errorClass === 'environment';

describe('altered responses', () => {
  let sw: Swtpm;
  let tpm: TPM;
  let ft: FaultyTransport;

  before(async () => {
    sw = await startSwtpm();
    tpm = await openTPM(sw.uri, { wrapTransport: (t) => (ft = new FaultyTransport(t)), retry: { attempts: 4, initialDelayMs: 1, maxDelayMs: 5 } });
  });
  after(async () => {
    await tpm?.close().catch(() => undefined);
    await sw?.stop();
  });

  const cases: Array<[string, Mutator]> = [
    ['a flipped bit in the size field', (r) => { r[5]! ^= 0x01; return r; }],
    ['a flipped bit in the tag', (r) => { r[0]! ^= 0x40; return r; }],
    ['a flipped bit in a success response code', (r) => { r[9]! ^= 0x01; return r; }],
    ['truncation by one byte (size left as sent)', (r) => r.subarray(0, r.length - 1)],
    ['truncation by one byte (size adjusted)', (r) => fixSize(Buffer.from(r.subarray(0, r.length - 1)))],
    ['truncation to the header', (r) => fixSize(Buffer.from(r.subarray(0, 10)))],
    ['truncation below the header', (r) => r.subarray(0, 7)],
    ['padding (size left as sent)', (r) => Buffer.concat([r, Buffer.from([0])])],
    ['padding (size adjusted)', (r) => fixSize(Buffer.concat([r, Buffer.from([0, 0, 0])]))],
    ['a TPM2B size that overruns the response', (r) => { r.writeUInt16BE(r.readUInt16BE(10) + 1, 10); return r; }],
    ['an empty response', () => Buffer.alloc(0)],
  ];

  for (const [name, m] of cases) {
    it(`${name} gives TPM_MALFORMED_RESPONSE and the connection keeps working`, async () => {
      ft.mutators = [m];
      await assert.rejects(tpm.getRandom(16), isMalformed);
      assert.equal((await tpm.getRandom(16)).length, 16);
    });
  }

  it('a password-session response carrying an HMAC is refused (TPM_RESPONSE_AUTH_FAILED)', async () => {
    const NV = 0x01500100;
    await tpm.nvDefineSpace({ nvIndex: NV, dataSize: 8, attributes: TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA });
    try {
      await tpm.nvWrite(NV, Buffer.from('12345678'));
      // (nvRead first asks NV_ReadPublic, which passes untouched.) The auth area ends with hmac
      // size 0x0000: make it a one-byte HMAC.
      const pass: Mutator = (r) => r;
      ft.mutators = [pass, (r) => fixSize(Buffer.concat([r.subarray(0, r.length - 2), Buffer.from([0, 1, 0xaa])]))];
      await assert.rejects(tpm.nvRead(NV, { authHandle: TPM_RH.OWNER }), (e: unknown) => e instanceof TPMResponseAuthError && e.code === 'TPM_RESPONSE_AUTH_FAILED');
      // A flipped bit in parameterSize breaks the split between parameters and authorization area.
      ft.mutators = [pass, (r) => { r[13]! ^= 0x01; return r; }];
      await assert.rejects(tpm.nvRead(NV, { authHandle: TPM_RH.OWNER }), isMalformed);
      assert.equal((await tpm.nvRead(NV, { authHandle: TPM_RH.OWNER })).toString(), '12345678');
    } finally {
      await tpm.nvUndefineSpace(NV);
    }
  });

  it('a quote whose TPMS_ATTEST magic was altered is refused; one with a flipped PCR bit decodes but no longer verifies', async () => {
    await tpm.withTransient(async () => {
      const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true));
      // Response: header(10) handle-less, parameterSize(4), TPM2B_ATTEST size(2), then the magic.
      ft.mutators = [(r) => { r[16]! ^= 0x80; return r; }];
      await assert.rejects(tpm.quote(ak.handle, Buffer.alloc(8), [{ hash: TPM_ALG.SHA256, pcrs: [0] }]), isMalformed);
      const good = await tpm.quote(ak.handle, Buffer.alloc(8), [{ hash: TPM_ALG.SHA256, pcrs: [0] }]);
      ft.mutators = [(r) => { r[16 + good.attestBytes.length - 1]! ^= 0x01; return r; }];
      const bad = await tpm.quote(ak.handle, Buffer.alloc(8), [{ hash: TPM_ALG.SHA256, pcrs: [0] }]);
      assert.notDeepEqual(bad.attestBytes.subarray(-32), good.attestBytes.subarray(-32));
    });
  });

  it('retries TPM_RC_RETRY, TPM_RC_YIELDED and TPM_RC_TESTING, then succeeds', async () => {
    ft.sends = 0;
    ft.canned = [warning(0x922), warning(0x908), warning(0x90a)];
    assert.equal((await tpm.getRandom(8)).length, 8);
    assert.equal(ft.sends, 4);
  });

  it('gives up after the retry budget with the decoded warning', async () => {
    ft.canned = [warning(0x922), warning(0x922), warning(0x922), warning(0x922)];
    await assert.rejects(tpm.readClock(), (e: unknown) => e instanceof TPMError && e.code === 'TPM_RC_RETRY');
    assert.equal(ft.canned.length, 0);
  });

  it('gives each command its own timeout: 30 s, and 300 s only for RSA key generation', async () => {
    ft.timeouts = [];
    await tpm.getRandom(8);
    await tpm.withTransient(async () => {
      await tpm.createPrimary(TPM_RH.NULL, eccSigning());
      await tpm.createPrimary(TPM_RH.NULL, rsaSigning());
    });
    const of = (cc: number) => ft.timeouts.filter(([c]) => c === cc).map(([, ms]) => ms);
    assert.deepEqual(of(TPM_CC.GetRandom), [COMMAND_TIMEOUT_MS]);
    assert.deepEqual(of(TPM_CC.CreatePrimary), [COMMAND_TIMEOUT_MS, KEYGEN_TIMEOUT_MS]);
    assert.deepEqual(of(TPM_CC.FlushContext), [COMMAND_TIMEOUT_MS, COMMAND_TIMEOUT_MS]);
    assert.equal(COMMAND_TIMEOUT_MS, 30_000);
    assert.equal(KEYGEN_TIMEOUT_MS, 300_000);
  });

  it('does not retry real errors', async () => {
    ft.sends = 0;
    ft.canned = [warning(0x921)];
    await assert.rejects(tpm.readClock(), (e: unknown) => e instanceof TPMError && e.code === 'TPM_RC_LOCKOUT');
    assert.equal(ft.sends, 1);
  });
});

async function processGone(pid: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    try { process.kill(pid, 0); } catch { return; }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} did not exit`);
}

describe('a TPM that hangs or dies', () => {
  let sw: Swtpm;
  let stopped = false;

  before(async () => {
    sw = await startSwtpm();
  });
  after(async () => {
    if (stopped) try { process.kill(sw.pid, 'SIGCONT'); } catch { /* gone */ }
    await sw?.stop();
  });

  it('a TPM that stops answering gives TPM_TIMEOUT, and later commands fail fast with a typed error', async () => {
    const tpm = await openTPM(sw.uri, { timeoutMs: 300 });
    await tpm.getRandom(4);
    process.kill(sw.pid, 'SIGSTOP');
    stopped = true;
    try {
      await assert.rejects(tpm.getRandom(4), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_TIMEOUT' && e.errorClass === 'environment');
      await assert.rejects(tpm.readClock(), (e: unknown) => e instanceof TollgateError && e.code === 'TPM_TIMEOUT');
    } finally {
      process.kill(sw.pid, 'SIGCONT');
      stopped = false;
      await tpm.close({ flush: false });
    }
  });

  it('a silent TPM (it takes the connection, never answers) is noticed after the timeout given, and the message names the command and that number', async () => {
    // Loopback stand-ins: a data port that reads every frame and answers none, or that answers
    // TPM_RC_FAILURE (so the bring-up powers the "simulator" on) while the control port stays silent.
    for (const mode of ['silent', 'silent-control'] as const) {
      const { data, close } = await silentPorts(mode === 'silent-control' ? 'failure' : 'nothing');
      try {
        const uri = `swtpm:127.0.0.1:${data}`;
        const want = mode === 'silent' ? /did not answer TPM2_GetRandom within 250 ms/ : /did not answer INIT within 250 ms/;
        await assert.rejects(openTPM(uri, { timeoutMs: 250 }), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_TIMEOUT'
          && want.test(e.message) && e.details?.['timeoutMs'] === 250 && e.exitCode === 3);
      } finally {
        await close();
      }
    }
  });

  it('a TPM killed in the middle of a command gives TPM_TRANSPORT_CLOSED; reconnecting gives TPM_CONNECT_FAILED', async () => {
    const tpm = await openTPM(sw.uri, { timeoutMs: 30_000 });
    await tpm.readClock();
    // Freeze swtpm so the command is certainly in flight, then kill it.
    process.kill(sw.pid, 'SIGSTOP');
    stopped = true;
    const pending = tpm.createPrimary(TPM_RH.NULL, eccSigning());
    const outcome = assert.rejects(pending, (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_TRANSPORT_CLOSED' && e.exitCode === 3);
    setTimeout(() => sw.kill(), 50);
    await outcome;
    stopped = false;
    await assert.rejects(tpm.getRandom(1), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_TRANSPORT_CLOSED');
    await tpm.close();
    // Our connection can be reset while the dying swtpm still has its listening socket (a connect
    // then completes in its backlog and is reset): wait until the process is gone.
    await processGone(sw.pid);
    await assert.rejects(openTPM(sw.uri), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_CONNECT_FAILED' && /swtpm/.test(e.message));
  });
});
