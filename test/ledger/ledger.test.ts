// The ledger against a real swtpm: records, chain and TPM anchor agree; every kind of tampering with
// the file or the index is named (kind and first bad seq) and changes nothing; crash leftovers are
// repaired and recorded; an append that failed half-way is finished by the next one; hostile files
// end in typed errors with bounded memory.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { startSwtpm, type Swtpm } from '../swtpm.ts';
import {
  openTPM, TPM, TPM_RH, TPMA_NV, TPM_NT, readLedgerIndex, nvExtendValue, ledgerIndexName, inspectLedgerIndex, defineLedgerIndex,
  ProvisionError, type Transport, type SendOptions,
} from '../../hardware/index.ts';
import {
  Ledger, LedgerError, LedgerFile, checkLedger, showLedger, appendDecision, makeRecord, recordHash, LEDGER_FORMAT,
  type LedgerRecord, type TamperKind,
} from '../../agent/ledger/index.ts';

let sw: Swtpm;
let tpm: TPM;
let work: string;
let nextIndex = 0x01500061;

before(async () => {
  sw = await startSwtpm({ ek: false });
  tpm = await openTPM(sw.uri);
  work = mkdtempSync(join(tmpdir(), 'tg-ledger-'));
});
after(async () => {
  await tpm.close();
  await sw.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A fresh state directory and NV index for one test. */
function fresh(): { stateRoot: string; index: number; path: string } {
  const index = nextIndex++;
  const stateRoot = join(work, `s-${index.toString(16)}`);
  return { stateRoot, index, path: LedgerFile.inState(stateRoot).path };
}

async function build(records: number, o = fresh()): Promise<typeof o & { bytes: Buffer }> {
  const l = await Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index });
  for (let i = 0; i < records; i++) {
    await appendDecision(l, 'fetch', { decision: i % 2 ? 'deny' : 'allow', target: `t${i}`, sha256: 'ab'.repeat(32), vsaDigest: 'cd'.repeat(32) });
  }
  await l.close();
  return { ...o, bytes: readFileSync(o.path) };
}

function lines(b: Buffer): string[] {
  return b.toString('utf8').split('\n').slice(0, -1);
}

function joinLines(ls: string[]): string {
  return ls.map((l) => `${l}\n`).join('');
}

function records(b: Buffer): LedgerRecord[] {
  return lines(b).map((l) => JSON.parse(l) as LedgerRecord);
}

function isTampered(kind: TamperKind, seq: number) {
  return (e: unknown) => {
    assert.ok(e instanceof LedgerError, `not a LedgerError: ${String(e)}`);
    assert.equal(e.code, 'LEDGER_TAMPERED', e.message);
    assert.deepEqual({ kind: e.details?.kind, seq: e.details?.seq }, { kind, seq }, e.message);
    assert.equal(e.exitCode, 1);
    return true;
  };
}

/** Size and digest of the file's first and last MiB (the 2 GB case must not be read whole). */
function fingerprint(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const h = createHash('sha256');
    for (const at of [0, Math.max(0, size - (1 << 20))]) {
      const b = Buffer.alloc(Math.min(size, 1 << 20));
      readSync(fd, b, 0, b.length, at);
      h.update(b);
    }
    return `${size}:${h.digest('hex')}`;
  } finally {
    closeSync(fd);
  }
}

/** Opening refuses with `check`, and neither the file nor the index changed. */
async function refused(o: { stateRoot: string; index: number; path: string }, check: (e: unknown) => boolean): Promise<void> {
  const before = fingerprint(o.path);
  const nv = await readLedgerIndex(tpm, o.index).catch(() => undefined);
  await assert.rejects(Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index }), check);
  await assert.rejects(checkLedger(o.stateRoot, tpm, o.index), check);
  assert.equal(fingerprint(o.path), before, 'the file changed');
  assert.deepEqual(await readLedgerIndex(tpm, o.index).catch(() => undefined), nv, 'the index changed');
}

