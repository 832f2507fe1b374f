// The character-device transport (device:/dev/tpmrm0) against a real device file.
//
// Which device. This machine's kernel has neither CONFIG_TCG_TPM (so no /dev/tpm*, no
// tpm_vtpm_proxy, no /dev/vtpmx) nor CONFIG_CUSE (no /dev/cuse; its swtpm is also built without
// the cuse interface), so no real TPM character device can exist here. The test looks for one:
//   1. /dev/vtpmx: `swtpm chardev --vtpm-proxy` makes /dev/tpmN + /dev/tpmrmN backed by a swtpm,
//      and the test runs the transport against the kernel's own /dev/tpmrmN;
//   2. otherwise /dev/fuse: tpmdev-peer.ts mounts a FUSE file system whose one file behaves like
//      the kernel's TPM device (direct I/O: each write(2)/read(2) is one request to the peer, which
//      applies tpm-dev-common.c's rules and forwards to a real swtpm). That file is a regular file,
//      which the transport refuses unless told it is a FUSE stand-in (allowFuseStandIn; the CLI
//      never sets it; device-path.test.ts checks the refusal).
// With the FUSE stand-in this proves: DeviceTransport's open(O_RDWR)/write/read on a kernel file
// descriptor, one whole command per write and one read of the whole response per command, never a
// write before the previous response was read, the 4096-byte limit enforced before writing, bring-up
// through TPM2_Startup on a device, a full workload (keys, quote, salted HMAC session with parameter
// encryption, NV) over it, and a typed TPM_TIMEOUT when the device stops answering. It does NOT
// prove: the real kernel driver (tpm_tis/tpm_crb timing, its exact errno values, cancellation),
// the kernel resource manager of /dev/tpmrm0 (context swapping, flush of a process's handles on
// close), locality, or device permissions (group tss).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, createHash } from 'node:crypto';
import type { Swtpm } from '../swtpm.ts';
import { hardwareSwtpm } from './shared-swtpm.ts';
import { Wire } from './wire.ts';
import {
  TPM, openTPM, TPMTransportError, TPMUsageError, TPM_ALG, TPM_CC, TPM_HT, TPM_RH, TPMA_NV,
  type TPMSQuoteInfo,
} from '../../hardware/index.ts';
import { eccSigning } from './templates.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

interface PeerEvent { op: string; [k: string]: unknown }

interface Device {
  kind: 'vtpm-proxy' | 'fuse';
  path: string;
  /** What the peer saw (FUSE only). */
  events: PeerEvent[];
  pid: number;
  stop(): Promise<void>;
}

function waitFor<T>(what: string, ms: number, poll: () => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = poll();
      if (v !== undefined) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

function childExit(c: ChildProcess): Promise<void> {
  return c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));
}

