import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { Check, CheckContext, CheckResult } from '../../checks/types.ts';
import type { DiskCheckDetails } from '../../checks/disk.ts';
import { isConfigError, parseConfigText, type AgentConfig } from '../../agent/config.ts';
import { createAgentCore, type AgentCoreOptions, type RunningAgentCore } from '../../agent/core.ts';
import { createExclusive } from '../../agent/cache-work-lock.ts';
import type { RunnerEntry } from '../../agent/runner.ts';
import type { BlobCacheDetails } from '../../checks/blobcache/check.ts';
import { readBoltMetas } from '../../checks/blobcache/bolt/meta.ts';
import { bufferReadAt } from '../../checks/blobcache/file-source.ts';
import { FakeClock, FakeScheduler, settle } from './fake-clock.ts';
import { serveForTest } from './http/serve-for-test.ts';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'bfa-core-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function configWith(extra = ''): AgentConfig {
  n += 1;
  const loaded = parseConfigText(`stateDir: ${join(root, `state${n}`)}\n${extra}`, 'test');
  if (isConfigError(loaded)) throw new Error(loaded.errors.join('\n'));
  return loaded.config;
}

const ok: CheckResult = { status: 'ok', summary: 'fine', reasons: [], details: {} };
// Disk details that differ only in a measurement.
const freeBytes = (availBytes: number): DiskCheckDetails => ({
  kind: 'disk',
  paths: [
    {
      path: '/x',
      statPath: '/x',
      exists: true,
      mountpoint: '/',
      fsType: 'ext4',
      availBytes,
      sizeBytes: 10,
      filesFree: 1,
      filesTotal: 2,
      warnFree: '20%',
      criticalFree: '10%',
      status: 'ok',
      message: '',
    },
  ],
});
const corrupt: CheckResult = {
  status: 'critical',
  summary: '1 of 1 caches corrupt',
  reasons: [{ code: 'cache-corrupt', message: '/c is corrupt' }],
  details: {},
};

// A host check the test answers by hand, one run at a time.
function manual(name: string) {
  const runs: { ctx: CheckContext; resolve: (r: CheckResult) => void }[] = [];
  const check: Check = { name, scope: 'host', run: (ctx) => new Promise((resolve) => runs.push({ ctx, resolve })) };
  return {
    check,
    runs,
    answer: async (r: CheckResult) => {
      await settle();
      runs[runs.length - 1].resolve(r);
      await settle();
    },
  };
}

function entryOf(check: Check): RunnerEntry {
  return { check, schedule: '* * * * *', jitterSeconds: 0, timeoutSeconds: 30, failuresBeforeCritical: 1 };
}

async function makeCore(config: AgentConfig, checks: Check[] | (() => Check[]), extra: AgentCoreOptions = {}) {
  const clock = new FakeClock();
  const created = await createAgentCore(config, {
    clock,
    scheduler: new FakeScheduler(),
    random: () => 0,
    host: 'build-07',
    buildChecks: async () => ({ entries: (typeof checks === 'function' ? checks() : checks).map(entryOf) }),
    ...extra,
  });
  if ('errors' in created) throw new Error(created.errors.join('\n'));
  return { core: created.core as RunningAgentCore, clock };
}

