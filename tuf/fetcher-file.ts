// file:// repositories (a mounted medium, a local mirror). A missing file answers like HTTP 404 so
// tuf-js's "no newer root" logic is unchanged.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TufError } from './errors.ts';
import { TollgateFetcher, notFound, type OpenedStream } from './fetcher.ts';

export class FileFetcher extends TollgateFetcher {
  protected async open(url: string, _signal: AbortSignal): Promise<OpenedStream> {
    let path: string;
    try { path = fileURLToPath(url); } catch (e) {
      throw new TufError('TUF_USAGE', `${url} is not a usable file URL.`, 'usage', { cause: e });
    }
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw notFound(url);
      size = st.size;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(url);
      if (code === 'EACCES') throw notFound(url, 403);
      throw e;
    }
    const rs = createReadStream(path, { highWaterMark: 256 * 1024 });
    return { size, chunks: rs, destroy: () => rs.destroy() };
  }
}
