import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { assessCache, quarantineCache } from '../../../agent/remediation/quarantine.ts';
import { readAuditRecords } from '../../../agent/remediation/audit.ts';
import { listIntents } from '../../../agent/remediation/intent.ts';
import { needRoot, needTools } from '../../support/tools.ts';
import { depsFor, discoverScratch, findCache, makeScratch, writeCorrupt, writeDamagedBolt } from './scratch.ts';

const stampPattern = /\.corrupt-20261128T101500Z$/;

test('a healthy (zero-length) cache is verified and never moved', async () => {
  const s = makeScratch();
  try {
    writeFileSync(s.bolt, '');
    const deps = depsFor(s);
    const a = await assessCache(findCache(await discoverScratch(s), s.bolt), deps);
    const out = await quarantineCache(a, deps);
    assert.equal(out.result, 'not-corrupt');
    assert.equal(out.code, 'healthy');
    assert.ok(existsSync(s.bolt));
    assert.deepEqual(readdirSync(s.cacheDir), [path.basename(s.bolt)]);
    assert.deepEqual(readAuditRecords(s.stateDir), []);
  } finally {
    s.cleanup();
  }
});

test('a corrupt bolt cache is moved aside in its directory and audited', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    const before = lstatSync(s.bolt);
    const deps = depsFor(s);
    const a = await assessCache(findCache(await discoverScratch(s), s.bolt), deps);
    assert.equal(a.outcome.result, 'would-quarantine');
    const out = await quarantineCache(a, deps);
    assert.equal(out.result, 'quarantined', out.message);
    assert.match(out.newPath!, stampPattern);
    assert.equal(path.dirname(out.newPath!), s.cacheDir);
    assert.equal(existsSync(s.bolt), false);
    const after = lstatSync(out.newPath!);
    assert.equal(after.ino, before.ino, 'renamed, not copied');
    const audit = readAuditRecords(s.stateDir);
    assert.equal(audit.length, 1);
    const [r] = audit;
    assert.equal(r.action, 'quarantine');
    assert.equal(r.actor, 'cli');
    assert.equal(r.path, s.bolt);
    assert.equal(r.newPath, out.newPath);
    assert.equal(r.inode, before.ino);
    assert.equal(r.size, before.size);
    assert.deepEqual(r.problems, [...new Set(out.verdict!.problems.map((p) => p.code))]);
    assert.ok(r.problems.length > 0);
    assert.equal(r.skopeoVersion, '1.9.3');
    assert.equal(r.time, '2026-11-28T10:15:00.000Z');
    assert.deepEqual(out.audit, audit);
    assert.deepEqual(listIntents(s.stateDir).intents, [], 'intent removed after the move');
  } finally {
    s.cleanup();
  }
});

test('a real bolt cache with a damaged leaf page is confirmed corrupt and moved', async (t) => {
  if (!needTools(t, 'go')) return;
  const s = makeScratch();
  try {
    assert.equal(await writeDamagedBolt(s.bolt), null);
    const deps = depsFor(s);
    const a = await assessCache(findCache(await discoverScratch(s), s.bolt), deps);
    assert.equal(a.outcome.verdict?.format, 'boltdb');
    assert.equal(a.outcome.verdict?.verdict, 'corrupt');
    const out = await quarantineCache(a, deps);
    assert.equal(out.result, 'quarantined', out.message);
    const [r] = readAuditRecords(s.stateDir);
    assert.deepEqual(r.problems, [...new Set(out.verdict!.problems.map((p) => p.code))]);
    assert.ok(r.problems.every((c) => c !== 'not-a-cache'));
  } finally {
    s.cleanup();
  }
});

