import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  busyRunsKept,
  createBlobCacheCheck,
  summariseForUser,
  type BlobCacheCheckOptions,
  type BlobCacheDetails,
} from '../../../checks/blobcache/check.ts';
import { verifyCacheFile } from '../../../checks/blobcache/verify.ts';
import type { CheckResult } from '../../../checks/types.ts';
import { readAuditRecords } from '../../../agent/remediation/audit.ts';
import { writeIntent } from '../../../agent/remediation/intent.ts';
import { createCacheRemediation } from '../../../agent/remediation/cache-remediation.ts';
import { lstatIdentity } from '../../../lib/file-identity.ts';
import { makeScratch, writeCorrupt, type Scratch } from '../../agent/remediation/scratch.ts';

type TestOptions = Partial<BlobCacheCheckOptions> & { autoQuarantine?: boolean };

// The check with the agent's real remediation hook, moving files only with autoQuarantine.
function options(s: Scratch, over: TestOptions = {}): BlobCacheCheckOptions {
  const { autoQuarantine = false, ...rest } = over;
  const verify = rest.verify ?? verifyCacheFile;
  return {
    dirs: [s.cacheDir],
    discoverUsers: false,
    verify,
    skopeoInfo: async () => ({ skopeoVersion: '1.9.3', cacheFormatInUse: 'boltdb' }),
    passwdPath: s.passwd,
    remediation: createCacheRemediation({
      moves: autoQuarantine,
      actor: 'daemon',
      stateDir: s.stateDir,
      keep: 3,
      maxQuarantineBytes: 1 << 30,
      verify,
      verifyOptions: { full: false },
      now: () => new Date('2026-11-28T10:15:00Z'),
    }),
    ...rest,
  };
}

async function run(opts: BlobCacheCheckOptions): Promise<CheckResult & { d: BlobCacheDetails }> {
  const check = createBlobCacheCheck(opts);
  assert.equal(check.name, 'blobinfocache');
  assert.equal(check.scope, 'host');
  const r = await check.run({ signal: new AbortController().signal, now: () => new Date() });
  JSON.stringify(r); // details must be JSON-serialisable
  return { ...r, d: r.details as unknown as BlobCacheDetails };
}

test('no caches: ok', async () => {
  const s = makeScratch();
  try {
    const r = await run(options(s));
    assert.equal(r.status, 'ok');
    assert.equal(r.summary, 'no blob-info caches found');
    assert.deepEqual(r.d.caches, []);
  } finally {
    s.cleanup();
  }
});

test('a healthy cache: ok, with the per-cache details the metrics read', async () => {
  const s = makeScratch();
  try {
    writeFileSync(s.bolt, '');
    const r = await run(options(s));
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.reasons, []);
    const [c] = r.d.caches;
    assert.equal(c.path, s.bolt);
    assert.equal(c.formatByName, 'boltdb');
    assert.equal(c.format, 'empty');
    assert.equal(c.verdict, 'healthy');
    assert.equal(c.inUse, true);
    assert.equal(c.sizeBytes, 0);
    assert.equal(typeof c.verifyDurationMs, 'number');
    assert.deepEqual(c.owner, { uid: process.getuid!(), name: process.getuid!() === 0 ? 'root' : null });
    assert.equal(r.d.skopeoVersion, '1.9.3');
    assert.equal(r.d.cacheFormatInUse, 'boltdb');
  } finally {
    s.cleanup();
  }
});

test('a corrupt cache in use: critical with cache-corrupt, nothing moved without autoQuarantine', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    const r = await run(options(s));
    assert.equal(r.status, 'critical');
    assert.deepEqual(
      r.reasons.map((x) => x.code),
      ['cache-corrupt'],
    );
    assert.match(r.reasons[0].message, new RegExp(`${s.bolt} is corrupt \\(not-a-cache\\)`));
    assert.equal(r.d.caches[0].verdict, 'corrupt');
    assert.deepEqual(
      r.d.caches[0].problems.map((p) => p.code),
      ['not-a-cache'],
    );
    assert.equal(r.d.caches[0].problems[0].message.includes('/proc/self/fd'), false, 'messages name the real path');
    assert.ok(existsSync(s.bolt));
  } finally {
    s.cleanup();
  }
});

