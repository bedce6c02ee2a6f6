import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cacheDirsInScope, discoverCaches, parsePasswd } from '../../../checks/blobcache/discover.ts';
import { needRoot } from '../../support/tools.ts';

function scratch(): { root: string; passwd: string; done: () => void } {
  const root = mkdtempSync(path.join(tmpdir(), 'bfa-discover-'));
  return { root, passwd: path.join(root, 'passwd'), done: () => rmSync(root, { recursive: true, force: true }) };
}

function userCache(root: string, user: string): string {
  const dir = path.join(root, 'home', user, '.local/share/containers/cache');
  mkdirSync(dir, { recursive: true });
  return dir;
}

test('parsePasswd reads name, uid and home, and skips comments and NIS markers', () => {
  const entries = parsePasswd(
    'root:x:0:0:root:/root:/bin/bash\n# comment\n+::::::\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/sh\nbroken:line\n',
  );
  assert.deepEqual(entries, [
    { name: 'root', uid: 0, home: '/root' },
    { name: 'alice', uid: 1000, home: '/home/alice' },
  ]);
});

test('finds both formats side by side in a configured directory, with owner, size, companions and inUse', async () => {
  const s = scratch();
  try {
    const dir = path.join(s.root, 'system-cache');
    mkdirSync(dir);
    writeFileSync(s.passwd, 'root:x:0:0:root:/root:/bin/bash\n');
    writeFileSync(path.join(dir, 'blob-info-cache-v1.boltdb'), Buffer.alloc(4096));
    writeFileSync(path.join(dir, 'blob-info-cache-v1.sqlite'), Buffer.alloc(1024));
    writeFileSync(path.join(dir, 'blob-info-cache-v1.sqlite-journal'), 'j');
    const found = await discoverCaches({
      dirs: [dir],
      discoverUsers: false,
      cacheFormatInUse: 'sqlite',
      passwdPath: s.passwd,
    });
    assert.deepEqual(
      found.map((c) => [
        path.basename(c.path),
        c.formatByName,
        c.inUse,
        c.sizeBytes,
        c.companions,
        c.source,
        c.refused,
      ]),
      [
        ['blob-info-cache-v1.sqlite', 'sqlite', true, 1024, ['blob-info-cache-v1.sqlite-journal'], 'configured', null],
        ['blob-info-cache-v1.boltdb', 'boltdb', false, 4096, [], 'configured', null],
      ],
    );
    assert.deepEqual(found[0].owner, { uid: process.getuid!(), name: process.getuid!() === 0 ? 'root' : null });
    const unknown = await discoverCaches({
      dirs: [dir],
      discoverUsers: false,
      cacheFormatInUse: null,
      passwdPath: s.passwd,
    });
    assert.ok(unknown.every((c) => c.inUse === null));
  } finally {
    s.done();
  }
});

test("finds each passwd user's rootless cache under ~/.local/share/containers/cache", async (t) => {
  if (!needRoot(t)) return;
  const s = scratch();
  try {
    const alice = userCache(s.root, 'alice');
    const bob = userCache(s.root, 'bob');
    chownSync(alice, 1001, 1001);
    writeFileSync(path.join(alice, 'blob-info-cache-v1.boltdb'), '');
    writeFileSync(path.join(bob, 'blob-info-cache-v1.sqlite'), '');
    mkdirSync(path.join(s.root, 'home', 'carol'), { recursive: true }); // no cache: not reported
    writeFileSync(
      s.passwd,
      [
        'root:x:0:0:root:/root:/bin/bash',
        `alice:x:1001:1001::${path.join(s.root, 'home/alice')}:/bin/sh`,
        `bob:x:1002:1002::${path.join(s.root, 'home/bob')}:/bin/sh`,
        `carol:x:1003:1003::${path.join(s.root, 'home/carol')}:/bin/sh`,
        'nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin',
        '',
      ].join('\n'),
    );
    const found = await discoverCaches({
      dirs: [],
      discoverUsers: true,
      cacheFormatInUse: 'boltdb',
      passwdPath: s.passwd,
    });
    assert.deepEqual(
      found.map((c) => [c.path, c.owner, c.dirUid, c.source]),
      [
        [path.join(alice, 'blob-info-cache-v1.boltdb'), { uid: 1001, name: 'alice' }, 1001, 'user'],
        [path.join(bob, 'blob-info-cache-v1.sqlite'), { uid: 1002, name: 'bob' }, 0, 'user'],
      ],
    );
    const none = await discoverCaches({
      dirs: [],
      discoverUsers: false,
      cacheFormatInUse: 'boltdb',
      passwdPath: s.passwd,
    });
    assert.deepEqual(none, []);
    const scope = await cacheDirsInScope({
      dirs: ['/var/lib/containers/cache'],
      discoverUsers: true,
      cacheFormatInUse: null,
      passwdPath: s.passwd,
    });
    assert.ok(scope.includes('/var/lib/containers/cache'));
    assert.ok(scope.includes(path.join(s.root, 'home/carol/.local/share/containers/cache')));
  } finally {
    s.done();
  }
});

