// The builder's own mechanics: canonical JSON, key ids and encodings, versions, file names, disk
// layout. (That tuf-js accepts and refuses what it builds is in accept/refuse.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalize, canonicalBytes, generateKey, KEY_TYPES, RepoBuilder, relToFsPath } from '../fixtures/tuf/index.ts';

test('canonical JSON sorts keys by code unit, escapes only quote and backslash, refuses floats', () => {
  assert.equal(canonicalize({ b: 1, a: [true, null, 'x'], B: {} }), '{"B":{},"a":[true,null,"x"],"b":1}');
  assert.equal(canonicalize('a"b\\c\nd'), '"a\\"b\\\\c\nd"');
  assert.equal(canonicalize({ 'é': 1, z: 2, '\u00e9a': 3 }), '{"z":2,"é":1,"éa":3}');
  assert.equal(canonicalize({ a: undefined, b: -5 }), '{"b":-5}');
  assert.equal(canonicalBytes({ é: 'ü' }).toString('hex'), Buffer.from('{"é":"ü"}', 'utf8').toString('hex'));
  assert.throws(() => canonicalize(1.5), TypeError);
  assert.throws(() => canonicalize({ f: () => 1 }), TypeError);
  assert.throws(() => canonicalize(10n), TypeError);
});

test('each key type: keyid is sha256 of the canonical key, and signatures verify with the published key', () => {
  for (const type of KEY_TYPES) {
    const k = generateKey(type);
    assert.equal(k.keyid, createHash('sha256').update(canonicalBytes(k.toJSON())).digest('hex'));
    const msg = canonicalBytes({ hello: type });
    const sig = Buffer.from(k.sign(msg), 'hex');
    const pub =
      type === 'ed25519'
        ? createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(k.public, 'hex')]), format: 'der', type: 'spki' })
        : createPublicKey(k.public);
    const ok =
      type === 'rsa'
        ? verify('sha256', msg, { key: pub, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 }, sig)
        : verify(type === 'ed25519' ? null : 'sha256', msg, pub, sig);
    assert.ok(ok, type);
    assert.equal(verify(type === 'ed25519' ? null : 'sha256', Buffer.from('other'), type === 'rsa' ? { key: pub, padding: 6 } : pub, sig), false);
    if (type === 'ecdsa') assert.equal(sig[0], 0x30, 'ECDSA signatures are DER');
  }
  const legacy = generateKey('ecdsa', { legacyEcdsaKeytype: true });
  assert.equal(legacy.keytype, 'ecdsa-sha2-nistp256');
  assert.match(generateKey('ed25519', { ed25519Pem: true }).public, /^-----BEGIN PUBLIC KEY-----/);
});