describe('core: verdicts across a restart', () => {
  it('never forgets a sick verdict and never accepts before checking', async () => {
    const config = configWith();
    const first = manual('blobinfocache');
    const a = await makeCore(config, [first.check]);
    a.core.start();
    await first.answer(corrupt);
    assert.equal((await a.core.preflight({})).decision, 'refuse');
    await a.core.stop();
    assert.ok(existsSync(join(config.stateDir, 'state.json')));

    const second = manual('blobinfocache');
    const b = await makeCore(config, [second.check]);
    const state = b.core.states()[0];
    assert.equal(state.status, 'critical', 'the persisted verdict is kept');
    assert.equal(state.runs, 0);
    const before = await b.core.preflight({});
    assert.equal(before.decision, 'refuse');
    assert.deepEqual(
      before.reasons.map((r) => r.code),
      ['not-yet-checked', 'cache-corrupt'],
    );
    b.core.start();
    await second.answer(ok);
    assert.equal((await b.core.preflight({})).decision, 'accept');
    await b.core.stop();

    // Healthy on disk now; a third start still refuses until the check has run.
    const third = manual('blobinfocache');
    const c = await makeCore(config, [third.check]);
    assert.equal(c.core.states()[0].status, 'ok');
    assert.deepEqual(
      (await c.core.preflight({})).reasons.map((r) => r.code),
      ['not-yet-checked'],
    );
    await c.core.stop();
  });

  it('keeps maintenance across a restart and clears it once expired', async () => {
    const config = configWith();
    const a = await makeCore(config, [manual('disk').check]);
    const set = await a.core.setMaintenance({
      reason: ' swapping disks ',
      expiresAt: new Date(a.clock.now().getTime() + 60_000),
      by: 'api',
    });
    assert.ok(set.ok);
    const m = set.maintenance;
    assert.equal(m.reason, 'swapping disks');
    assert.equal(m.since, a.clock.now().toISOString());
    await a.core.stop();

    const b = await makeCore(config, [manual('disk').check]);
    assert.deepEqual(b.core.maintenance(), m);
    const p = await b.core.preflight({});
    assert.equal(p.reasons[0].code, 'maintenance');
    await b.clock.advance(60_000);
    assert.equal(b.core.maintenance(), null);
    await b.core.stop();
    const onDisk = JSON.parse(readFileSync(join(config.stateDir, 'state.json'), 'utf8'));
    assert.equal(onDisk.maintenance, null, 'the expiry was written back');

    const c = await makeCore(config, [manual('disk').check]);
    await c.core.setMaintenance({ reason: 'x', expiresAt: new Date(c.clock.now().getTime() + 60_000), by: 'cli' });
    await c.core.clearMaintenance();
    assert.equal(c.core.maintenance(), null);
    await c.core.stop();
  });

  it('writes the state file when the verdict changes, not for new measurements alone', async () => {
    const config = configWith();
    const disk = manual('disk');
    const { core } = await makeCore(config, [disk.check]);
    const stored = () => JSON.parse(readFileSync(join(config.stateDir, 'state.json'), 'utf8')).checks.disk;
    core.start();
    await disk.answer({ ...ok, details: freeBytes(1) });
    const second = core.runChecks();
    await disk.answer({ ...ok, details: freeBytes(2) });
    assert.deepEqual((await second)[0].details, freeBytes(2));
    await core.stop();
    assert.deepEqual(stored().details, freeBytes(1), 'same verdict: not rewritten');
    const again = await makeCore(config, [disk.check]);
    again.core.start();
    await disk.answer(corrupt);
    await again.core.stop();
    assert.equal(stored().status, 'critical');
  });

  it('reads and writes no state file when persist is off', async () => {
    const config = configWith();
    const check = manual('disk');
    const { core } = await makeCore(config, [check.check], { persist: false });
    core.start();
    await check.answer(corrupt);
    await core.stop();
    assert.equal(existsSync(config.stateDir), false);
  });
});

