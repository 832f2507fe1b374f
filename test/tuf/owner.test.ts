// Owner tags of staging files: a run removes only the staging of processes that are gone. PIDs
// are reused, so a live PID with another start time, or any PID from an earlier boot, is gone;
// a PID from another PID namespace cannot be judged and is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ownerAlive, ownerTag, parseOwnerTag, selfOwner, tagIsStale } from '../../tuf/owner.ts';

test('owner tags: self alive; dead, reused and earlier-boot PIDs stale; another namespace kept; junk ignored', async () => {
  const me = selfOwner();
  assert.equal(me.pid, process.pid);
  assert.match(me.start, /^[1-9]\d*$/, 'start time read from /proc');
  assert.match(me.boot, /^[0-9a-f]{8}$/);
  assert.deepEqual(parseOwnerTag(ownerTag()), me);
  assert.equal(tagIsStale(ownerTag()), false);

  // A process that ran and exited: its PID is gone.
  const child = spawn(process.execPath, ['-e', '0']);
  const pid = child.pid!;
  await new Promise((r) => child.on('exit', r));
  assert.equal(ownerAlive({ ...me, pid }), false);

  // PID reuse: a live PID (ours) with another start time is not the owner.
  assert.equal(ownerAlive({ ...me, start: String(Number(me.start) + 1) }), false);
  // An earlier boot: whatever runs under that PID now is not the owner.
  const otherBoot = me.boot === '00000001' ? '00000002' : '00000001';
  assert.equal(ownerAlive({ ...me, boot: otherBoot }), false);
  // Another PID namespace (another container on this boot): cannot tell, so kept.
  assert.equal(ownerAlive({ ...me, ns: me.ns + '1', pid }), true);

  // Names that are not owner tags are never taken for stale ones.
  for (const junk of ['', 'abc', '0a1b2c3d.1.2', '0a1b2c3d.x.2.3', 'zz.1.2.3', `${me.boot}.${me.ns}.${pid}.${me.start}.x`]) {
    assert.equal(parseOwnerTag(junk), undefined, junk);
    assert.equal(tagIsStale(junk), false, junk);
  }
});