test('versions: first commit is 1, commits bump only what changed, setVersion pins (even backwards)', () => {
  const repo = new RepoBuilder();
  repo.addTarget('a', 'a');
  assert.deepEqual(repo.commit().published, { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
  assert.deepEqual(repo.commit().published, { timestamp: 2 });
  repo.addTarget('b', 'b');
  assert.deepEqual(repo.commit().published, { targets: 2, snapshot: 2, timestamp: 3 });
  repo.setVersion('targets', 1);
  repo.touch('root');
  assert.deepEqual(repo.commit().published, { root: 2, targets: 1, snapshot: 3, timestamp: 4 });
  assert.equal(repo.version('targets'), 1);
  assert.deepEqual(repo.publishedVersions('root'), [1, 2]);
  // Both roots stay served under N.root.json; the newest also as root.json.
  assert.deepEqual(repo.get('metadata/1.root.json'), repo.rootBytes(1));
  assert.deepEqual(repo.get('metadata/root.json'), repo.rootBytes(2));
});

test('root rotation is cross-signed by default and signed as told when overridden', () => {
  const repo = new RepoBuilder({ keysPerRole: { root: 2 } });
  repo.commit();
  const old = repo.keysOf('root');
  const fresh = repo.rotateRoot({ keyCount: 3, threshold: 2 });
  repo.commit();
  const sigs = (v: number): string[] => repo.metadata('root', v).signatures.map((s) => s.keyid).sort();
  assert.deepEqual(sigs(2), [...old, ...fresh].map((k) => k.keyid).sort());
  repo.rotateRoot({ keyCount: 1, signers: [fresh[0]!] });
  repo.commit();
  assert.deepEqual(sigs(3), [fresh[0]!.keyid]);
  repo.touch('root');
  repo.commit(); // the override was for one root only
  assert.deepEqual(sigs(4), repo.keysOf('root').map((k) => k.keyid).sort());
  const root = repo.metadata('root', 2).signed as { roles: { root: { threshold: number; keyids: string[] } } };
  assert.equal(root.roles.root.threshold, 2);
  assert.deepEqual(root.roles.root.keyids, fresh.map((k) => k.keyid));
});

test('file names: consistent snapshots version metadata and hash-prefix targets under every hash', () => {
  const repo = new RepoBuilder();
  repo.delegate('targets', 'a team/x', { paths: ['t/*'] });
  repo.addTarget('t/file one.txt', 'one', { role: 'a team/x' });
  repo.commit();
  const t = repo.target('t/file one.txt')!;
  assert.deepEqual(repo.targetRels('t/file one.txt'), [
    `targets/t/${t.hashes['sha256']}.file%20one.txt`,
    `targets/t/${t.hashes['sha512']}.file%20one.txt`,
  ]);
  assert.equal(repo.metadataRel('a team/x', 1), 'metadata/1.a%20team%2Fx.json');
  assert.ok(repo.get('metadata/1.a%20team%2Fx.json'));
  assert.equal(repo.get('metadata/1.timestamp.json'), undefined, 'timestamp is never versioned');
  const plain = new RepoBuilder({ consistentSnapshot: false });
  plain.addTarget('t/x', 'x');
  plain.commit();
  assert.deepEqual(plain.targetRels('t/x'), ['targets/t/x']);
  assert.deepEqual([...plain.metaFiles.keys()].sort(), ['metadata/1.root.json', 'metadata/root.json', 'metadata/snapshot.json', 'metadata/targets.json', 'metadata/timestamp.json']);
});

test('file-level attacks: serve, unserve, old versions, rollbackTo, tamperTarget', () => {
  const repo = new RepoBuilder({ consistentSnapshot: false });
  repo.addTarget('a', 'a1');
  repo.commit();
  repo.addTarget('a', 'a2');
  repo.commit();
  repo.serveRoleVersion('targets', 1);
  assert.deepEqual(repo.get('metadata/targets.json'), repo.bytes('targets', 1));
  repo.rollbackTo(1);
  assert.deepEqual(repo.get('metadata/targets.json'), repo.bytes('targets', 2));
  repo.rollbackTo(0);
  assert.deepEqual(repo.get('metadata/timestamp.json'), repo.bytes('timestamp', 1));
  repo.tamperTarget('a', 'evil');
  assert.equal(repo.get('targets/a')!.toString(), 'evil');
  repo.unserve('targets/a');
  assert.equal(repo.get('targets/a'), undefined);
  repo.serve('metadata/extra.json', '{}');
  assert.equal(repo.get('metadata/extra.json')!.toString(), '{}');
  assert.throws(() => repo.bytes('targets', 7), /never published/);
});

test('hash bins: names, placement by the leading bits of sha256(path), key changes re-sign every bin', () => {
  const repo = new RepoBuilder();
  const names = repo.delegateHashBins('targets', { bitLength: 5, namePrefix: 'b' });
  assert.equal(names.length, 32);
  assert.deepEqual([names[0], names[31]], ['b-00', 'b-1f']);
  for (const p of ['x', 'y/z', 'ü.bin']) {
    const first = createHash('sha256').update(p).digest()[0]!;
    assert.equal(repo.binFor(p), `b-${(first >> 3).toString(16).padStart(2, '0')}`);
  }
  assert.throws(() => repo.delegate('targets', 'other'), /succinct/);
  repo.commit();
  repo.setRoleKeys(names[3]!, repo.newKeys(2), 2);
  const published = repo.commit().published;
  assert.equal(Object.keys(published).length, 32 + 3); // targets + 32 bins + snapshot + timestamp
  const deleg = (repo.metadata('targets').signed as { delegations: { succinct_roles: Record<string, unknown>; keys: object } }).delegations;
  assert.deepEqual(deleg.succinct_roles, { keyids: repo.keysOf('b-00').map((k) => k.keyid), threshold: 2, bit_length: 5, name_prefix: 'b' });
});

test('publish writes decoded, contained file names and never leaves the directory', () => {
  const repo = new RepoBuilder();
  repo.addTarget('../up.txt', 'up');
  repo.addTarget('a b/c.txt', 'c');
  repo.addTarget('/abs/p', 'p');
  repo.commit();
  const parent = mkdtempSync(join(tmpdir(), 'tuf-pub-'));
  const dir = join(parent, 'out');
  try {
    repo.publish(dir);
    assert.deepEqual(readdirSync(parent), ['out']);
    const c = repo.target('a b/c.txt')!;
    assert.equal(readFileSync(join(dir, 'targets', 'a b', `${c.hashes['sha256']}.c.txt`), 'utf8'), 'c');
    const up = repo.target('../up.txt')!;
    assert.ok(existsSync(join(dir, `${up.hashes['sha256']}.up.txt`)), '../ is normalised away at the root');
    assert.ok(existsSync(join(dir, 'metadata', '1.root.json')));
    const metaOnly = join(parent, 'meta-only');
    repo.publish(metaOnly, { targets: false });
    assert.deepEqual(readdirSync(metaOnly), ['metadata']);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
  assert.equal(relToFsPath('/r', 'a/..%2f..%2fx'), '/r/a/..%2f..%2fx');
  assert.equal(relToFsPath('/r', 'a/../x'), null);
  assert.equal(relToFsPath('/r', 'a//x'), null);
});

test('mutateSigned changes only the signed copy, and the change is what gets signed', () => {
  const repo = new RepoBuilder();
  repo.addTarget('a', 'a');
  repo.mutateSigned('targets', (signed) => {
    const t = (signed['targets'] as Record<string, { hashes: Record<string, string> }>)['a']!;
    t.hashes['sha256'] = '00'.repeat(32);
    signed['spec_version'] = '2.0.0';
  });
  repo.commit();
  const env = repo.metadata('targets');
  assert.equal(env.signed['spec_version'], '2.0.0');
  assert.notEqual(repo.target('a')!.hashes['sha256'], '00'.repeat(32));
  const key = repo.keysOf('targets')[0]!;
  const pub = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(key.public, 'hex')]), format: 'der', type: 'spki' });
  assert.ok(verify(null, canonicalBytes(env.signed), pub, Buffer.from(env.signatures[0]!.sig, 'hex')));
});
