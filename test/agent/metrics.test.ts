// /metrics from the agent's real server: every family of the conventions with its type and
// labels, fed from check details; no stale series; OpenMetrics negotiation; promtool's linter.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryCore, controllableCheck, critical, ok } from './http/in-memory-core.ts';
import { serveForTest } from './http/serve-for-test.ts';
import { chooseExpositionFormat, createAgentMetrics } from '../../agent/metrics.ts';
import { parseStateText } from '../../agent/state-store.ts';
import { cacheDetail as cache } from '../support/cache-detail.ts';
import { stateFromPersisted } from '../../agent/check-state.ts';
import { needTools } from '../support/tools.ts';
import type { SkopeoCheckDetails } from '../../checks/skopeo.ts';
import type { DiskCheckDetails } from '../../checks/disk.ts';
import type { RegistryCheckDetails } from '../../checks/registry.ts';
import type { BlobCacheDetails } from '../../checks/blobcache/check.ts';
import { freePort } from '../support/registry.ts';

// The contract of docs/conventions.md: name (without the buildfleet_ prefix) -> type, labels.
const contract: Record<string, { type: 'gauge' | 'counter'; labels: string[] }> = {
  build_info: { type: 'gauge', labels: ['version', 'nodejs_version'] },
  admission_state: { type: 'gauge', labels: ['state'] },
  maintenance_enabled: { type: 'gauge', labels: [] },
  config_reload_success: { type: 'gauge', labels: [] },
  config_last_reload_success_timestamp_seconds: { type: 'gauge', labels: [] },
  check_status: { type: 'gauge', labels: ['check', 'status'] },
  check_last_run_timestamp_seconds: { type: 'gauge', labels: ['check'] },
  check_duration_seconds: { type: 'gauge', labels: ['check'] },
  check_runs_total: { type: 'counter', labels: ['check'] },
  check_failures_total: { type: 'counter', labels: ['check'] },
  check_timeouts_total: { type: 'counter', labels: ['check'] },
  check_status_changes_total: { type: 'counter', labels: ['check'] },
  skopeo_info: { type: 'gauge', labels: ['version', 'blobinfocache_format'] },
  skopeo_version_policy_satisfied: { type: 'gauge', labels: [] },
  blobinfocache_healthy: { type: 'gauge', labels: ['path', 'format'] },
  blobinfocache_verdict: { type: 'gauge', labels: ['path', 'format', 'verdict'] },
  blobinfocache_problems: { type: 'gauge', labels: ['path', 'format'] },
  blobinfocache_size_bytes: { type: 'gauge', labels: ['path', 'format'] },
  blobinfocache_verify_duration_seconds: { type: 'gauge', labels: ['path', 'format'] },
  blobinfocache_in_use: { type: 'gauge', labels: ['path', 'format'] },
  blobinfocache_quarantined_total: { type: 'counter', labels: ['format'] },
  blobinfocache_last_verified_timestamp_seconds: { type: 'gauge', labels: ['path', 'format'] },
  blobinfocache_last_changed_timestamp_seconds: { type: 'gauge', labels: ['path', 'format'] },
  blobinfocache_verifications_total: { type: 'counter', labels: ['trigger'] },
  blobinfocache_verifications_skipped_total: { type: 'counter', labels: [] },
  events_total: { type: 'counter', labels: ['type'] },
  disk_avail_bytes: { type: 'gauge', labels: ['path', 'mountpoint'] },
  disk_size_bytes: { type: 'gauge', labels: ['path', 'mountpoint'] },
  disk_files_free: { type: 'gauge', labels: ['path', 'mountpoint'] },
  disk_files: { type: 'gauge', labels: ['path', 'mountpoint'] },
  registry_probe_success: { type: 'gauge', labels: ['registry'] },
  registry_probe_duration_seconds: { type: 'gauge', labels: ['registry', 'phase'] },
  registry_http_status_code: { type: 'gauge', labels: ['registry'] },
  registry_tls_cert_expiry_timestamp_seconds: { type: 'gauge', labels: ['registry'] },
  registry_probe_failure_info: { type: 'gauge', labels: ['registry', 'reason'] },
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// Enough of the text format for these assertions (our label values hold no escaped quotes).
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `sample line parses: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { types, samples };
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === `buildfleet_${name}` && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

const boltPath = '/var/lib/containers/cache/blob-info-cache-v1.boltdb';
const sqlitePath = '/var/lib/containers/cache/blob-info-cache-v1.sqlite';

const skopeoDetails: SkopeoCheckDetails = {
  kind: 'skopeo',
  minVersion: '1.14.0',
  recommendedVersion: null,
  deny: [],
  binaries: [
    {
      binary: 'skopeo',
      path: '/usr/bin/skopeo',
      version: '1.9.3',
      commit: null,
      cacheFormat: 'boltdb',
      policySatisfied: false,
      code: 'skopeo-below-minimum',
      error: '/usr/bin/skopeo: 1.9.3 is below 1.14.0',
    },
  ],
};
const diskDetails: DiskCheckDetails = {
  kind: 'disk',
  paths: [
    {
      path: '/var/lib/containers',
      statPath: '/var/lib/containers',
      exists: true,
      mountpoint: '/',
      fsType: 'ext4',
      availBytes: 5e9,
      sizeBytes: 2e10,
      filesFree: 100000,
      filesTotal: 200000,
      warnFree: '20%',
      criticalFree: '10%',
      status: 'ok',
      message: 'ok',
    },
  ],
};
const registryDetails = (withQuay: boolean): RegistryCheckDetails => ({
  kind: 'registry',
  registries: [
    {
      name: 'harbor',
      url: 'https://harbor.example.com',
      success: true,
      reason: null,
      httpStatus: 401,
      phases: { resolve: 0.001, connect: 0.002, tls: 0.01, total: 0.02 },
      certNotAfter: Date.parse('2027-01-01T00:00:00.000Z') / 1000,
      credentialsVerified: null,
      message: 'ok',
    },
    ...(withQuay
      ? [
          {
            name: 'quay',
            url: 'https://quay.example.com',
            success: false,
            reason: 'connect' as const,
            httpStatus: null,
            phases: { resolve: 0.001, connect: null, tls: null, total: 0.003 },
            certNotAfter: null,
            credentialsVerified: null,
            message: 'refused',
          },
        ]
      : []),
  ],
});
const cacheDetails = (withSqlite: boolean, quarantined: BlobCacheDetails['quarantined'] = []): BlobCacheDetails => ({
  kind: 'blobinfocache',
  skopeoVersion: '1.9.3',
  cacheFormatInUse: 'boltdb',
  interrupted: [],
  audit: [],
  caches: [
    // Damaged beyond recognition: the content says unknown, the name says boltdb.
    cache(boltPath, {
      formatByName: 'boltdb',
      format: 'unknown',
      verdict: 'corrupt',
      problems: [{ code: 'page-type-invalid', page: 6, message: 'x' }],
      sizeBytes: 32768,
      verifyDurationMs: 41,
      inUse: true,
      verifiedAt: '2026-11-28T10:00:00.000Z',
      changedAt: '2026-11-28T09:59:58.500Z',
    }),
    ...(withSqlite
      ? [
          cache(sqlitePath, {
            formatByName: 'sqlite',
            format: 'sqlite',
            verdict: 'healthy',
            sizeBytes: 8192,
            verifyDurationMs: 3,
            inUse: false,
          }),
        ]
      : []),
    // Refused (a symlink): not verified, so no health series.
    cache('/home/u/.local/share/containers/cache/blob-info-cache-v1.boltdb', {
      formatByName: 'boltdb',
      inUse: true,
      refused: 'symlink',
    }),
  ],
  quarantined,
  trigger: 'write',
  verifications: { verified: { schedule: 7, write: 3, request: 1, full: 0 }, skippedUnchanged: 40 },
});

function fleetOfChecks() {
  const skopeo = controllableCheck('skopeo', 'host', critical('skopeo-below-minimum', '1.9.3 < 1.14.0', skopeoDetails));
  const disk = controllableCheck('disk', 'host', ok('fine', diskDetails));
  const registries = controllableCheck(
    'registries',
    'shared',
    critical('registry-connect', 'quay: refused', registryDetails(true)),
  );
  const cache = controllableCheck(
    'blobinfocache',
    'host',
    critical('cache-corrupt', '1 of 2 corrupt', cacheDetails(true)),
  );
  const core = new InMemoryCore([skopeo.check, disk.check, registries.check, cache.check]);
  return { core, skopeo, disk, registries, cache };
}

describe('every metric of the conventions, from check details', () => {
  const f = fleetOfChecks();
  let srv: Awaited<ReturnType<typeof serveForTest>>;
  let scrape: () => Promise<ReturnType<typeof parseExposition>>;
  before(async () => {
    srv = await serveForTest(f.core);
    scrape = async () => parseExposition(await (await fetch(`${srv.base}/metrics`)).text());
    srv.metrics.recordConfigLoad(true, new Date('2026-11-28T10:00:00Z'));
    await f.core.runChecks();
  });
  after(() => srv.stop());

  test('each family exists with its type and exactly its labels', async () => {
    const { types, samples } = await scrape();
    for (const [name, spec] of Object.entries(contract)) {
      const family = spec.type === 'counter' ? name.replace(/_total$/, '') : name;
      const declared = types.get(`buildfleet_${name}`) ?? types.get(`buildfleet_${family}`);
      assert.equal(declared, spec.type, `${name} type`);
      const series = find(samples, name);
      assert.ok(series.length > 0, `${name} has series`);
      for (const s of series) assert.deepEqual(Object.keys(s.labels).sort(), [...spec.labels].sort(), `${name} labels`);
    }
    assert.ok(
      samples.some((s) => s.name === 'process_cpu_user_seconds_total'),
      'default process metrics keep their names',
    );
    assert.ok(
      samples.some((s) => s.name.startsWith('nodejs_')),
      'default nodejs metrics',
    );
    assert.ok(!samples.some((s) => s.name.startsWith('buildfleet_process') || s.name.startsWith('buildfleet_nodejs')));
  });

  test('values follow the check states and details', async () => {
    const { samples } = await scrape();
    const value = (name: string, labels: Record<string, string> = {}) => {
      const s = find(samples, name, labels);
      assert.equal(s.length, 1, `${name} ${JSON.stringify(labels)}: one series`);
      return s[0].value;
    };
    assert.equal(value('admission_state', { state: 'refusing' }), 1);
    assert.equal(value('admission_state', { state: 'accepting' }), 0);
    assert.equal(value('admission_state', { state: 'degraded' }), 0);
    assert.equal(value('check_status', { check: 'disk', status: 'ok' }), 1);
    assert.equal(value('check_status', { check: 'disk', status: 'critical' }), 0);
    assert.equal(value('check_status', { check: 'registries', status: 'critical' }), 1);
    assert.equal(value('check_runs_total', { check: 'disk' }), 1);
    assert.equal(value('check_failures_total', { check: 'registries' }), 1);
    assert.equal(value('check_failures_total', { check: 'disk' }), 0);
    const lastRun = f.core.stateByName.get('disk')?.observedAt?.getTime() ?? 0;
    assert.equal(value('check_last_run_timestamp_seconds', { check: 'disk' }), lastRun / 1000);
    assert.equal(value('skopeo_info', { version: '1.9.3', blobinfocache_format: 'boltdb' }), 1);
    assert.equal(value('skopeo_version_policy_satisfied'), 0);
    assert.equal(value('blobinfocache_healthy', { path: boltPath, format: 'boltdb' }), 0);
    assert.equal(value('blobinfocache_healthy', { path: sqlitePath, format: 'sqlite' }), 1);
    assert.equal(value('blobinfocache_problems', { path: boltPath }), 1);
    assert.equal(value('blobinfocache_size_bytes', { path: boltPath }), 32768);
    assert.equal(value('blobinfocache_verify_duration_seconds', { path: boltPath }), 0.041);
    assert.equal(value('blobinfocache_in_use', { path: boltPath }), 1);
    assert.equal(value('blobinfocache_in_use', { path: sqlitePath }), 0);
    assert.equal(
      value('blobinfocache_last_verified_timestamp_seconds', { path: boltPath, format: 'boltdb' }),
      Date.parse('2026-11-28T10:00:00Z') / 1000,
    );
    assert.equal(
      value('blobinfocache_last_changed_timestamp_seconds', { path: boltPath, format: 'boltdb' }),
      Date.parse('2026-11-28T09:59:58.500Z') / 1000,
    );
    assert.equal(
      find(samples, 'blobinfocache_last_verified_timestamp_seconds', { path: sqlitePath }).length,
      0,
      'no time given, no series',
    );
    assert.equal(value('blobinfocache_verifications_total', { trigger: 'schedule' }), 7);
    assert.equal(value('blobinfocache_verifications_total', { trigger: 'write' }), 3);
    assert.equal(value('blobinfocache_verifications_total', { trigger: 'full' }), 0);
    assert.equal(value('blobinfocache_verifications_skipped_total'), 40);
    // A refused cache was never read: not healthy, and its verdict is unverified (never absent,
    // or the host's accept/refuse and its metrics would disagree).
    const refused = '/home/u/.local/share/containers/cache/blob-info-cache-v1.boltdb';
    assert.equal(value('blobinfocache_healthy', { path: refused }), 0);
    assert.equal(value('blobinfocache_verdict', { path: refused, verdict: 'unverified' }), 1);
    assert.equal(value('blobinfocache_verdict', { path: refused, verdict: 'healthy' }), 0);
    assert.equal(value('blobinfocache_verdict', { path: boltPath, format: 'boltdb', verdict: 'corrupt' }), 1);
    assert.equal(value('blobinfocache_verdict', { path: sqlitePath, format: 'sqlite', verdict: 'healthy' }), 1);
    assert.equal(find(samples, 'blobinfocache_verdict', { path: sqlitePath }).length, 3, 'one series per verdict');
    assert.equal(value('disk_avail_bytes', { path: '/var/lib/containers', mountpoint: '/' }), 5e9);
    assert.equal(value('disk_size_bytes', { path: '/var/lib/containers' }), 2e10);
    assert.equal(value('disk_files_free', { path: '/var/lib/containers' }), 100000);
    assert.equal(value('disk_files', { path: '/var/lib/containers' }), 200000);
    assert.equal(value('registry_probe_success', { registry: 'harbor' }), 1);
    assert.equal(value('registry_probe_success', { registry: 'quay' }), 0);
    assert.equal(value('registry_probe_duration_seconds', { registry: 'harbor', phase: 'tls' }), 0.01);
    assert.equal(
      find(samples, 'registry_probe_duration_seconds', { registry: 'quay' }).length,
      2,
      'phases that did not happen are absent',
    );
    assert.equal(value('registry_http_status_code', { registry: 'harbor' }), 401);
    assert.equal(find(samples, 'registry_http_status_code', { registry: 'quay' }).length, 0);
    assert.equal(
      value('registry_tls_cert_expiry_timestamp_seconds', { registry: 'harbor' }),
      Date.parse('2027-01-01T00:00:00Z') / 1000,
    );
    assert.equal(value('registry_probe_failure_info', { registry: 'quay', reason: 'connect' }), 1);
    assert.equal(find(samples, 'registry_probe_failure_info', { registry: 'harbor' }).length, 0);
    assert.equal(value('config_reload_success'), 1);
    assert.equal(value('config_last_reload_success_timestamp_seconds'), Date.parse('2026-11-28T10:00:00Z') / 1000);
  });

  test('a failed reload says so and keeps the last good time', async () => {
    srv.metrics.recordConfigLoad(false, new Date('2026-11-28T11:00:00Z'));
    const { samples } = await scrape();
    assert.equal(find(samples, 'config_reload_success')[0].value, 0);
    assert.equal(
      find(samples, 'config_last_reload_success_timestamp_seconds')[0].value,
      Date.parse('2026-11-28T10:00:00Z') / 1000,
    );
    srv.metrics.recordConfigLoad(true, new Date('2026-11-28T12:00:00Z'));
  });

  test('series of a cache or registry that disappeared are removed', async () => {
    f.cache.set(critical('cache-corrupt', '1 of 1 corrupt', cacheDetails(false)));
    f.registries.set(ok('harbor fine', registryDetails(false)));
    await f.core.runChecks(['blobinfocache', 'registries']);
    const { samples } = await scrape();
    for (const name of [
      'blobinfocache_healthy',
      'blobinfocache_problems',
      'blobinfocache_size_bytes',
      'blobinfocache_in_use',
    ]) {
      assert.equal(find(samples, name, { path: sqlitePath }).length, 0, name);
      assert.equal(find(samples, name, { path: boltPath }).length, 1, name);
    }
    for (const name of ['registry_probe_success', 'registry_probe_duration_seconds', 'registry_probe_failure_info']) {
      assert.equal(find(samples, name, { registry: 'quay' }).length, 0, name);
    }
    assert.equal(find(samples, 'admission_state', { state: 'refusing' })[0].value, 1);
  });

  test('quarantined caches are counted once per observation', async () => {
    const moved = { path: boltPath, formatByName: 'boltdb' as const, newPath: `${boltPath}.corrupt-1` };
    f.cache.set(ok('quarantined and clean', { ...cacheDetails(false), quarantined: [moved] }));
    await f.core.runChecks(['blobinfocache']);
    let { samples } = await scrape();
    assert.equal(find(samples, 'blobinfocache_quarantined_total', { format: 'boltdb' })[0].value, 1);
    ({ samples } = await scrape());
    assert.equal(
      find(samples, 'blobinfocache_quarantined_total', { format: 'boltdb' })[0].value,
      1,
      'a second scrape does not count again',
    );
    await new Promise((r) => setTimeout(r, 5)); // a distinct observation time
    await f.core.runChecks(['blobinfocache']);
    ({ samples } = await scrape());
    assert.equal(find(samples, 'blobinfocache_quarantined_total', { format: 'boltdb' })[0].value, 2);
  });

  test('promtool check metrics finds nothing to complain about', async (t) => {
    if (!needTools(t, 'promtool')) return;
    const text = await (await fetch(`${srv.base}/metrics`)).text();
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
    assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '');
  });
});

describe('OpenMetrics', () => {
  const prometheusAccept =
    'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

  test('chosen when asked for, the text format otherwise', () => {
    assert.equal(chooseExpositionFormat(prometheusAccept), 'openmetrics');
    assert.equal(chooseExpositionFormat('application/openmetrics-text; version=1.0.0; charset=utf-8'), 'openmetrics');
    assert.equal(chooseExpositionFormat(undefined), 'text');
    assert.equal(chooseExpositionFormat('*/*'), 'text');
    assert.equal(chooseExpositionFormat('text/plain;version=0.0.4'), 'text');
    assert.equal(chooseExpositionFormat('text/plain;q=1,application/openmetrics-text;q=0.2'), 'text');
    assert.equal(chooseExpositionFormat('application/openmetrics-text;q=0'), 'text');
  });

  test('served with its content type and # EOF, without breaking the text format afterwards', async (t) => {
    const f = fleetOfChecks();
    await f.core.runChecks();
    const srv = await serveForTest(f.core);
    try {
      const res = await fetch(`${srv.base}/metrics`, { headers: { accept: prometheusAccept } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0; charset=utf-8');
      const om = await res.text();
      assert.ok(om.endsWith('# EOF\n'));
      assert.match(om, /^# TYPE buildfleet_check_runs counter$/m);
      assert.match(om, /^buildfleet_check_runs_total\{check="disk"\} 1$/m);
      // The text format keeps `_total` in its TYPE lines after an OpenMetrics scrape.
      const text = await (await fetch(`${srv.base}/metrics`)).text();
      assert.match(text, /^# TYPE buildfleet_check_runs_total counter$/m);
      assert.ok(!text.includes('# EOF'));
      if (!needTools(t, 'promtool')) return;
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
    } finally {
      await srv.stop();
    }
  });
});

// Details are typed everywhere except where the state file (possibly an older agent's, or
// damaged) is read back: the loader keeps what it can and drops what it cannot read.
test('details restored from a state file of unexpected shape drop their series instead of failing the scrape', async () => {
  const odd = {
    binaries: { binaries: 'not a list' },
    disk: { paths: [{ path: 7 }, null, { path: '/x', availBytes: 'lots', status: 'ok' }] },
    registry: {
      registries: [
        { name: 'r', success: false, reason: 'Connection refused: ECONNREFUSED 10.0.0.1:443', phases: 'none' },
      ],
    },
    cache: {
      caches: [
        { nopath: true },
        { path: '/c', verdict: 'weird', problems: 'many' },
        { path: '/d' },
        { path: '/e', verdict: 'corrupt', problems: [{ code: 'x', message: 'y' }] },
      ],
    },
  };
  const persisted = (details: unknown) => ({
    scope: 'host',
    status: 'ok',
    rawStatus: 'ok',
    summary: 'odd',
    reasons: [],
    details,
    observedAt: '2026-11-28T10:00:00.000Z',
    durationMs: 1,
    consecutiveFailures: 0,
  });
  const loaded = parseStateText(
    JSON.stringify({ version: 1, checks: Object.fromEntries(Object.entries(odd).map(([k, v]) => [k, persisted(v)])) }),
    new Date('2026-11-28T10:01:00.000Z'),
  );
  assert.equal(loaded.problem, null);
  const checks = Object.keys(odd).map((name) => controllableCheck(name, 'host', ok('odd')).check);
  const core = new InMemoryCore(checks);
  for (const c of checks) core.stateByName.set(c.name, stateFromPersisted(c, loaded.state.checks[c.name]));
  const metrics = createAgentMetrics(core);
  const { body } = await metrics.render(undefined);
  const { samples } = parseExposition(body.toString());
  assert.equal(find(samples, 'skopeo_info').length, 0);
  assert.equal(find(samples, 'disk_avail_bytes').length, 0);
  assert.equal(find(samples, 'disk_size_bytes').length, 0, 'the path without numbers has no series');
  assert.equal(
    find(samples, 'registry_probe_failure_info')[0].labels.reason,
    'other',
    'free text never becomes a label',
  );
  // A verdict outside the set was looked at but not judged: not healthy, unverified (never absent).
  assert.equal(find(samples, 'blobinfocache_healthy', { path: '/c' })[0].value, 0, 'an unknown verdict is not healthy');
  assert.equal(find(samples, 'blobinfocache_verdict', { path: '/c', verdict: 'unverified' })[0].value, 1);
  assert.equal(find(samples, 'blobinfocache_healthy', { path: '/d' }).length, 0, 'no verdict, no series');
  assert.equal(find(samples, 'blobinfocache_healthy', { path: '/e' })[0].value, 0);
  assert.equal(find(samples, 'blobinfocache_problems', { path: '/e' })[0].value, 1);
});

test('renders within the cache window share one rendering', async () => {
  const f = fleetOfChecks();
  await f.core.runChecks();
  const metrics = createAgentMetrics(f.core, { renderCacheMs: 60_000 });
  const a = await metrics.render(undefined);
  const calls = f.core.preflightCalls;
  const b = await metrics.render(undefined);
  assert.equal(a.body, b.body, 'the same bytes');
  assert.equal(f.core.preflightCalls, calls, 'served from the cache');
  const om = await metrics.render('application/openmetrics-text');
  assert.ok(om.body.toString().endsWith('# EOF\n'), 'each format has its own cache');
  // A new check state invalidates the cache: the next scrape shows it.
  f.disk.set(critical('disk-free-critical', 'full', {}));
  const [disk] = await f.core.runChecks(['disk']);
  metrics.observeState(disk);
  const c = await metrics.render(undefined);
  assert.match(c.body.toString(), /^buildfleet_check_status\{check="disk",status="critical"\} 1$/m);
  assert.match(a.body.toString(), /^buildfleet_check_status\{check="disk",status="ok"\} 1$/m);
});

// The strictest OpenMetrics reader at hand is Prometheus itself: it scrapes the agent (asking for
// OpenMetrics first, as it always does) and must ingest every series without an error.
test('a real Prometheus scrapes /metrics as OpenMetrics without errors', async (t) => {
  if (!needTools(t, 'prometheus')) return;
  const f = fleetOfChecks();
  await f.core.runChecks();
  const accepts: (string | undefined)[] = [];
  const inner = createAgentMetrics(f.core);
  const recording = {
    ...inner,
    render: (accept: string | undefined) => {
      accepts.push(accept);
      return inner.render(accept);
    },
  };
  const srv = await serveForTest(f.core, { metrics: recording });
  const dir = mkdtempSync(join(tmpdir(), 'bfa-prom-'));
  const webPort = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: agent
    static_configs: [ { targets: ["127.0.0.1:${srv.port}"] } ]
`,
  );
  const prom = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${webPort}`,
    ],
    { stdio: 'ignore' },
  );
  try {
    const api = `http://127.0.0.1:${webPort}/api/v1`;
    let target: { health: string; lastError: string } | undefined;
    for (let i = 0; i < 150 && target?.health !== 'up'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      try {
        const body = (await (await fetch(`${api}/targets`)).json()) as {
          data: { activeTargets: { health: string; lastError: string }[] };
        };
        target = body.data.activeTargets[0];
      } catch {
        // not listening yet
      }
    }
    assert.equal(target?.health, 'up', `scrape error: ${target?.lastError}`);
    assert.equal(target?.lastError, '');
    assert.ok(
      accepts.some((a) => chooseExpositionFormat(a) === 'openmetrics'),
      `Prometheus asked for: ${accepts[0]}`,
    );
    let result: unknown[] = [];
    for (let i = 0; i < 50 && result.length === 0; i++) {
      const q = (await (
        await fetch(`${api}/query?query=${encodeURIComponent('buildfleet_check_runs_total{check="disk"}')}`)
      ).json()) as { data: { result: unknown[] } };
      result = q.data.result;
      if (result.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(result.length, 1, 'the counter arrived under its _total name');
  } finally {
    prom.kill('SIGTERM');
    await new Promise((r) => prom.once('exit', r));
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