describe('core: durable or honest', () => {
  it('a maintenance change the state file cannot hold is refused and undone; the problem shows until a write succeeds', async () => {
    const config = configWith();
    mkdirSync(config.stateDir, { recursive: true });
    // Fault injection with a real file system: a directory where the writer's temporary file
    // goes makes every write fail (EISDIR), as a full or read-only disk would.
    const blocker = join(config.stateDir, `.state.json.${process.pid}.tmp`);
    mkdirSync(blocker);
    const a = await makeCore(config, [manual('disk').check], { stateRetryMs: 50 });
    const set = await a.core.setMaintenance({
      reason: 'kernel update',
      expiresAt: new Date(a.clock.now().getTime() + 60_000),
      by: 'api',
    });
    assert.equal(set.ok, false);
    assert.ok(!set.ok && !set.noSpace && /could not be written, so nothing was changed/.test(set.message));
    assert.equal(a.core.maintenance(), null, 'the refused change is not in force either');
    assert.match(a.core.healthProblems().join(), /^state-write-failed: .*state\.json: EISDIR/);
    rmSync(blocker, { recursive: true });
    for (let i = 0; i < 100 && a.core.healthProblems().length > 0; i++) await sleep(20);
    assert.deepEqual(a.core.healthProblems(), [], 'a retried write clears the problem');
    const again = await a.core.setMaintenance({
      reason: 'kernel update',
      expiresAt: new Date(a.clock.now().getTime() + 60_000),
      by: 'api',
    });
    assert.ok(again.ok);
    await a.core.stop();
    const b = await makeCore(config, [manual('disk').check]);
    assert.equal(b.core.maintenance()?.reason, 'kernel update', 'what was answered 200 survives a restart');
    await b.core.stop();
  });

  it('refuses to start with a stateDir that is a regular file', async () => {
    const config = configWith();
    writeFileSync(config.stateDir, 'not a directory');
    const created = await createAgentCore(config, { buildChecks: async () => ({ entries: [] }) });
    assert.ok('errors' in created);
    assert.deepEqual(created.errors, [`stateDir ${config.stateDir}: exists and is not a directory`]);
  });
});

describe('core: preflight', () => {
  it('refreshes stale checks with one shared run and refuses unknown names', async () => {
    const config = configWith();
    const disk = manual('disk');
    const { core, clock } = await makeCore(config, [disk.check], { persist: false });
    core.start();
    await disk.answer(ok);
    await clock.advance(20_000);
    const fresh = await core.preflight({ maxAgeSeconds: 30 });
    assert.equal(disk.runs.length, 1);
    assert.equal(fresh.checks[0].ageSeconds, 20);
    const p1 = core.preflight({ maxAgeSeconds: 10 });
    const p2 = core.preflight({ maxAgeSeconds: 10 });
    await disk.answer(ok);
    const [a, b] = await Promise.all([p1, p2]);
    assert.equal(disk.runs.length, 2, 'two requests, one run');
    assert.equal(a.checks[0].ageSeconds, 0);
    assert.equal(b.decision, 'accept');
    const unknown = await core.preflight({ names: ['disk', 'dsik'] });
    assert.equal(unknown.decision, 'refuse');
    assert.deepEqual(
      unknown.reasons.map((r) => [r.check, r.code]),
      [['dsik', 'unknown-check']],
    );
    assert.equal(unknown.host, 'build-07');
    await core.stop();
  });
});

describe('core: reload', () => {
  it('keeps verdicts and counters of checks that stay, and keeps the old checks on a failed reload', async () => {
    const config = configWith();
    let generation = 0;
    const disk = manual('disk');
    const extra = manual('skopeo');
    const checks = () => (generation === 0 ? [disk.check] : [disk.check, extra.check]);
    const { core } = await makeCore(config, checks);
    core.start();
    await disk.answer(corrupt);
    const before = core.states()[0];
    assert.equal(before.runs, 1);

    generation = 1;
    const outcome = await core.reload(configWith('logLevel: debug'));
    assert.deepEqual(outcome, { ok: true });
    assert.deepEqual(core.checkNames(), ['disk', 'skopeo']);
    assert.equal(core.config().logLevel, 'debug');
    assert.equal(core.configReloadOk(), true);
    const carried = core.states()[0];
    assert.equal(carried.status, 'critical');
    await disk.answer(ok);
    await extra.answer(ok);
    assert.equal(core.states()[0].runs, 2, 'the counter continues');
    assert.equal(core.states()[0].statusChanges, 1);

    core.reloadFailed(['config.yaml: checks.disk.paths[0].warnFre: unknown key']);
    assert.equal(core.configReloadOk(), false);
    assert.deepEqual(core.checkNames(), ['disk', 'skopeo']);
    await core.stop();
  });

  it('reports a check module that cannot be built as an error, at start and at reload', async () => {
    const config = configWith();
    let fail = true;
    const build: AgentCoreOptions['buildChecks'] = async () =>
      fail ? { errors: ['checks.registries: checks/registry.ts could not be loaded'] } : { entries: [] };
    const created = await createAgentCore(config, { buildChecks: build, persist: false });
    assert.deepEqual(created, { errors: ['checks.registries: checks/registry.ts could not be loaded'] });
    fail = false;
    const made = await createAgentCore(config, { buildChecks: build, persist: false });
    assert.ok('core' in made);
    fail = true;
    const outcome = await made.core.reload(config);
    assert.equal(outcome.ok, false);
    assert.equal(made.core.configReloadOk(), false);
    await made.core.stop();
  });
});