test('SQLite companions move with the database, keeping SQLite suffixes after the new stem', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.sqlite);
    const companions = ['-journal', '-wal', '-shm'];
    const inodes = new Map<string, number>();
    for (const suffix of companions) {
      writeFileSync(`${s.sqlite}${suffix}`, `companion ${suffix}`);
      inodes.set(suffix, lstatSync(`${s.sqlite}${suffix}`).ino);
    }
    const deps = depsFor(s);
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
    assert.equal(out.result, 'quarantined', out.message);
    assert.deepEqual(
      readdirSync(s.cacheDir).sort(),
      [path.basename(out.newPath!), ...companions.map((c) => `${path.basename(out.newPath!)}${c}`)].sort(),
    );
    for (const suffix of companions) assert.equal(lstatSync(`${out.newPath}${suffix}`).ino, inodes.get(suffix));
    const [r] = readAuditRecords(s.stateDir);
    assert.deepEqual(r.companions.map((c) => c.path).sort(), companions.map((c) => `${s.sqlite}${c}`).sort());
    assert.ok(r.companions.every((c) => c.newPath === `${out.newPath}${c.path.slice(s.sqlite.length)}`));
  } finally {
    s.cleanup();
  }
});

test('a symlinked cache file is refused and neither it nor its target is touched', async () => {
  const s = makeScratch();
  try {
    const elsewhere = path.join(s.root, 'elsewhere.boltdb');
    writeCorrupt(elsewhere);
    symlinkSync(elsewhere, s.bolt);
    const deps = depsFor(s);
    const cache = findCache(await discoverScratch(s), s.bolt);
    assert.equal(cache.refused?.code, 'symlink');
    const out = await quarantineCache(await assessCache(cache, deps), deps);
    assert.equal(out.result, 'refused');
    assert.equal(out.code, 'symlink');
    assert.match(out.message, /symbolic link/);
    assert.equal(out.message.includes('\n'), false, 'one line');
    assert.ok(lstatSync(s.bolt).isSymbolicLink());
    assert.ok(existsSync(elsewhere));
    assert.deepEqual(readdirSync(s.cacheDir), [path.basename(s.bolt)]);
  } finally {
    s.cleanup();
  }
});

test('a directory on the path replaced by a symlink after discovery is refused', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    const deps = depsFor(s);
    const cache = findCache(await discoverScratch(s), s.bolt);
    const a = await assessCache(cache, deps);
    assert.equal(a.outcome.result, 'would-quarantine');
    // Swap .../containers for a link to a look-alike tree holding another corrupt file.
    const containers = path.dirname(s.cacheDir);
    const decoy = path.join(s.root, 'decoy');
    mkdirSync(path.join(decoy, 'cache'), { recursive: true });
    writeCorrupt(path.join(decoy, 'cache', path.basename(s.bolt)), 2);
    renameSync(containers, path.join(s.root, 'moved-away'));
    symlinkSync(decoy, containers);
    const out = await quarantineCache(a, deps);
    assert.equal(out.result, 'refused');
    assert.equal(out.code, 'symlink-on-path');
    assert.match(out.message, /containers is a symbolic link/);
    assert.ok(out.message.includes(`to ${decoy}`), `names the link's real target: ${out.message}`);
    assert.deepEqual(readdirSync(path.join(decoy, 'cache')), [path.basename(s.bolt)], 'decoy untouched');
    assert.ok(existsSync(path.join(s.root, 'moved-away', 'cache', path.basename(s.bolt))), 'original untouched');
  } finally {
    s.cleanup();
  }
});

test('a file not owned by the directory owner is refused', async (t) => {
  if (!needRoot(t)) return;
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    chownSync(s.bolt, 65534, 65534);
    const deps = depsFor(s);
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.bolt), deps), deps);
    assert.equal(out.result, 'refused');
    assert.equal(out.code, 'file-owner-mismatch');
    assert.match(out.message, /owned by uid 65534, not by the directory's owner \(uid 0\)/);
    assert.ok(existsSync(s.bolt));
  } finally {
    s.cleanup();
  }
});

