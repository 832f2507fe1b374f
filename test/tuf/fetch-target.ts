// `fetch` for device-mode tests on the one client entry point, TargetSession: refresh, find the
// target through the delegations, stream it into `out`, as the gate does (agent/gate.ts). The path
// is checked before anything is fetched, so a refused path leaves the state untouched.
import { checkTargetPath, openTargetSession, TufError, type DeviceOptions, type FoundTarget, type ProgressInfo, type UpdateResult } from '../../tuf/index.ts';
import type { DownloadResult } from '../../tuf/download.ts';

export type FetchResult = DownloadResult & Omit<FoundTarget, 'role'> & { update: UpdateResult };

export async function fetchTarget(o: DeviceOptions & { target: string; out: string; bundle?: string; onProgress?: (p: ProgressInfo) => void }): Promise<FetchResult> {
  checkTargetPath(o.target);
  const s = await openTargetSession(o);
  try {
    const found = await s.find(o.target);
    if (!found) throw new TufError('TUF_TARGET_NOT_FOUND', `No trusted targets metadata lists ${o.target}.`, 'denied', { details: { target: o.target } });
    const r = await s.download(found.target, o.out, o.onProgress);
    const { role: _role, ...target } = found;
    return { ...r, ...target, update: s.update };
  } finally {
    s.close();
  }
}