test('a symlinked directory on the way is refused, not followed', async () => {
  const s = scratch();
  try {
    const real = userCache(s.root, 'real');
    writeFileSync(path.join(real, 'blob-info-cache-v1.boltdb'), '');
    // mallory's ~/.local points into somebody else's tree.
    mkdirSync(path.join(s.root, 'home', 'mallory'), { recursive: true });
    symlinkSync(path.join(s.root, 'home', 'real', '.local'), path.join(s.root, 'home', 'mallory', '.local'));
    writeFileSync(s.passwd, `mallory:x:1005:1005::${path.join(s.root, 'home/mallory')}:/bin/sh\n`);
    const found = await discoverCaches({ dirs: [], discoverUsers: true, cacheFormatInUse: null, passwdPath: s.passwd });
    assert.equal(found.length, 1);
    assert.equal(found[0].fileName, null);
    assert.equal(found[0].refused?.code, 'symlink-on-path');
    assert.match(found[0].refused!.message, /mallory\/\.local is a symbolic link/);
    // The message names where the link points, not the link again.
    assert.ok(
      found[0].refused!.message.includes(`to ${path.join(s.root, 'home', 'real', '.local')}`),
      found[0].refused!.message,
    );
  } finally {
    s.done();
  }
});

test('a configured cache directory that is itself a link is named with its real target', async () => {
  const s = scratch();
  try {
    const real = userCache(s.root, 'real');
    writeFileSync(path.join(real, 'blob-info-cache-v1.boltdb'), ''); // behind an untrusted link, only a cache file counts
    const link = path.join(s.root, 'linked-cache');
    symlinkSync(real, link);
    const found = await discoverCaches({
      dirs: [link],
      discoverUsers: false,
      cacheFormatInUse: null,
      passwdPath: s.passwd,
    });
    assert.equal(found[0].refused?.code, 'symlink-on-path');
    assert.equal(
      found[0].refused?.message,
      `${link} is a symbolic link to ${real}; not following it (it sits in a directory someone other than root can write)`,
    );
  } finally {
    s.done();
  }
});

test('a symlinked cache file is reported as refused; a directory in its place is not a regular file', async () => {
  const s = scratch();
  try {
    const dir = path.join(s.root, 'cache');
    mkdirSync(dir);
    writeFileSync(path.join(s.root, 'target'), '');
    symlinkSync(path.join(s.root, 'target'), path.join(dir, 'blob-info-cache-v1.boltdb'));
    mkdirSync(path.join(dir, 'blob-info-cache-v1.sqlite'));
    writeFileSync(s.passwd, '');
    const found = await discoverCaches({
      dirs: [dir],
      discoverUsers: false,
      cacheFormatInUse: null,
      passwdPath: s.passwd,
    });
    assert.deepEqual(
      found.map((c) => [path.basename(c.path), c.refused?.code]),
      [
        ['blob-info-cache-v1.sqlite', 'not-a-regular-file'],
        ['blob-info-cache-v1.boltdb', 'symlink'],
      ],
    );
  } finally {
    s.done();
  }
});

test('a configured directory that is also a user cache is reported once; missing directories are skipped', async () => {
  const s = scratch();
  try {
    const dir = userCache(s.root, 'dave');
    writeFileSync(path.join(dir, 'blob-info-cache-v1.sqlite'), '');
    writeFileSync(s.passwd, `dave:x:1006:1006::${path.join(s.root, 'home/dave')}:/bin/sh\n`);
    const found = await discoverCaches({
      dirs: [dir, path.join(s.root, 'missing')],
      discoverUsers: true,
      cacheFormatInUse: null,
      passwdPath: s.passwd,
    });
    assert.equal(found.length, 1);
    assert.equal(found[0].source, 'configured');
  } finally {
    s.done();
  }
});

test("a system user's home behind root's link with no cache there is not a refusal (the bin user's /bin -> usr/bin)", async () => {
  const s = scratch();
  try {
    mkdirSync(path.join(s.root, 'usr/bin'), { recursive: true });
    symlinkSync('usr/bin', path.join(s.root, 'bin'));
    writeFileSync(s.passwd, `bin:x:1:1:bin:${path.join(s.root, 'bin')}:/sbin/nologin\n`);
    assert.deepEqual(
      await discoverCaches({ dirs: [], discoverUsers: true, cacheFormatInUse: null, passwdPath: s.passwd }),
      [],
    );
    // A cache behind the same link is still refused, never read through it.
    mkdirSync(path.join(s.root, 'usr/bin/.local/share/containers/cache'), { recursive: true });
    assert.deepEqual(
      await discoverCaches({ dirs: [], discoverUsers: true, cacheFormatInUse: null, passwdPath: s.passwd }),
      [],
      'an empty cache directory is no cache',
    );
    writeFileSync(path.join(s.root, 'usr/bin/.local/share/containers/cache/blob-info-cache-v1.boltdb'), '');
    const found = await discoverCaches({ dirs: [], discoverUsers: true, cacheFormatInUse: null, passwdPath: s.passwd });
    assert.equal(found.length, 1);
    assert.equal(found[0].refused?.code, 'symlink-on-path');
  } finally {
    s.done();
  }
});