test('a companion owned by another user blocks the whole move', async (t) => {
  if (!needRoot(t)) return;
  const s = makeScratch();
  try {
    writeCorrupt(s.sqlite);
    writeFileSync(`${s.sqlite}-journal`, 'x');
    chownSync(`${s.sqlite}-journal`, 65534, 65534);
    const deps = depsFor(s);
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
    assert.equal(out.result, 'refused');
    assert.equal(out.code, 'file-owner-mismatch');
    assert.match(out.message, /^refused: companion .*-journal is owned by uid 65534/);
    assert.deepEqual(readdirSync(s.cacheDir).sort(), [path.basename(s.sqlite), `${path.basename(s.sqlite)}-journal`]);
  } finally {
    s.cleanup();
  }
});

test('a hard-linked cache file is refused', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    linkSync(s.bolt, path.join(s.root, 'second-name'));
    const deps = depsFor(s);
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.bolt), deps), deps);
    assert.equal(out.result, 'refused');
    assert.equal(out.code, 'hard-linked');
  } finally {
    s.cleanup();
  }
});

test('a user cache directory not owned by its user is refused', async (t) => {
  if (!needRoot(t)) return;
  const s = makeScratch();
  try {
    const home = path.join(s.root, 'home', 'alice');
    const dir = path.join(home, '.local/share/containers/cache');
    mkdirSync(dir, { recursive: true });
    writeFileSync(s.passwd, `alice:x:1234:1234::${home}:/bin/sh\n`);
    writeCorrupt(path.join(dir, 'blob-info-cache-v1.boltdb'));
    const deps = depsFor(s);
    const cache = findCache(await discoverScratch(s, { users: true }), path.join(dir, 'blob-info-cache-v1.boltdb'));
    const out = await quarantineCache(await assessCache(cache, deps), deps);
    assert.equal(out.result, 'refused');
    assert.equal(out.code, 'directory-owner-mismatch');
    assert.match(out.message, /owned by uid 0, not by the cache's user alice \(uid 1234\)/);
  } finally {
    s.cleanup();
  }
});

test("a user's own corrupt cache in their own directory is moved", async (t) => {
  if (!needRoot(t)) return;
  const s = makeScratch();
  try {
    const home = path.join(s.root, 'home', 'alice');
    const dir = path.join(home, '.local/share/containers/cache');
    mkdirSync(dir, { recursive: true });
    chownSync(dir, 1234, 1234);
    writeFileSync(s.passwd, `alice:x:1234:1234::${home}:/bin/sh\n`);
    const file = path.join(dir, 'blob-info-cache-v1.boltdb');
    writeCorrupt(file);
    chownSync(file, 1234, 1234);
    const deps = depsFor(s);
    const cache = findCache(await discoverScratch(s, { users: true }), file);
    assert.deepEqual(cache.owner, { uid: 1234, name: 'alice' });
    const out = await quarantineCache(await assessCache(cache, deps), deps);
    assert.equal(out.result, 'quarantined', out.message);
    assert.equal(lstatSync(out.newPath!).uid, 1234);
  } finally {
    s.cleanup();
  }
});

test('the file replaced between the first verification and the move is left alone', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    const deps = depsFor(s);
    const a = await assessCache(findCache(await discoverScratch(s), s.bolt), deps);
    const replacement = path.join(s.cacheDir, 'replacement');
    writeCorrupt(replacement, 3);
    renameSync(replacement, s.bolt);
    const ino = lstatSync(s.bolt).ino;
    const out = await quarantineCache(a, deps);
    assert.equal(out.result, 'changed');
    assert.equal(out.code, 'file-changed');
    assert.equal(lstatSync(s.bolt).ino, ino);
    assert.deepEqual(readAuditRecords(s.stateDir), []);
  } finally {
    s.cleanup();
  }
});

