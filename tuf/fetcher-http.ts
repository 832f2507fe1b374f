// http(s) source on node:http(s) rather than fetch(): it gives separate connect and read timeouts
// and lets us destroy the socket the moment a guard trips. One keep-alive agent per fetcher, so a
// refresh reuses its connection.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { TufError } from './errors.ts';
import { TollgateFetcher, type FetchLimits, type OpenedStream } from './fetcher.ts';
import { DownloadHTTPError } from './tufjs.ts';

const MAX_REDIRECTS = 5;

export class HttpFetcher extends TollgateFetcher {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 4 });
  private readonly userAgent: string;

  constructor(limits: Partial<FetchLimits> = {}, userAgent = 'tollgate') {
    super(limits);
    this.userAgent = userAgent;
  }

  override close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  /** Follows up to MAX_REDIRECTS redirects (CDNs use them), never from https down to http;
   * what arrives is verified by TUF wherever it came from. */
  protected async open(url: string, signal: AbortSignal): Promise<OpenedStream> {
    let current = url;
    for (let hops = 0; ; hops++) {
      const r = await this.openOnce(current, signal);
      if ('stream' in r) return r.stream;
      if (hops >= MAX_REDIRECTS) throw new TufError('TUF_HTTP', `Too many redirects fetching ${url}.`, 'environment', { details: { url } });
      const next = new URL(r.location, current);
      if (new URL(current).protocol === 'https:' && next.protocol !== 'https:') {
        throw new TufError('TUF_HTTP', `${current} redirected to non-https ${next.toString()}; refused.`, 'environment', { details: { url } });
      }
      current = next.toString();
    }
  }

  private openOnce(url: string, signal: AbortSignal): Promise<{ stream: OpenedStream } | { location: string }> {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    if (!secure && u.protocol !== 'http:') throw new TufError('TUF_USAGE', `Unsupported URL scheme in ${url}.`, 'usage');
    const { connectTimeoutMs, readTimeoutMs } = this.limits;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: unknown) => { if (!settled) { settled = true; reject(e); } };
      const req = (secure ? httpsRequest : httpRequest)(u, {
        method: 'GET', agent: secure ? this.https : this.http, signal,
        headers: { 'user-agent': this.userAgent, 'accept-encoding': 'identity' },
      });
      let connectTimer: NodeJS.Timeout | undefined;
      req.on('socket', (sock) => {
        if (!sock.connecting) return;
        connectTimer = setTimeout(() => {
          req.destroy(new TufError('TUF_TIMEOUT', `Connecting to ${u.host} took longer than ${connectTimeoutMs} ms.`, 'environment', { details: { url } }));
        }, connectTimeoutMs);
        sock.once('connect', () => clearTimeout(connectTimer));
      });
      // Idle timeout on the socket covers both "no response headers" and "body stalled".
      req.setTimeout(readTimeoutMs, () => {
        req.destroy(new TufError('TUF_TIMEOUT', `No data from ${u.host} for ${readTimeoutMs} ms while fetching ${url}.`, 'environment', { details: { url } }));
      });
      req.on('error', (e) => { clearTimeout(connectTimer); fail(toNetworkError(e, url)); });
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(connectTimer);
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if ([301, 302, 303, 307, 308].includes(status) && typeof location === 'string' && location !== '') {
          res.resume();
          settled = true;
          resolve({ location });
          return;
        }
        if (res.statusCode !== 200) {
          res.resume();
          fail(new DownloadHTTPError(`GET ${url} answered ${res.statusCode}`, res.statusCode ?? 0));
          return;
        }
        const len = res.headers['content-length'];
        const size = len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
        settled = true;
        resolve({ stream: { size, chunks: readBody(res, req, url), destroy: () => { res.destroy(); } } });
      });
      req.end();
    });
  }
}

// The body as chunks straight from 'data' events (no re-buffering by the stream's async
// iterator), with pause/resume as backpressure when the consumer falls behind.
async function* readBody(res: IncomingMessage, req: ReturnType<typeof httpRequest>, url: string): AsyncGenerator<Uint8Array> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const poke = () => { const w = wake; wake = undefined; w?.(); };
  res.on('data', (c: Buffer) => { queue.push(c); if (queue.length >= 32) res.pause(); poke(); });
  res.on('end', () => { ended = true; poke(); });
  res.on('error', (e) => { failure ??= e; poke(); });
  res.on('close', () => { if (!res.complete) failure ??= new Error('connection closed'); poke(); });
  req.on('error', (e) => { failure = e; poke(); });
  try {
    for (;;) {
      const c = queue.shift();
      if (c) {
        if (queue.length < 8 && res.isPaused()) res.resume();
        yield c;
        continue;
      }
      if (ended) return;
      if (failure !== undefined) {
        if (failure instanceof TufError) throw failure;
        if (!res.complete) throw new TufError('TUF_NETWORK', `Connection closed before ${url} was complete.`, 'environment', { cause: failure, details: { url } });
        throw toNetworkError(failure, url);
      }
      await new Promise<void>((r) => { wake = r; });
    }
  } finally {
    if (!ended) res.destroy();
  }
}

function toNetworkError(e: unknown, url: string): unknown {
  if (e instanceof TufError || e instanceof DownloadHTTPError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.name === 'AbortError' && err.cause instanceof TufError) return err.cause;
  return new TufError('TUF_NETWORK', `Fetching ${url} failed: ${err?.code ?? err?.message ?? String(e)}.`, 'environment', { cause: e, details: { url } });
}