test('autoQuarantine moves a corrupt cache aside, checks again, and reports ok with cache-quarantined', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    const r = await run(options(s, { autoQuarantine: true }));
    assert.equal(r.status, 'ok');
    assert.deepEqual(
      r.reasons.map((x) => x.code),
      ['cache-quarantined'],
    );
    assert.equal(r.d.caches[0].verdict, null, 'nothing at the path any more');
    assert.equal(r.d.caches[0].quarantine?.result, 'quarantined');
    assert.equal(r.d.quarantined.length, 1);
    assert.equal(r.d.quarantined[0].formatByName, 'boltdb');
    assert.equal(existsSync(s.bolt), false);
    assert.ok(existsSync(r.d.quarantined[0].newPath));
    const audit = readAuditRecords(s.stateDir);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].actor, 'daemon');
    assert.deepEqual(r.d.audit, audit);
  } finally {
    s.cleanup();
  }
});

test('a corrupt orphan (format the installed skopeo no longer uses) is a warning and is not moved', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    const r = await run(
      options(s, {
        autoQuarantine: true,
        skopeoInfo: async () => ({ skopeoVersion: '1.14.0', cacheFormatInUse: 'sqlite' }),
      }),
    );
    assert.equal(r.status, 'warning');
    assert.deepEqual(
      r.reasons.map((x) => x.code),
      ['cache-corrupt-orphan'],
    );
    assert.equal(r.d.caches[0].inUse, false);
    assert.ok(existsSync(s.bolt));
  } finally {
    s.cleanup();
  }
});

test('an unreadable verdict is unknown with cache-unverified and its cause (fault-injecting wrapper around the real verifier)', async () => {
  const s = makeScratch();
  try {
    writeFileSync(s.bolt, '');
    const causes = [
      [{ code: 'io-error', message: 'EIO' }, 'unreadable'],
      [{ code: 'verify-timeout', message: 'killed after 300 s' }, 'verifier-timeout'],
      [{ code: 'verify-process-failed', message: 'exit 134' }, 'verifier-failed'],
      [{ code: 'internal-error', message: 'TypeError' }, 'agent-fault'],
    ] as const;
    for (const [problem, cause] of causes) {
      const r = await run(
        options(s, {
          verify: async (p, o) => ({ ...(await verifyCacheFile(p, o)), verdict: 'unreadable', problems: [problem] }),
        }),
      );
      assert.equal(r.status, 'unknown', cause);
      assert.deepEqual(
        r.reasons.map((x) => x.code),
        ['cache-unverified'],
      );
      assert.equal(r.d.caches[0].effectiveVerdict, 'unverified');
      assert.equal(r.d.caches[0].unverifiedCause, cause);
      assert.equal(r.summary, '1 of 1 caches not verified');
    }
  } finally {
    s.cleanup();
  }
});

test('busy keeps the last read verdict for a bounded number of runs, then is unknown', async () => {
  const s = makeScratch();
  try {
    writeFileSync(s.bolt, '');
    let busy = false;
    const opts = options(s, {
      verify: async (p, o) => {
        const v = await verifyCacheFile(p, o);
        return busy ? { ...v, verdict: 'busy' } : v;
      },
    });
    const check = createBlobCacheCheck(opts);
    const once = async () => {
      const r = await check.run({ signal: new AbortController().signal, now: () => new Date() });
      return { ...r, d: r.details as unknown as BlobCacheDetails };
    };
    assert.equal((await once()).status, 'ok');
    busy = true;
    for (let i = 1; i <= busyRunsKept; i++) {
      const r = await once();
      assert.equal(r.status, 'warning', `busy run ${i}`);
      assert.deepEqual(
        r.reasons.map((x) => x.code),
        ['cache-busy'],
      );
      assert.equal(r.d.caches[0].effectiveVerdict, 'healthy');
    }
    const r = await once();
    assert.equal(r.status, 'unknown');
    assert.deepEqual(
      r.reasons.map((x) => x.code),
      ['cache-unverified'],
    );
    assert.equal(r.d.caches[0].unverifiedCause, 'busy');
    // A fresh check (a restart) has nothing to keep: busy is unverified at once.
    const fresh = await run(opts);
    assert.equal(fresh.status, 'unknown');
  } finally {
    s.cleanup();
  }
});

test('a corrupt cache stays corrupt while busy', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    let busy = false;
    const check = createBlobCacheCheck(
      options(s, {
        verify: async (p, o) => {
          const v = await verifyCacheFile(p, o);
          return busy ? { ...v, verdict: 'busy' } : v;
        },
      }),
    );
    const ctx = { signal: new AbortController().signal, now: () => new Date() };
    assert.equal((await check.run(ctx)).status, 'critical');
    busy = true;
    const r = await check.run(ctx);
    assert.equal(r.status, 'critical');
    assert.deepEqual(
      r.reasons.map((x) => x.code),
      ['cache-corrupt'],
    );
  } finally {
    s.cleanup();
  }
});

