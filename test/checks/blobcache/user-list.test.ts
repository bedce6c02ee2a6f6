// The user database listing discovery reuses (checks/blobcache/user-list.ts): read once per
// userListMaxAgeMs, again at once when the local passwd file changes, and never older than that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readUsers, type PasswdEntry } from '../../../checks/blobcache/discover.ts';
import { createUserList, userListMaxAgeMs } from '../../../checks/blobcache/user-list.ts';

function scratch(): { local: string; directory: string; done: () => void } {
  const root = mkdtempSync(path.join(tmpdir(), 'bfa-userlist-'));
  const local = path.join(root, 'passwd');
  const directory = path.join(root, 'directory-service');
  writeFileSync(local, 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(directory, 'root:x:0:0:root:/root:/bin/bash\n');
  return { local, directory, done: () => rmSync(root, { recursive: true, force: true }) };
}

// The real reader, counted. `from` stands in for NSS: a source other than the local file.
function counted(from: string): { read: (p: string | undefined) => Promise<PasswdEntry[]>; reads: () => number } {
  let n = 0;
  return {
    read: () => {
      n++;
      return readUsers(from);
    },
    reads: () => n,
  };
}

const names = (users: PasswdEntry[]): string[] => users.map((u) => u.name);

test('a listing is reused until it is userListMaxAgeMs old, so a directory-service user appears that late at most', async () => {
  const s = scratch();
  try {
    const r = counted(s.directory);
    const users = createUserList({ passwdPath: s.local, read: r.read });
    const t0 = 1_000_000;
    assert.deepEqual(names(await users(t0)), ['root']);
    appendFileSync(s.directory, 'ldapuser:x:5000:5000::/home/ldapuser:/bin/sh\n');
    assert.deepEqual(names(await users(t0 + userListMaxAgeMs - 1)), ['root'], 'reused: not read again');
    assert.equal(r.reads(), 1);
    assert.deepEqual(names(await users(t0 + userListMaxAgeMs)), ['root', 'ldapuser'], 'read again once old');
    assert.equal(r.reads(), 2);
    // A clock that went back proves nothing about the listing's age.
    await users(t0);
    assert.equal(r.reads(), 3);
  } finally {
    s.done();
  }
});

test('a change of the local passwd file (useradd) is read at the next call, whatever the age', async () => {
  const s = scratch();
  try {
    const r = counted(s.local);
    const users = createUserList({ passwdPath: s.local, read: r.read });
    await users(0);
    await users(1);
    assert.equal(r.reads(), 1);
    appendFileSync(s.local, 'builder:x:1001:1001::/home/builder:/bin/sh\n');
    assert.deepEqual(names(await users(2)), ['root', 'builder']);
    assert.equal(r.reads(), 2);
  } finally {
    s.done();
  }
});

test('calls while a read is in flight share it', async () => {
  const s = scratch();
  try {
    const r = counted(s.local);
    const users = createUserList({ passwdPath: s.local, read: r.read });
    const [a, b] = await Promise.all([users(0), users(0)]);
    assert.equal(r.reads(), 1);
    assert.deepEqual(a, b);
  } finally {
    s.done();
  }
});