describe('core: quarantine', () => {
  it('moves a corrupt cache aside with the remediation modules and checks again', async () => {
    const cacheDir = join(root, 'quarantine-cache');
    mkdirSync(cacheDir);
    writeFileSync(join(cacheDir, 'blob-info-cache-v1.boltdb'), Buffer.alloc(8192, 0x5a));
    const config = configWith(
      `checks: { blobinfocache: { dirs: [${cacheDir}], discoverUsers: false }, skopeo: { enabled: false } }`,
    );
    const { core } = await makeCore(config, [], { persist: false });
    const report = (await core.quarantine('api')) as {
      results: { result: string; newPath: string | null }[];
      audit: { actor: string }[];
    };
    assert.deepEqual(
      report.results.map((r) => r.result),
      ['quarantined'],
      JSON.stringify(report),
    );
    assert.equal(report.audit[0].actor, 'api');
    assert.equal(existsSync(join(cacheDir, 'blob-info-cache-v1.boltdb')), false);
    assert.equal(readdirSync(cacheDir).filter((f) => f.includes('.corrupt-')).length, 1);
    await core.stop();
  });

  // The field bug: POST /v1/caches/quarantine arriving while the scheduled verification had the
  // file open (then in the agent's own worker thread, now in its verification child) was refused
  // as busy by the agent itself.
  it('waits for a blob-cache run in flight instead of finding the agent itself holding the file', async () => {
    const cacheDir = join(root, 'quarantine-during-verify');
    mkdirSync(cacheDir);
    const file = join(cacheDir, 'blob-info-cache-v1.boltdb');
    writeFileSync(file, Buffer.alloc(8192, 0x5a));
    const config = configWith(
      `checks: { blobinfocache: { dirs: [${cacheDir}], discoverUsers: false }, skopeo: { enabled: false } }`,
    );
    // A blob-cache check that, like the real one, keeps the file open while it verifies; wrapped
    // by the environment's cacheExclusive exactly as buildChecksFromConfig wraps the real check.
    const verifying = manual('blobinfocache');
    const holding: Check = {
      ...verifying.check,
      run: async (ctx) => {
        const fd = openSync(file, 'r');
        try {
          return await verifying.check.run(ctx);
        } finally {
          closeSync(fd);
        }
      },
    };
    const { core } = await makeCore(config, [], {
      persist: false,
      buildChecks: async (_config, env) => ({
        entries: [entryOf({ ...holding, run: (ctx) => env.cacheExclusive(() => holding.run(ctx)) })],
      }),
    });
    core.start();
    await settle();
    assert.equal(verifying.runs.length, 1, 'the verification is in flight');
    const quarantined = core.quarantine('api') as Promise<{ results: { result: string }[] }>;
    // Give an unserialised quarantine ample time to reach its /proc scan (and say busy) while the
    // file is held; serialised, it cannot even start before the verification ends.
    const early = await Promise.race([quarantined.then(() => 'finished'), sleep(1500).then(() => 'waiting')]);
    assert.equal(early, 'waiting', 'the quarantine waits for the verification in flight');
    assert.ok(existsSync(file), 'nothing moves while the verification holds the file');
    await verifying.answer(corrupt);
    const report = await quarantined;
    assert.deepEqual(
      report.results.map((r) => r.result),
      ['quarantined'],
      JSON.stringify(report),
    );
    await settle();
    verifying.runs.at(-1)?.resolve(ok);
    await core.stop();
  });
});