describe('ledger', () => {
  it('appends records that chain, carry the TPM clock, and replay to the TPM index value', async () => {
    const o = fresh();
    const l = await Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index });
    assert.deepEqual(l.created, { ledger: true, index: true });
    const clock = await tpm.readClock();
    const made = await Promise.all(Array.from({ length: 25 }, (_, i) => appendDecision(l, 'update', { result: 'success', versions: { timestamp: i } })));
    assert.deepEqual(made.map((r) => r.seq), Array.from({ length: 25 }, (_, i) => i + 1), 'concurrent appends are queued in order');
    const s = l.state();
    await l.close();
    const rs = records(readFileSync(o.path));
    assert.equal(rs.length, 26);
    assert.equal(rs[0]!.type, 'ledger.created');
    assert.deepEqual(rs[0]!.data, { format: LEDGER_FORMAT, nvIndex: `0x${o.index.toString(16).padStart(8, '0')}`, nvName: ledgerIndexName(o.index).toString('hex'), indexDefinedByLedger: true });
    let nv: Buffer = Buffer.alloc(32);
    let prev = '0'.repeat(64);
    for (const [i, r] of rs.entries()) {
      assert.equal(r.seq, i);
      assert.equal(r.prevHash, prev);
      assert.equal(recordHash(r), r.hash);
      assert.equal(r.time.resetCount, clock.clockInfo.resetCount);
      if (i > 0) assert.ok(BigInt(r.time.clock) >= BigInt(rs[i - 1]!.time.clock), 'TPM clock goes forward');
      prev = r.hash;
      nv = nvExtendValue(nv, Buffer.from(r.hash, 'hex'));
    }
    const idx = await readLedgerIndex(tpm, o.index);
    assert.equal(idx.value.toString('hex'), nv.toString('hex'));
    assert.equal(s.nv, nv.toString('hex'));
    assert.equal(s.head, prev);
    const c = await checkLedger(o.stateRoot, tpm, o.index);
    assert.equal(c.status, 'consistent');
    const again = await Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index });
    assert.deepEqual(again.recovered, []);
    assert.deepEqual(again.created, { ledger: false, index: false });
    await again.close();
    const shown: number[] = [];
    const sh = showLedger(o.stateRoot, 20, (r) => shown.push(r.seq));
    assert.deepEqual(shown, [20, 21, 22, 23, 24, 25]);
    assert.equal(sh.count, 26);
  });

  it('uses an index defined by provisioning (still unwritten: NV_UNINITIALIZED until the first extend)', async () => {
    const o = fresh();
    const d = await defineLedgerIndex(tpm, { index: o.index });
    assert.equal(d.created, true);
    assert.equal((await defineLedgerIndex(tpm, { index: o.index })).created, false, 'idempotent');
    assert.equal((await inspectLedgerIndex(tpm, o.index)).written, false);
    await assert.rejects(tpm.nvRead(o.index, { authHandle: o.index, size: 32 }), /NV_UNINITIALIZED/);
    await assert.rejects(checkLedger(o.stateRoot, tpm, o.index), (e: unknown) => e instanceof LedgerError && e.code === 'LEDGER_NOT_FOUND' && e.exitCode === 2);
    const l = await Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index });
    assert.deepEqual(l.created, { ledger: true, index: false });
    await l.close();
    const st = await inspectLedgerIndex(tpm, o.index);
    assert.equal(st.written, true);
    assert.equal(st.name!.toString('hex'), ledgerIndexName(o.index, true).toString('hex'));
    assert.equal((await checkLedger(o.stateRoot, tpm, o.index)).status, 'consistent');
  });

  describe('names each kind of tampering and changes nothing', () => {
    it('a middle record removed', async () => {
      const o = await build(7);
      const ls = lines(o.bytes);
      writeFileSync(o.path, joinLines([...ls.slice(0, 3), ...ls.slice(4)]));
      await refused(o, isTampered('removed', 3));
    });

    it('a byte of a record\'s data edited', async () => {
      const o = await build(7);
      const ls = lines(o.bytes);
      ls[4] = ls[4]!.replace('"target":"t3"', '"target":"t9"');
      writeFileSync(o.path, joinLines(ls));
      await refused(o, isTampered('altered', 4));
    });

    it('edits that keep the JSON equal (whitespace, key order), and one that breaks it', async () => {
      const o = await build(4);
      const ls = lines(o.bytes);
      writeFileSync(o.path, joinLines([...ls.slice(0, 2), ls[2]!.replace('"seq":2,', '"seq": 2,'), ...ls.slice(3)]));
      await refused(o, isTampered('altered', 2));
      assert.ok(ls[2]!.endsWith(',"v":1}'));
      writeFileSync(o.path, joinLines([...ls.slice(0, 2), `{"v":1,${ls[2]!.slice(1, -',"v":1}'.length)}}`, ...ls.slice(3)]));
      await refused(o, isTampered('altered', 2));
      writeFileSync(o.path, joinLines([...ls.slice(0, 2), ls[2]!.slice(1), ...ls.slice(3)]));
      await refused(o, isTampered('altered', 2));
    });

    it('a record altered and re-hashed: the next one no longer follows it', async () => {
      const o = await build(6);
      const rs = records(o.bytes);
      const r = rs[3]!;
      const ls = lines(o.bytes);
      ls[3] = makeRecord({ v: r.v, seq: r.seq, time: r.time, type: r.type, data: { ...r.data, decision: 'maybe' }, prevHash: r.prevHash }).line.toString('utf8').trimEnd();
      writeFileSync(o.path, joinLines(ls));
      await refused(o, isTampered('altered', 4));
    });

    it('two records swapped', async () => {
      const o = await build(7);
      const ls = lines(o.bytes);
      [ls[2], ls[3]] = [ls[3]!, ls[2]!];
      writeFileSync(o.path, joinLines(ls));
      await refused(o, isTampered('reordered', 2));
    });

    it('a record duplicated', async () => {
      const o = await build(5);
      const ls = lines(o.bytes);
      writeFileSync(o.path, joinLines([...ls.slice(0, 3), ls[2]!, ...ls.slice(3)]));
      await refused(o, isTampered('inserted', 3));
    });

    it('the file cut short, at a line end and in the middle of a line (not mistaken for a torn append)', async () => {
      const o = await build(7);
      const ls = lines(o.bytes);
      writeFileSync(o.path, joinLines(ls.slice(0, 6)));
      await refused(o, isTampered('truncated', 6));
      writeFileSync(o.path, o.bytes.subarray(0, o.bytes.length - 40));
      await refused(o, isTampered('truncated', 7));
    });

    it('the file deleted: never silently started again', async () => {
      const o = await build(3);
      rmSync(o.path);
      await refused(o, isTampered('truncated', 0));
    });

    it('the chain rewritten from a record on, re-hashed throughout: the TPM index disagrees', async () => {
      const o = await build(6);
      const rs = records(o.bytes);
      const out = lines(o.bytes).slice(0, 3);
      let prev = rs[2]!.hash;
      for (const r of rs.slice(3)) {
        const m = makeRecord({ v: r.v, seq: r.seq, time: r.time, type: r.type, data: { ...r.data, decision: 'allow' }, prevHash: prev });
        out.push(m.line.toString('utf8').trimEnd());
        prev = m.record.hash;
      }
      writeFileSync(o.path, joinLines(out));
      await refused(o, isTampered('truncated', 7));
    });

    it('records appended without the TPM (more than a crash can leave)', async () => {
      const o = await build(3);
      const rs = records(o.bytes);
      let prev = rs[rs.length - 1]!;
      let text = o.bytes.toString('utf8');
      for (let i = 0; i < 2; i++) {
        const m = makeRecord({ v: 1, seq: prev.seq + 1, time: prev.time, type: 'fetch', data: { decision: 'allow', target: 'evil', sha256: 'ee'.repeat(32) }, prevHash: prev.hash });
        text += m.line.toString('utf8');
        prev = m.record;
      }
      writeFileSync(o.path, text);
      await refused(o, isTampered('unanchored', 4));
    });

    it('an extend into the index by someone else', async () => {
      const o = await build(3);
      await tpm.nvExtend(o.index, randomBytes(32), { authHandle: TPM_RH.OWNER, authorization: '' });
      await refused(o, isTampered('truncated', 4));
    });

    it('the index removed, or removed and defined again (LEDGER_NV_RESET)', async () => {
      const o = await build(3);
      await tpm.nvUndefineSpace(o.index, { authHandle: TPM_RH.OWNER });
      const reset = (e: unknown) => e instanceof LedgerError && e.code === 'LEDGER_NV_RESET' && e.exitCode === 1;
      await assert.rejects(Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index }), reset);
      await assert.rejects(checkLedger(o.stateRoot, tpm, o.index), reset);
      assert.equal((await inspectLedgerIndex(tpm, o.index)).state, 'absent', 'the index was not defined again');
      assert.deepEqual(readFileSync(o.path), o.bytes);
      await defineLedgerIndex(tpm, { index: o.index });
      await refused(o, reset);
    });

    it('a foreign index at the handle (LEDGER_NV_FOREIGN; provisioning refuses it too)', async () => {
      const o = fresh();
      await tpm.nvDefineSpace({ nvIndex: o.index, dataSize: 32, attributes: (TPM_NT.ORDINARY << 4) | TPMA_NV.OWNERWRITE | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA });
      await assert.rejects(Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index }), (e: unknown) => e instanceof LedgerError && e.code === 'LEDGER_NV_FOREIGN' && e.exitCode === 3);
      assert.equal(existsSync(o.path), false);
      await assert.rejects(defineLedgerIndex(tpm, { index: o.index }), (e: unknown) => e instanceof ProvisionError && e.code === 'PROVISION_FOREIGN_OBJECT' && /not an extend index/.test(e.message));
    });
  });

  describe('crash leftovers are repaired and recorded', () => {
    it('a torn last line is dropped', async () => {
      const o = await build(3);
      const torn = '{"data":{"decision":"allow","sha256":"abab';
      writeFileSync(o.path, o.bytes.toString('utf8') + torn);
      const c = await checkLedger(o.stateRoot, tpm, o.index);
      assert.equal(c.status, 'recoverable');
      assert.deepEqual(c.tail, { offset: o.bytes.length, length: torn.length, sha256: c.tail!.sha256 });
      const l = await Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index });
      assert.deepEqual(l.recovered.map((a) => a.action), ['torn-tail-dropped']);
      await l.close();
      const rs = records(readFileSync(o.path));
      assert.equal(rs.length, 5);
      assert.equal(rs[4]!.type, 'ledger.recovered');
      assert.deepEqual(rs[4]!.data, { actions: [{ action: 'torn-tail-dropped', offset: o.bytes.length, length: torn.length, sha256: c.tail!.sha256 }] });
      assert.equal((await checkLedger(o.stateRoot, tpm, o.index)).status, 'consistent');
    });

    it('a record synced but not extended is extended (rolled forward); the record after it says so', async () => {
      const o = await build(3);
      const rs = records(o.bytes);
      const last = rs[rs.length - 1]!;
      const m = makeRecord({ v: 1, seq: last.seq + 1, time: last.time, type: 'fetch', data: { decision: 'deny', target: 'x', sha256: '00'.repeat(32) }, prevHash: last.hash });
      writeFileSync(o.path, Buffer.concat([o.bytes, m.line]));
      const c = await checkLedger(o.stateRoot, tpm, o.index);
      assert.equal(c.status, 'recoverable');
      assert.equal(c.rollForward, 4);
      const l = await Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index });
      assert.deepEqual(l.recovered, [{ action: 'rolled-forward', seq: 4, hash: m.record.hash }]);
      await l.close();
      const after = records(readFileSync(o.path));
      assert.equal(after[5]!.type, 'ledger.recovered');
      assert.equal((await checkLedger(o.stateRoot, tpm, o.index)).status, 'consistent');
    });

    it('a ledger created but killed before record 0 (empty file, or only a torn line) is started again', async () => {
      const o = fresh();
      await defineLedgerIndex(tpm, { index: o.index });
      mkdirSync(join(o.stateRoot, 'ledger'), { recursive: true });
      writeFileSync(o.path, '');
      const l = await Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index });
      assert.deepEqual(l.recovered, []);
      assert.equal(l.state().count, 1);
      await l.close();
      const p = fresh();
      await defineLedgerIndex(tpm, { index: p.index });
      mkdirSync(join(p.stateRoot, 'ledger'), { recursive: true });
      writeFileSync(p.path, '{"data":{"form');
      const m = await Ledger.open({ stateRoot: p.stateRoot, tpm, index: p.index });
      assert.deepEqual(m.recovered.map((a) => a.action), ['torn-tail-dropped', 'genesis-rewritten']);
      await m.close();
      assert.deepEqual(records(readFileSync(p.path)).map((r) => r.type), ['ledger.created', 'ledger.recovered']);
      assert.equal((await checkLedger(p.stateRoot, tpm, p.index)).status, 'consistent');
    });
  });

  describe('an append that failed half-way is finished by the next', () => {
    /** Our TPM connection, with the next NV_Extend lost before or after it reached the TPM. */
    class LossyTransport implements Transport {
      readonly inner: Transport;
      readonly uri: string;
      lose: 'before' | 'after' | undefined;
      constructor(inner: Transport) { this.inner = inner; this.uri = inner.uri; }
      async send(cmd: Uint8Array, opts?: SendOptions): Promise<Buffer> {
        const extend = Buffer.from(cmd).readUInt32BE(6) === 0x136;
        if (extend && this.lose === 'before') { this.lose = undefined; throw new Error('connection lost before the command'); }
        const r = await this.inner.send(cmd, opts);
        if (extend && this.lose === 'after') { this.lose = undefined; throw new Error('connection lost after the command'); }
        return r;
      }
      close(): Promise<void> { return this.inner.close(); }
    }

    for (const when of ['before', 'after'] as const) {
      it(`the extend lost ${when} it reached the TPM`, async () => {
        await tpm.close();
        const box: { lossy?: LossyTransport } = {};
        const t2 = await openTPM(sw.uri, { wrapTransport: (t) => (box.lossy = new LossyTransport(t)) });
        try {
          const o = fresh();
          const l = await Ledger.open({ stateRoot: o.stateRoot, tpm: t2, index: o.index });
          await appendDecision(l, 'boot', { version: '1' });
          box.lossy!.lose = when;
          await assert.rejects(appendDecision(l, 'boot', { version: '2' }), /connection lost/);
          const r = await appendDecision(l, 'boot', { version: '3' });
          await l.close();
          const rs = records(readFileSync(o.path));
          assert.deepEqual(rs.map((x) => x.type), when === 'before'
            ? ['ledger.created', 'boot', 'boot', 'ledger.recovered', 'boot']
            : ['ledger.created', 'boot', 'boot', 'boot']);
          if (when === 'before') assert.deepEqual(rs[3]!.data, { actions: [{ action: 'rolled-forward', seq: 2, hash: rs[2]!.hash }] });
          assert.equal(r.seq, rs.length - 1);
          assert.equal((await checkLedger(o.stateRoot, t2, o.index)).status, 'consistent');
        } finally {
          await t2.close();
          tpm = await openTPM(sw.uri);
        }
      });
    }
  });

  describe('refuses bad records and hostile files', () => {
    it('a bad type, data without a JSON form, or a record over 64 KiB: LEDGER_RECORD_INVALID, nothing written', async () => {
      const o = await build(1);
      const l = await Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index });
      const bad = (e: unknown) => e instanceof LedgerError && e.code === 'LEDGER_RECORD_INVALID' && e.exitCode === 2;
      await assert.rejects(l.append('Fetch', {}), bad);
      await assert.rejects(l.append('fetch\n', {}), bad);
      await assert.rejects(l.append('fetch', { n: 1n } as unknown as Record<string, unknown>), bad);
      await assert.rejects(l.append('fetch', { f: () => 1 } as unknown as Record<string, unknown>), bad);
      await assert.rejects(l.append('fetch', { n: NaN }), bad);
      await assert.rejects(l.append('fetch', [] as unknown as Record<string, unknown>), bad);
      await assert.rejects(l.append('fetch', { blob: 'x'.repeat(70_000) }), bad);
      assert.equal((await l.append('fetch', { ok: true })).seq, 2, 'the ledger still works');
      await l.close();
      assert.equal(records(readFileSync(o.path)).length, 3);
    });

    it('a FIFO, a symlink to /dev/zero, a directory: LEDGER_FILE_INVALID at once (no hang)', async () => {
      const invalid = (e: unknown) => e instanceof LedgerError && e.code === 'LEDGER_FILE_INVALID' && e.exitCode === 3;
      const o1 = fresh();
      mkdirSync(join(o1.stateRoot, 'ledger'), { recursive: true });
      execFileSync('mkfifo', [o1.path]);
      const o2 = fresh();
      mkdirSync(join(o2.stateRoot, 'ledger'), { recursive: true });
      symlinkSync('/dev/zero', o2.path);
      const o3 = fresh();
      mkdirSync(o3.path, { recursive: true });
      for (const o of [o1, o2, o3]) {
        await assert.rejects(Ledger.open({ stateRoot: o.stateRoot, tpm, index: o.index }), invalid);
        assert.throws(() => showLedger(o.stateRoot, 0, () => undefined), invalid);
      }
    });

    it('a 2 GB line and binary junk: LEDGER_TAMPERED, read with bounded memory', async () => {
      const o = await build(2);
      // Sparse: 2 GB of zero bytes with no newline after the valid records.
      truncateSync(o.path, 2 * 1024 ** 3 + o.bytes.length);
      const rss = process.resourceUsage().maxRSS;
      await refused(o, isTampered('altered', 3));
      const sh = showLedger(o.stateRoot, 0, () => undefined);
      assert.deepEqual({ count: sh.count, kind: sh.problem?.kind, seq: sh.problem?.seq }, { count: 3, kind: 'altered', seq: 3 });
      const grew = (process.resourceUsage().maxRSS - rss) / 1024;
      assert.ok(grew < 128, `reading a 2 GB line took ${grew.toFixed(0)} MB more memory`);
      writeFileSync(o.path, Buffer.concat([o.bytes, randomBytes(300_000)]));
      await refused(o, isTampered('altered', 3));
      const p = await build(0);
      writeFileSync(p.path, Buffer.concat([randomBytes(1000), Buffer.from('\n')]));
      await refused(p, isTampered('altered', 0));
    });
  });
});
