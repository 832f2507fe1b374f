// The fetcher contract shared by http(s), file:// and offline-bundle sources. It implements
// tuf-js's Fetcher interface (downloadBytes/downloadFile) so the SAME tuf-js workflow verifies
// metadata whatever the source, and adds stream() for our own streaming target download.
//
// Every source goes through guard(): a byte cap per file (endless-data attack), a minimum
// throughput after a grace period (slow-retrieval attack) and retries with exponential backoff for
// transient failures. A status other than 200 surfaces as tuf-js's DownloadHTTPError, because
// tuf-js relies on 403/404 meaning "no newer root".
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { DownloadHTTPError, type Fetcher } from './tufjs.ts';
import { TufError } from './errors.ts';

export interface FetchLimits {
  /** Abort when no byte arrives for this long (ms). */
  readTimeoutMs: number;
  /** Abort when the connection is not established within this long (ms). */
  connectTimeoutMs: number;
  /** After graceMs, the average throughput must stay at or above this (bytes/s). */
  minBytesPerSecond: number;
  graceMs: number;
  /** Retries after the first attempt for transient failures (network, timeout, 5xx, slow). */
  retries: number;
  /** First backoff delay (ms); doubles per retry, with jitter. */
  backoffMs: number;
  /** Hard cap for any single file regardless of what metadata says (bytes). */
  maxFileBytes: number;
}

export const DEFAULT_LIMITS: FetchLimits = {
  readTimeoutMs: 15_000,
  connectTimeoutMs: 10_000,
  minBytesPerSecond: 512,
  graceMs: 5_000,
  retries: 3,
  backoffMs: 250,
  maxFileBytes: 4 * 1024 ** 3,
};

/** What a source yields for one URL: the bytes as they arrive, and a way to stop early. */
export interface OpenedStream {
  chunks: AsyncIterable<Uint8Array>;
  /** Expected total size if the source knows it (Content-Length, file size). */
  size?: number;
  destroy(): void;
}

export interface ProgressInfo { url: string; received: number; total?: number }

export abstract class TollgateFetcher implements Fetcher {
  readonly limits: FetchLimits;
  /** The most specific error seen by the last failed download: tuf-js wraps some errors in
   * strings (RuntimeError(`... ${error}`)), so the client reads the typed cause from here. */
  lastError: unknown;
  /** Number of bytes and requests served, for reports and benchmarks. */
  stats = { requests: 0, bytes: 0 };

  constructor(limits: Partial<FetchLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Open `url`; throw DownloadHTTPError for "not there" (404) and TufError for the rest. */
  protected abstract open(url: string, signal: AbortSignal): Promise<OpenedStream>;

  close(): void { /* sources with pooled connections override */ }

  /** Runs `attempt` again after transient failures (network, timeout, 5xx, slow), with
   * exponential backoff and jitter. Each attempt must start from scratch. */
  async retrying<T>(attempt: (n: number) => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt(n);
      } catch (e) {
        if (n >= this.limits.retries || !isTransient(e)) {
          this.lastError = e;
          throw e;
        }
        await sleep(backoff(this.limits.backoffMs, n));
      }
    }
  }

  /** One attempt at streaming `url` under the cap, throughput guard and timeouts. */
  stream(url: string, maxLength: number, onProgress?: (p: ProgressInfo) => void): AsyncGenerator<Uint8Array> {
    return this.guarded(url, Math.min(maxLength, this.limits.maxFileBytes), onProgress);
  }

  private async *guarded(url: string, cap: number, onProgress?: (p: ProgressInfo) => void): AsyncGenerator<Uint8Array> {
    const ac = new AbortController();
    this.stats.requests++;
    const opened = await this.open(url, ac.signal);
    if (opened.size !== undefined && opened.size > cap) {
      opened.destroy();
      throw endless(url, cap);
    }
    const started = Date.now();
    let received = 0;
    let slow: TufError | undefined;
    const { minBytesPerSecond, graceMs } = this.limits;
    // A drip-feeding server sends bytes often enough to dodge the read timeout; the timer catches
    // it even between chunks.
    const timer = minBytesPerSecond > 0 ? setInterval(() => {
      const elapsed = Date.now() - started;
      if (elapsed > graceMs && received / (elapsed / 1000) < minBytesPerSecond) {
        slow = new TufError('TUF_SLOW_RETRIEVAL',
          `Download of ${url} is slower than ${minBytesPerSecond} bytes/s (${received} bytes in ${elapsed} ms); aborted as a slow-retrieval attack or a broken link.`,
          'environment', { details: { url, received, elapsedMs: elapsed } });
        ac.abort(slow);
        opened.destroy();
      }
    }, Math.max(10, Math.min(250, graceMs / 4))) : undefined;
    timer?.unref();
    try {
      for await (const chunk of opened.chunks) {
        if (slow) throw slow;
        received += chunk.length;
        if (received > cap) {
          opened.destroy();
          throw endless(url, cap);
        }
        this.stats.bytes += chunk.length;
        onProgress?.({ url, received, total: opened.size });
        yield chunk;
      }
      if (slow) throw slow;
    } catch (e) {
      throw slow ?? e;
    } finally {
      if (timer) clearInterval(timer);
      opened.destroy();
    }
  }

  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    return this.retrying(async () => {
      const parts: Uint8Array[] = [];
      let n = 0;
      for await (const c of this.stream(url, maxLength)) { parts.push(c); n += c.length; }
      return Buffer.concat(parts, n);
    });
  }

  /** tuf-js only calls this from Updater.downloadTarget, which tollgate does not use; kept for
   * completeness of the Fetcher contract (a private temp dir, removed after the handler). */
  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'tollgate-dl-'));
    try {
      const file = join(dir, 'download');
      await this.retrying(async () => {
        const out = createWriteStream(file);
        try {
          for await (const c of this.stream(url, maxLength)) {
            if (!out.write(c)) await new Promise<void>((r) => out.once('drain', () => r()));
          }
        } finally {
          out.end();
          await finished(out);
        }
      });
      return await handler(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function endless(url: string, cap: number): TufError {
  return new TufError('TUF_ENDLESS_DATA', `${url} sent more than the ${cap} bytes allowed for it; aborted (endless-data attack or wrong metadata).`,
    'denied', { details: { url, cap } });
}

export function isTransient(e: unknown): boolean {
  if (e instanceof DownloadHTTPError) return e.statusCode >= 500 && e.statusCode < 600;
  if (e instanceof TufError) return e.code === 'TUF_NETWORK' || e.code === 'TUF_TIMEOUT' || e.code === 'TUF_SLOW_RETRIEVAL';
  return false;
}

function backoff(base: number, attempt: number): number {
  const d = base * 2 ** attempt;
  return d / 2 + Math.random() * (d / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function notFound(url: string, status = 404): DownloadHTTPError {
  return new DownloadHTTPError(`${url}: not found`, status);
}
