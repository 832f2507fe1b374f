// Picks the fetcher for a repository location: http(s), file://, or an offline bundle.
import { TufError } from './errors.ts';
import { BUNDLE_METADATA_BASE, BUNDLE_TARGETS_BASE, BundleFetcher } from './bundle.ts';
import { FileFetcher } from './fetcher-file.ts';
import { HttpFetcher } from './fetcher-http.ts';
import type { FetchLimits, TollgateFetcher } from './fetcher.ts';

export interface Source { fetcher: TollgateFetcher; metadataUrl: string; targetsUrl: string; kind: 'http' | 'file' | 'bundle' }

export function withSlash(u: string): string { return u.endsWith('/') ? u : u + '/'; }

/** Repository base URL → metadata and targets URLs (`<base>/metadata/`, `<base>/targets/`). */
export function repoUrls(repo: string): { metadataUrl: string; targetsUrl: string } {
  let u: URL;
  try { u = new URL(repo); } catch { throw new TufError('TUF_USAGE', `--repo ${repo} is not a URL (use http://, https:// or file://).`, 'usage'); }
  if (!['http:', 'https:', 'file:'].includes(u.protocol)) throw new TufError('TUF_USAGE', `--repo ${repo}: only http, https and file URLs are supported.`, 'usage');
  const base = withSlash(u.toString());
  return { metadataUrl: base + 'metadata/', targetsUrl: base + 'targets/' };
}

export function fetcherFor(url: string, limits: Partial<FetchLimits> = {}): TollgateFetcher {
  const p = new URL(url).protocol;
  if (p === 'http:' || p === 'https:') return new HttpFetcher(limits);
  if (p === 'file:') return new FileFetcher(limits);
  throw new TufError('TUF_USAGE', `Unsupported repository URL ${url}.`, 'usage');
}

export function openSource(opts: { metadataUrl: string; targetsUrl: string; bundle?: string; limits?: Partial<FetchLimits>; fetcher?: TollgateFetcher }): Source {
  if (opts.bundle) {
    return { fetcher: new BundleFetcher(opts.bundle, opts.limits), metadataUrl: BUNDLE_METADATA_BASE, targetsUrl: BUNDLE_TARGETS_BASE, kind: 'bundle' };
  }
  const fetcher = opts.fetcher ?? fetcherFor(opts.metadataUrl, opts.limits);
  return { fetcher, metadataUrl: withSlash(opts.metadataUrl), targetsUrl: withSlash(opts.targetsUrl), kind: new URL(opts.metadataUrl).protocol === 'file:' ? 'file' : 'http' };
}