test('a symlinked cache file is never read and is unknown (cache-unverified, refused)', async () => {
  const s = makeScratch();
  try {
    const elsewhere = path.join(s.root, 'elsewhere');
    writeCorrupt(elsewhere);
    (await import('node:fs')).symlinkSync(elsewhere, s.bolt);
    let verified = 0;
    const r = await run(
      options(s, { autoQuarantine: true, verify: async (p, o) => (verified++, verifyCacheFile(p, o)) }),
    );
    assert.equal(verified, 0);
    assert.equal(r.status, 'unknown');
    assert.deepEqual(
      r.reasons.map((x) => x.code),
      ['cache-unverified'],
    );
    assert.equal(r.d.caches[0].unverifiedCause, 'refused');
    assert.ok(existsSync(elsewhere));
  } finally {
    s.cleanup();
  }
});

test('a corrupt cache that cannot be moved stays critical and says why', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    (await import('node:fs')).linkSync(s.bolt, path.join(s.root, 'second-name'));
    const r = await run(options(s, { autoQuarantine: true }));
    assert.equal(r.status, 'critical');
    assert.deepEqual(
      r.reasons.map((x) => x.code),
      ['cache-corrupt', 'quarantine-blocked'],
    );
    assert.match(r.reasons[1].message, /hard links/);
  } finally {
    s.cleanup();
  }
});

test('a half-done quarantine is reported without autoQuarantine and finished with it', async () => {
  const s = makeScratch();
  try {
    writeCorrupt(s.bolt);
    const id = lstatIdentity(s.bolt)!;
    const stat = (await import('node:fs')).statSync(s.cacheDir, { bigint: true });
    writeIntent(s.stateDir, {
      id: 'test-intent',
      createdAt: '2026-11-28T10:00:00.000Z',
      actor: 'cli',
      dir: s.cacheDir,
      dirDev: stat.dev.toString(),
      dirIno: stat.ino.toString(),
      dirUid: 0,
      main: { name: path.basename(s.bolt), newName: `${path.basename(s.bolt)}.corrupt-20261128T100000Z`, identity: id },
      companions: [],
      problems: ['not-a-cache'],
      skopeoVersion: '1.9.3',
    });
    const reported = await run(options(s));
    assert.ok(reported.reasons.some((x) => x.code === 'quarantine-incomplete'));
    assert.ok(existsSync(s.bolt));
    const finished = await run(options(s, { autoQuarantine: true }));
    assert.equal(finished.d.interrupted[0].result, 'completed');
    assert.deepEqual(readdirSync(s.cacheDir), [`${path.basename(s.bolt)}.corrupt-20261128T100000Z`]);
    assert.equal(finished.status, 'ok');
  } finally {
    s.cleanup();
  }
});

test("buildUsers: only root's and the build users' caches decide; ?user=NAME answers for one user", async () => {
  const s = makeScratch();
  try {
    const { mkdirSync, chownSync, appendFileSync } = await import('node:fs');
    const asRoot = process.getuid!() === 0;
    const home = (name: string, uid: number): string => {
      const dir = path.join(s.root, 'home', name, '.local/share/containers/cache');
      mkdirSync(dir, { recursive: true });
      if (asRoot) chownSync(dir, uid, uid);
      appendFileSync(s.passwd, `${name}:x:${uid}:${uid}::${path.join(s.root, 'home', name)}:/bin/sh\n`);
      return dir;
    };
    writeFileSync(path.join(home('alice', 2001), 'blob-info-cache-v1.boltdb'), '');
    writeCorrupt(path.join(home('bob', 2002), 'blob-info-cache-v1.boltdb'));
    const everyone = await run(options(s, { discoverUsers: true }));
    assert.equal(everyone.status, 'critical', 'no buildUsers: every user decides');
    assert.deepEqual(
      everyone.reasons.map((x) => x.code),
      ['cache-corrupt'],
    );

    const onlyAlice = await run(options(s, { discoverUsers: true, buildUsers: ['alice'] }));
    assert.equal(onlyAlice.status, 'warning');
    assert.deepEqual(
      onlyAlice.reasons.map((x) => x.code),
      ['user-cache-corrupt'],
    );

    assert.equal(summariseForUser(everyone.d, 'alice').status, 'warning');
    assert.equal(summariseForUser(everyone.d, 'bob').status, 'critical');
  } finally {
    s.cleanup();
  }
});