test('the file replaced after the confirming verification (just before the rename) is left alone', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    let swappedIno = 0;
    const deps = depsFor(s, {
      afterStep: (step) => {
        if (step !== 'confirmed') return;
        const replacement = path.join(s.cacheDir, 'replacement');
        writeFileSync(replacement, ''); // a fresh, healthy cache skopeo might have started
        renameSync(replacement, s.bolt);
        swappedIno = lstatSync(s.bolt).ino;
      },
    });
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.bolt), deps), deps);
    assert.equal(out.result, 'changed');
    assert.equal(lstatSync(s.bolt).ino, swappedIno);
    assert.deepEqual(readdirSync(s.cacheDir), [path.basename(s.bolt)]);
    assert.deepEqual(listIntents(s.stateDir).intents, [], 'intent withdrawn');
    assert.deepEqual(readAuditRecords(s.stateDir), []);
  } finally {
    s.cleanup();
  }
});

async function holdOpen(file: string): Promise<{ pid: number; stop: () => Promise<void> }> {
  const child = spawn('sh', ['-c', 'exec 3<"$1"; echo ready; exec sleep 60 3<&3', 'sh', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout!, 'data');
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

test('a cache a process holds open is skipped as busy, and moved once it is closed', async () => {
  const s = makeScratch();
  const holder = await (async () => {
    writeCorrupt(s.bolt);
    return holdOpen(s.bolt);
  })();
  try {
    const deps = depsFor(s);
    const cache = findCache(await discoverScratch(s), s.bolt);
    const out = await quarantineCache(await assessCache(cache, deps), deps);
    assert.equal(out.result, 'busy');
    assert.equal(out.code, 'file-open');
    assert.ok(
      out.holders.some((h) => h.pid === holder.pid),
      JSON.stringify(out.holders),
    );
    assert.match(out.message, new RegExp(`\\[${holder.pid}\\]`));
    assert.ok(existsSync(s.bolt));
    await holder.stop();
    const again = await quarantineCache(await assessCache(cache, deps), deps);
    assert.equal(again.result, 'quarantined', again.message);
  } finally {
    await holder.stop();
    s.cleanup();
  }
});

test('an open SQLite companion makes the cache busy', async () => {
  const s = makeScratch();
  writeCorrupt(s.sqlite);
  writeFileSync(`${s.sqlite}-wal`, 'wal');
  const holder = await holdOpen(`${s.sqlite}-wal`);
  try {
    const deps = depsFor(s);
    const out = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.sqlite), deps), deps);
    assert.equal(out.result, 'busy');
    assert.ok(out.holders.some((h) => h.pid === holder.pid && h.target.endsWith('-wal')));
    assert.deepEqual(readdirSync(s.cacheDir).sort(), [path.basename(s.sqlite), `${path.basename(s.sqlite)}-wal`]);
  } finally {
    await holder.stop();
    s.cleanup();
  }
});

test('two quarantines in the same second get distinct names', async () => {
  const s = makeScratch();
  try {
    const deps = depsFor(s);
    writeCorrupt(s.bolt);
    const first = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.bolt), deps), deps);
    writeCorrupt(s.bolt, 5);
    const second = await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.bolt), deps), deps);
    assert.equal(second.result, 'quarantined');
    assert.notEqual(first.newPath, second.newPath);
    assert.match(second.newPath!, /\.corrupt-20261128T101500Z-1$/);
    assert.ok(existsSync(first.newPath!));
  } finally {
    s.cleanup();
  }
});

test('the audit log is JSON lines appended in order', async () => {
  const s = makeScratch();
  try {
    const deps = depsFor(s);
    for (const seed of [1, 2]) {
      writeCorrupt(s.bolt, seed);
      await quarantineCache(await assessCache(findCache(await discoverScratch(s), s.bolt), deps), deps);
    }
    const lines = readFileSync(path.join(s.stateDir, 'audit.jsonl'), 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 2);
    const records = lines.map((l) => JSON.parse(l));
    assert.deepEqual(
      records.map((r) => r.action),
      ['quarantine', 'quarantine'],
    );
    assert.equal(lstatSync(path.join(s.stateDir, 'audit.jsonl')).mode & 0o777, 0o600);
  } finally {
    s.cleanup();
  }
});