async function vtpmDevice(): Promise<Device> {
  const state = mkdtempSync(join(tmpdir(), 'tollgate-vtpm-'));
  const c = spawn('swtpm', ['chardev', '--vtpm-proxy', '--tpm2', '--tpmstate', `dir=${state}`, '--flags', 'startup-clear'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  c.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const dev = await waitFor('swtpm --vtpm-proxy', 10_000, () => /New TPM device: \/dev\/tpm(\d+)/.exec(out)?.[1] ?? (c.exitCode !== null ? 'exit' : undefined));
  if (dev === 'exit') throw new Error(`swtpm --vtpm-proxy failed: ${out.trim()}`);
  const path = `/dev/tpmrm${dev}`;
  await waitFor(path, 5000, () => (existsSync(path) ? true : undefined));
  return {
    kind: 'vtpm-proxy', path, events: [], pid: c.pid!,
    async stop() { c.kill('SIGTERM'); await childExit(c); rmSync(state, { recursive: true, force: true }); },
  };
}

async function fuseDevice(sw: Swtpm): Promise<Device> {
  const mnt = mkdtempSync(join(tmpdir(), 'tollgate-tpmdev-'));
  const c = spawn(process.execPath, [join(HERE, 'tpmdev-peer.ts'), mnt, String(sw.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: PeerEvent[] = [];
  let partial = '';
  let stderr = '';
  c.stdout!.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (l.trim()) events.push(JSON.parse(l) as PeerEvent);
  });
  c.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const first = await waitFor('the FUSE peer', 15_000, () => events.find((e) => ['ready', 'mount-failed', 'fatal'].includes(e.op)) ?? (c.exitCode !== null ? { op: 'exit' } : undefined));
  if (first.op !== 'ready') {
    c.kill('SIGKILL');
    spawnSync('umount', ['-l', mnt], { stdio: 'ignore' });
    throw new Error(`No TPM character device can be had here (no /dev/vtpmx, no CUSE) and the FUSE stand-in did not mount (${JSON.stringify(first)} ${stderr.trim()}). Run as root with /dev/fuse available, or on a machine with tpm_vtpm_proxy.`);
  }
  return {
    kind: 'fuse', path: String(first.path), events, pid: c.pid!,
    async stop() {
      try { process.kill(c.pid!, 'SIGCONT'); } catch { /* gone */ }
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 2000);
      await childExit(c);
      clearTimeout(t);
      spawnSync('umount', ['-l', mnt], { stdio: 'ignore' });
      rmSync(mnt, { recursive: true, force: true });
    },
  };
}

let sw: Swtpm | undefined;
let dev: Device;

before(async () => {
  if (existsSync('/dev/vtpmx')) {
    dev = await vtpmDevice();
  } else {
    sw = await hardwareSwtpm();
    dev = await fuseDevice(sw);
  }
});

after(async () => {
  await dev?.stop();
  await sw?.stop();
});

const writes = () => dev.events.filter((e) => e.op === 'write');
// The FUSE stand-in is a regular file, which the transport refuses unless told it stands in for the device.
const standIn = () => (dev.kind === 'fuse' ? { allowFuseStandIn: true } : {});

describe(`device transport`, () => {
  it('brings the TPM up and runs keys, a quote, a salted encrypted session and NV through one write and one read per command', async (t) => {
    t.diagnostic(`device: ${dev.kind} ${dev.path}`);
    let wire!: Wire;
    const tpm = await TPM.open(`device:${dev.path}`, { ...standIn(), startup: false, wrapTransport: (x) => (wire = new Wire(x)) });
    assert.equal(tpm.uri, `device:${dev.path}`);
    try {
      const steps = await tpm.bringUp();
      // A device has no power-on: an un-started TPM is started with TPM2_Startup (the FUSE peer powered
      // a fresh swtpm on, as firmware would); a started one (shared swtpm, vTPM) needs nothing.
      assert.ok(steps.length === 0 || (steps.length === 1 && steps[0] === 'startup'), String(steps));
      assert.equal((await tpm.getRandom(48)).length, 48);
      const nonce = randomBytes(20);
      await tpm.withTransient(async () => {
        const ak = await tpm.createPrimary(TPM_RH.OWNER, eccSigning(true));
        const q = await tpm.quote(ak.handle, nonce, [{ hash: TPM_ALG.SHA256, pcrs: [0, 1, 2, 3, 4, 5, 6, 7] }]);
        assert.deepEqual(Buffer.from(q.attest.extraData), nonce);
        const pcrs = await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [0, 1, 2, 3, 4, 5, 6, 7] }]);
        const digest = createHash('sha256').update(Buffer.concat(pcrs.values.map((v) => v.digest))).digest();
        assert.deepEqual(Buffer.from((q.attest.attested as TPMSQuoteInfo).pcrDigest), digest);
      });
      const NV = 0x01500401;
      const secret = randomBytes(64);
      await tpm.nvDefineSpace({ nvIndex: NV, dataSize: 64, attributes: TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA }, { auth: 'device nv' });
      try {
        await tpm.nvWrite(NV, secret, { authorization: 'device nv' });
        assert.deepEqual(await tpm.nvRead(NV, { authorization: 'device nv' }), secret);
      } finally {
        await tpm.nvUndefineSpace(NV);
      }
      assert.equal(wire.commands(TPM_CC.StartAuthSession).length, 1);
      assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), []);
    } finally {
      await tpm.close();
    }
    if (dev.kind !== 'fuse') return;
    // What the device saw: exactly our commands, each in one write of exactly its header size, each
    // answered by one read of the whole response before the next write.
    const seen = dev.events.filter((e) => e.op === 'write' || e.op === 'read');
    const ours = seen.slice(seen.length - wire.log.length * 2);
    assert.equal(ours.length, wire.log.length * 2);
    wire.log.forEach((x, i) => {
      const w = ours[2 * i]!;
      const r = ours[2 * i + 1]!;
      assert.equal(w.op, 'write', `event ${2 * i}`);
      assert.equal(w.error, 0);
      assert.equal(w.len, x.command.length);
      assert.equal(w.header, x.command.length);
      assert.equal(w.cc, x.cc);
      assert.equal(r.op, 'read', `event ${2 * i + 1}`);
      assert.equal(r.len, x.response.length, 'the whole response in one read');
      assert.ok((r.asked as number) >= 4096);
    });
    assert.ok(writes().every((w) => w.error === 0), 'the device never refused a write (EBUSY/EINVAL/E2BIG)');
    assert.ok(wire.log.length >= 15, `only ${wire.log.length} commands`);
  });

  it('refuses a command over 4096 bytes before writing it', async () => {
    const tpm = await openTPM(`device:${dev.path}`, standIn());
    try {
      const before = writes().length;
      const big = Buffer.alloc(4097);
      big.writeUInt16BE(0x8001, 0); big.writeUInt32BE(big.length, 2); big.writeUInt32BE(TPM_CC.GetRandom, 6);
      await assert.rejects(tpm.sendRaw(big), (e: unknown) => e instanceof TPMUsageError && e.code === 'TPM_BAD_ARGUMENT');
      assert.equal(writes().length, before, 'nothing reached the device');
      assert.equal((await tpm.getRandom(8)).length, 8, 'the device is still usable');
    } finally {
      await tpm.close();
    }
  });

  it('leaves no transient objects or sessions in the TPM behind the device', async () => {
    const tpm = await openTPM(`device:${dev.path}`, standIn());
    try {
      assert.deepEqual(await tpm.handles(TPM_HT.TRANSIENT), []);
      assert.deepEqual(await tpm.handles(TPM_HT.LOADED_SESSION), []);
      assert.deepEqual(await tpm.handles(TPM_HT.SAVED_SESSION), []);
    } finally {
      await tpm.close();
    }
  });

  it('a device that stops answering gives TPM_TIMEOUT and later calls fail fast; a device that is gone gives a typed error', async () => {
    // The process behind the device (the FUSE peer, or swtpm behind vtpm_proxy) is frozen, then killed.
    const tpm = await openTPM(`device:${dev.path}`, { ...standIn(), timeoutMs: 400 });
    try {
      process.kill(dev.pid, 'SIGSTOP');
      await assert.rejects(tpm.getRandom(8), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_TIMEOUT');
      await assert.rejects(tpm.getRandom(8), (e: unknown) => e instanceof TPMTransportError && e.code === 'TPM_TIMEOUT');
      process.kill(dev.pid, 'SIGKILL');
    } finally {
      await tpm.close({ flush: false });
    }
    await dev.stop();
    await assert.rejects(openTPM(`device:${dev.path}`, standIn()), (e: unknown) => e instanceof TPMTransportError);
    if (sw) {
      // The frozen command never reached the swtpm; it is as the earlier tests left it.
      const direct = await openTPM(sw.uri);
      try {
        assert.deepEqual(await direct.handles(TPM_HT.TRANSIENT), []);
        assert.deepEqual(await direct.handles(TPM_HT.LOADED_SESSION), []);
      } finally {
        await direct.close();
      }
    }
  });
});
