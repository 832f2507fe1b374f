// A TPM that takes the connection and never answers, for timeout tests: a data port on 127.0.0.1
// that reads every mssim frame and answers none ('nothing'), or answers each with TPM_RC_FAILURE
// ('failure': the bring-up then powers the "simulator" on through the control port), and a
// control port next to it (data port + 1) that never answers.
import { createServer, type Server, type Socket } from 'node:net';

/** An mssim response frame: u32 length ‖ header (tag 0x8001, size 10, rc TPM_RC_FAILURE) ‖ u32 0. */
const FAILURE = Buffer.from('0000000a' + '8001' + '0000000a' + '00000101' + '00000000', 'hex');

export async function silentPorts(data: 'nothing' | 'failure'): Promise<{ data: number; uri: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const serve = (answer: Buffer | undefined): Server => createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.on('data', () => { if (answer) s.write(answer); });
  });
  const listen = (srv: Server, port: number) => new Promise<number>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve((srv.address() as { port: number }).port));
  });
  const closeAll = (srvs: Server[]) => Promise.all(srvs.map((x) => new Promise<void>((r) => x.close(() => r()))));
  for (let attempt = 0; ; attempt++) {
    const dataSrv = serve(data === 'failure' ? FAILURE : undefined);
    const port = await listen(dataSrv, 0);
    const ctrlSrv = serve(undefined);
    try {
      await listen(ctrlSrv, port + 1);
    } catch (e) {
      // port + 1 is taken: try another pair.
      await closeAll([dataSrv]);
      if (attempt < 20) continue;
      throw e;
    }
    return {
      data: port,
      uri: `swtpm:127.0.0.1:${port}`,
      async close() {
        for (const s of sockets) s.destroy();
        await closeAll([dataSrv, ctrlSrv]);
      },
    };
  }
}