describe('createExclusive', () => {
  it('runs jobs one at a time, in order, and a failed job does not block the next', async () => {
    const exclusive = createExclusive();
    const events: string[] = [];
    let release!: () => void;
    const first = exclusive(
      () =>
        new Promise<void>((r) => {
          events.push('first start');
          release = () => {
            events.push('first end');
            r();
          };
        }),
    );
    const second = exclusive(async () => {
      events.push('second');
      throw new Error('boom');
    });
    const third = exclusive(async () => {
      events.push('third');
      return 3;
    });
    await settle();
    assert.deepEqual(events, ['first start']);
    release();
    await first;
    await assert.rejects(second, /boom/);
    assert.equal(await third, 3);
    assert.deepEqual(events, ['first start', 'first end', 'second', 'third']);
  });
});

describe('core: change-driven verification', () => {
  // The real blob-cache check, its child verifier and the directory watcher; no schedule ever
  // fires (FakeScheduler), so every run after the first is a request or a write the agent saw.
  it('a corrupting write refuses within seconds without a scheduled run; an unchanged cache is answered from its stamp', async () => {
    const cacheDir = join(root, 'watched-cache');
    mkdirSync(cacheDir);
    const file = join(cacheDir, 'blob-info-cache-v1.boltdb');
    const healthy = join(import.meta.dirname, '../fixtures/bolt/boltref-4096-healthy.boltdb');
    copyFileSync(healthy, file);
    const config = configWith(
      `checks: { blobinfocache: { dirs: [${cacheDir}], discoverUsers: false }, skopeo: { enabled: false }, disk: { enabled: false }, registries: { enabled: false } }`,
    );
    const created = await createAgentCore(config, {
      scheduler: new FakeScheduler(),
      random: () => 0,
      host: 'build-07',
      persist: false,
    });
    if ('errors' in created) throw new Error(created.errors.join('\n'));
    const core = created.core;
    const until = async (decision: string, ms: number): Promise<number> => {
      const t0 = Date.now();
      for (;;) {
        const p = await core.preflight({});
        if (p.decision === decision) return Date.now() - t0;
        if (Date.now() - t0 > ms) throw new Error(`still ${p.decision} after ${ms} ms: ${JSON.stringify(p.reasons)}`);
        await sleep(50);
      }
    };
    try {
      core.start();
      await until('accept', 20_000);
      await sleep(1100); // past the racy window of the file's ctime
      const fresh = await core.preflight({ maxAgeSeconds: 0, names: ['blobinfocache'] });
      const details = fresh.checks[0].details as unknown as BlobCacheDetails;
      assert.equal(details.trigger, 'request');
      assert.equal(details.caches[0].verdict, 'healthy');
      // The first request after start may still find the stamp read at start too young; the
      // next one is answered from the stamp. (max_age=0 runs what is older than 0 s: a moment.)
      await sleep(20);
      const again = (await core.preflight({ maxAgeSeconds: 0, names: ['blobinfocache'] })).checks[0]
        .details as unknown as BlobCacheDetails;
      assert.equal(again.caches[0].unchanged, true, 'unchanged: no new verification');
      assert.equal(again.verifications.skippedUnchanged, 1);

      // In-place damage of the tree's root page: no meta page touched, the same size.
      const bytes = readFileSync(file);
      const reading = readBoltMetas(bufferReadAt(bytes), bytes.length);
      assert.equal(reading.kind, 'ok');
      if (reading.kind !== 'ok') return;
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.from([0x04, 0x00]), 0, 2, Number(reading.meta.root) * reading.pageSize + 8);
      closeSync(fd);
      const refusedAfter = await until('refuse', 5000);
      const state = core.states().find((s) => s.name === 'blobinfocache')!;
      assert.equal((state.details as unknown as BlobCacheDetails).trigger, 'write');
      assert.deepEqual(
        state.reasons.map((r) => r.code),
        ['cache-corrupt'],
      );
      // A healthy file renamed over it: accepted again, also without a schedule.
      copyFileSync(healthy, `${file}.new`);
      renameSync(`${file}.new`, file);
      await until('accept', 5000);
      assert.ok(refusedAfter < 5000);
    } finally {
      await core.stop();
    }
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const jsonAt = async (url: string): Promise<any> => (await fetch(url)).json();

describe('core: the event history', () => {
  it('survives a restart and shows a status change, a maintenance and a quarantine, over GET /v1/events', async () => {
    const cacheDir = join(root, 'events-cache');
    mkdirSync(cacheDir);
    writeFileSync(join(cacheDir, 'blob-info-cache-v1.boltdb'), Buffer.alloc(8192, 0x5a));
    const config = configWith(
      `checks: { blobinfocache: { dirs: [${cacheDir}], discoverUsers: false }, skopeo: { enabled: false } }`,
    );
    const disk = manual('disk');
    const a = await makeCore(config, [disk.check]);
    a.core.start();
    await disk.answer(ok);
    a.core.runChecks();
    await disk.answer(corrupt);
    assert.ok(
      (
        await a.core.setMaintenance({
          reason: 'disk swap',
          expiresAt: new Date(a.clock.now().getTime() + 3600_000),
          by: 'api',
        })
      ).ok,
    );
    assert.ok((await a.core.clearMaintenance('cli')).ok);
    const report = await a.core.quarantine('api');
    assert.ok('results' in report && report.results[0].result === 'quarantined', JSON.stringify(report));
    await a.core.stop();

    const b = await makeCore(config, [manual('disk').check]);
    b.core.start();
    const srv = await serveForTest(b.core);
    try {
      const all = await jsonAt(`${srv.base}/v1/events`);
      const types = all.events.map((e: { type: string }) => e.type);
      assert.deepEqual(types, [
        'agent-started',
        'status-changed',
        'maintenance-set',
        'maintenance-cleared',
        'quarantine',
        'agent-started',
      ]);
      const [, change, set, cleared, moved] = all.events;
      assert.deepEqual(
        [change.check, change.from, change.to, change.reasons[0].code],
        ['disk', 'ok', 'critical', 'cache-corrupt'],
      );
      assert.deepEqual([set.reason, set.by, cleared.by], ['disk swap', 'api', 'cli']);
      assert.equal(moved.path, join(cacheDir, 'blob-info-cache-v1.boltdb'));
      assert.match(moved.newPath, /\.corrupt-/);
      assert.equal(moved.audit.actor, 'api');
      assert.ok(
        all.events.every((e: { id: number }, i: number) => i === 0 || e.id > all.events[i - 1].id),
        'ids increase across the restart',
      );

      const page = await jsonAt(`${srv.base}/v1/events?since=${change.id}&limit=2`);
      assert.deepEqual(
        page.events.map((e: { id: number }) => e.id),
        [set.id, cleared.id],
      );
      assert.equal(page.more, true);
      const byTime = await jsonAt(`${srv.base}/v1/events?since=${encodeURIComponent(moved.time)}`);
      assert.ok(byTime.events.every((e: { time: string }) => e.time > moved.time));
      assert.equal((await fetch(`${srv.base}/v1/events?limit=0`)).status, 400);
      assert.equal((await fetch(`${srv.base}/v1/events?since=yesterday`)).status, 400);
      assert.equal((await fetch(`${srv.base}/v1/events?sinse=1`)).status, 400);

      const metrics = await (await fetch(`${srv.base}/metrics`)).text();
      assert.match(metrics, /^buildfleet_events_total\{type="agent-started"\} 1$/m, 'counted since this agent started');
      assert.match(metrics, /^buildfleet_events_total\{type="quarantine"\} 0$/m);
    } finally {
      await srv.stop();
      await b.core.stop();
    }
  });
});
