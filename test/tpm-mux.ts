// Several TPM clients on one swtpm, interleaved command by command: what /dev/tpmrm0's resource
// manager does to concurrent processes on a real device. swtpm alone serves one connection at a
// time, which runs whole processes one after the other and hides every race between them.
//
// The mux listens on a loopback port with swtpm's data-port framing (`u32 8 | u8 locality | u32 len
// | command` → `u32 len | response | u32 0`), forwards each whole command in arrival order over
// its one connection to swtpm and routes the answer back. It does not virtualise handles as the
// kernel does, so its clients run with TOLLGATE_TPM_RECLAIM=0 (otherwise each would flush the
// others' sessions on connect) and share swtpm's three session and object slots.
//
// `holdFirst` (a command code) makes a race certain instead of likely: each client's first command
// with that code is held while another connected client has not yet sent its own, then all go in
// arrival order. A client that disconnects stops counting, so a client that never gets there
// (e.g. it waits for a lock) cannot hold the others forever.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Swtpm } from './swtpm.ts';

export interface TpmMux {
  /** `swtpm:127.0.0.1:MUXPORT:CTRLPORT` (control commands go straight to swtpm). */
  uri: string;
  /** Commands forwarded so far, by command code. */
  count(cc: number): number;
  close(): Promise<void>;
}

interface Client { sock: Socket; rx: Buffer; arrived: boolean; held: Buffer[] }

export async function startTpmMux(sw: Swtpm, opts: { holdFirst?: number } = {}): Promise<TpmMux> {
  const upstream = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: sw.port }, () => resolve(s));
    s.once('error', reject);
  });
  upstream.setNoDelay(true);
  const clients = new Set<Client>();
  const queue: Array<{ c: Client; frame: Buffer }> = [];
  const counts = new Map<number, number>();
  let inFlight: Client | null = null;
  let urx = Buffer.alloc(0);

  const pump = () => {
    if (inFlight || queue.length === 0) return;
    const { c, frame } = queue.shift()!;
    if (!clients.has(c)) return pump();
    inFlight = c;
    const cc = frame.readUInt32BE(9 + 6);
    counts.set(cc, (counts.get(cc) ?? 0) + 1);
    upstream.write(frame);
  };
  upstream.on('data', (d: Buffer) => {
    urx = Buffer.concat([urx, d]);
    if (urx.length < 4) return;
    const len = urx.readUInt32BE(0);
    if (urx.length < 8 + len) return;
    const reply = urx.subarray(0, 8 + len);
    urx = Buffer.from(urx.subarray(8 + len));
    const c = inFlight!;
    inFlight = null;
    if (clients.has(c)) c.sock.write(reply);
    pump();
  });
  upstream.on('error', () => { for (const c of clients) c.sock.destroy(); });

  const release = () => {
    if (opts.holdFirst === undefined) return;
    for (const c of clients) if (!c.arrived) return;
    for (const c of clients) {
      for (const frame of c.held) queue.push({ c, frame });
      c.held = [];
    }
    pump();
  };

  const server: Server = createServer((sock) => {
    sock.setNoDelay(true);
    const c: Client = { sock, rx: Buffer.alloc(0), arrived: opts.holdFirst === undefined, held: [] };
    clients.add(c);
    sock.on('data', (d: Buffer) => {
      c.rx = Buffer.concat([c.rx, d]);
      while (c.rx.length >= 9) {
        if (c.rx.readUInt32BE(0) !== 8) { sock.destroy(); return; }
        const len = c.rx.readUInt32BE(5);
        if (c.rx.length < 9 + len) return;
        const frame = Buffer.from(c.rx.subarray(0, 9 + len));
        c.rx = Buffer.from(c.rx.subarray(9 + len));
        if (!c.arrived && frame.readUInt32BE(9 + 6) === opts.holdFirst) {
          c.arrived = true;
          c.held.push(frame);
          release();
        } else if (c.held.length > 0) {
          c.held.push(frame);
        } else {
          queue.push({ c, frame });
          pump();
        }
      }
    });
    const gone = () => {
      if (!clients.delete(c)) return;
      release();
    };
    sock.on('close', gone);
    sock.on('error', gone);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    uri: `swtpm:127.0.0.1:${port}:${sw.ctrlPort}`,
    count: (cc) => counts.get(cc) ?? 0,
    async close() {
      for (const c of clients) c.sock.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstream.end();
      upstream.destroy();
    },
  };
}
