import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findOpenFileHolders } from '../../../agent/remediation/open-holders.ts';
import { lstatIdentity } from '../../../lib/file-identity.ts';
import { makeScratch } from './scratch.ts';

test('a proc root of our own: fd links are matched by device and inode, not by name', (t) => {
  const s = makeScratch();
  t.after(s.cleanup);
  writeFileSync(s.sqlite, 'db');
  writeFileSync(path.join(s.root, 'unrelated'), 'x');
  const proc = path.join(s.root, 'proc');
  for (const [pid, comm, targets] of [
    ['101', 'skopeo', [s.sqlite]],
    ['202', 'bash', [path.join(s.root, 'unrelated')]],
    ['303', 'gone', ['/nonexistent/file']],
  ] as const) {
    mkdirSync(path.join(proc, pid, 'fd'), { recursive: true });
    writeFileSync(path.join(proc, pid, 'comm'), `${comm}\n`);
    targets.forEach((target, i) => symlinkSync(target, path.join(proc, pid, 'fd', String(i + 3))));
  }
  mkdirSync(path.join(proc, 'self')); // not a pid
  const holders = findOpenFileHolders([lstatIdentity(s.sqlite)!], proc);
  assert.deepEqual(holders, [{ pid: 101, command: 'skopeo', fd: 3, target: s.sqlite }]);
  assert.deepEqual(findOpenFileHolders([], proc), []);
  assert.deepEqual(findOpenFileHolders([lstatIdentity(s.sqlite)!], path.join(s.root, 'no-proc')), []);
});
