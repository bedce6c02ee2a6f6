// The failure that started the project, end to end with the real programs only (docs/e2e.md):
// real skopeo 1.9.3 pushes to Debian's docker-registry on 127.0.0.1 and writes a real bolt
// blob-info cache; that cache is damaged the way the field saw it and skopeo panics; the bundled
// agent, run as a host runs it, refuses builds with `cache-corrupt`; a real Prometheus scrapes it
// and the cache alert goes pending, then firing; the cache is quarantined through the
// authenticated API; skopeo works again; the agent accepts again and the alert resolves.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { bundleAgent, repoRoot } from '../../deploy/build-bundle.ts';
import { ensureBoltref, referenceCheck } from '../support/boltref.ts';
import { writeOciImage, type OciImage } from '../support/oci-image.ts';
import { startRegistry, type RunningRegistry } from '../support/registry.ts';
import { boltCacheFile, runSkopeo, systemCacheDir, type SkopeoRunResult } from '../support/skopeo.ts';
import { needRoot, needTools } from '../support/tools.ts';
import { startBundledAgent, type BundledAgent } from './support/bundled-agent.ts';
import { pointKnownLocationsAtFreelist } from './support/damage-real-cache.ts';
import { pollUntil } from './support/poll.ts';
import { startPrometheus, type PrometheusAlert, type RunningPrometheus } from './support/prometheus-server.ts';

const alertName = 'BuildfleetCacheCorrupt';
const shortFor = '10s'; // the rule's `for:` in this test (2m in production)
const token = 'e2e-token-7f3c9a1d5b2e4f60';
const parallelCopies = 4;

// Everything the test starts, stopped in `after` even when an assertion fails midway.
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (err) {
      process.stderr.write(`e2e cleanup failed: ${String(err)}\n`);
    }
  }
});

// Phase timings, printed as test diagnostics (docs/e2e.md records a run).
const timings: { phase: string; ms: number }[] = [];
async function timed<T>(phase: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await work();
  } finally {
    timings.push({ phase, ms: Math.round(performance.now() - start) });
  }
}

// Response bodies are loosely typed JSON; the assertions check their shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const skopeoShown = (r: SkopeoRunResult) =>
  `exit ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}\n${r.stderr.slice(-3000)}`;

function pushArgs(registry: RunningRegistry, image: OciImage, repository: string): string[] {
  return ['copy', '--dest-tls-verify=false', image.reference, `docker://${registry.host}/${repository}:v1`];
}

// The cache rule with its `for:` shortened by the very command docs/alerts.md gives operators.
function fastRules(dir: string): string {
  const source = resolve(repoRoot, 'deploy/prometheus/rules/buildfleet-agent.rules.yml');
  const target = join(dir, 'fast.rules.yml');
  const sed = spawnSync('sed', ['-E', `s/^( {8}for:) [0-9]+[smh]$/\\1 ${shortFor}/`, source], { encoding: 'utf8' });
  assert.equal(sed.status, 0, `sed: ${sed.stderr}`);
  writeFileSync(target, sed.stdout);
  const rules = (parse(sed.stdout) as { groups: { rules: { alert?: string; for?: string }[] }[] }).groups.flatMap(
    (g) => g.rules,
  );
  assert.equal(
    rules.find((r) => r.alert === alertName)?.for,
    shortFor,
    `the sed of docs/alerts.md shortened ${alertName}`,
  );
  return target;
}

function agentConfig(o: {
  stateDir: string;
  tokenFile: string;
  cacheDir: string;
  skopeo: string;
  registry: RunningRegistry;
  diskPath: string;
}): string {
  // The 6-field cron form (seconds first): every check runs every few seconds, so the story
  // needs no waiting for minutes; jitter off so a run is never delayed past the next tick.
  return `listen: "127.0.0.1:0"
stateDir: ${o.stateDir}
logLevel: info
auth:
  tokenFile: ${o.tokenFile}
checks:
  skopeo:
    binaries: [${o.skopeo}]
    minVersion: "1.9.0"
    schedule: "*/5 * * * * *"
    jitterSeconds: 0
  blobinfocache:
    dirs: [${o.cacheDir}]
    discoverUsers: false
    autoQuarantine: false
    schedule: "*/2 * * * * *"
    fullSchedule: null
    jitterSeconds: 0
  disk:
    paths:
      - { path: ${o.diskPath}, warnFree: "0%", criticalFree: "0%" }
    schedule: "*/5 * * * * *"
    jitterSeconds: 0
  registries:
    targets:
      - { name: e2e-registry, url: "${o.registry.url}", timeoutSeconds: 2 }
    schedule: "*/5 * * * * *"
    jitterSeconds: 0
    failuresBeforeCritical: 1
`;
}

async function preflight(agent: BundledAgent): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${agent.base}/v1/preflight`);
  return { status: res.status, body: await res.json() };
}

// The value of one series of a gauge for one cache path, from the agent's own /metrics.
function cacheGauge(metricsText: string, family: string, path: string): number | null {
  const line = metricsText.split('\n').find((l) => l.startsWith(`${family}{`) && l.includes(`path="${path}"`));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function cacheAlert(alerts: PrometheusAlert[], path: string): PrometheusAlert | undefined {
  return alerts.find((a) => a.labels.alertname === alertName && a.labels.path === path);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

// skopeo runs only in private mount namespaces; the machine's own cache file must not change.
function hostCacheState(): string {
  const st = statSync(boltCacheFile(systemCacheDir), { throwIfNoEntry: false });
  return st === undefined ? 'absent' : `${st.ino}:${st.size}:${st.mtimeMs}`;
}

test(
  'a corrupt skopeo cache: panic, refusal, alert, quarantine through the API, recovery',
  { timeout: 90_000 },
  async (t) => {
    if (!needTools(t, 'skopeo', 'docker-registry', 'prometheus', 'unshare', 'sed', 'go')) return;
    if (!needRoot(t)) return;

    const work = mkdtempSync(join(tmpdir(), 'buildfleet-e2e-'));
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const cacheDir = join(work, 'cache'); // stands in for /var/lib/containers/cache inside skopeo's namespace
    const stateDir = join(work, 'state');
    mkdirSync(cacheDir);
    const cacheFile = boltCacheFile(cacheDir);
    const skopeoPath = spawnSync('sh', ['-c', 'command -v skopeo'], { encoding: 'utf8' }).stdout.trim();
    const hostCacheBefore = hostCacheState();

    // --- 1. a registry, small images, the agent bundle --------------------------------------
    const [registry, bundle] = await timed('registry + bundle + images', async () => {
      ensureBoltref(); // builds test/boltref once (cached under test/.build)
      const started = await Promise.all([
        startRegistry(),
        bundleAgent({ outfile: join(work, 'dist', 'buildfleet-agent.mjs') }),
      ]);
      return started;
    });
    cleanups.push(() => registry.stop());
    assert.ok(bundle.ok, `bundle: ${bundle.ok ? '' : bundle.errors.join('\n')}`);
    const images = Array.from({ length: parallelCopies + 2 }, (_, i) =>
      writeOciImage(join(work, `image${i}`), { seed: 500 + i, layers: 2 }),
    );

    // --- 2. real skopeo copies in parallel, as build scripts do: a real bolt cache -----------
    await timed(`${parallelCopies} parallel skopeo copies`, async () => {
      const results = await Promise.all(
        images
          .slice(0, parallelCopies)
          .map((image, i) => runSkopeo(pushArgs(registry, image, `builds/app${i}`), { cacheDir, timeoutMs: 60_000 })),
      );
      results.forEach((r, i) => assert.equal(r.code, 0, `copy ${i}: ${skopeoShown(r)}`));
    });
    assert.ok(existsSync(cacheFile), 'skopeo 1.9.3 wrote blob-info-cache-v1.boltdb into the scratch cache dir');
    const beforeDamage = await referenceCheck(cacheFile, { timeoutMs: 15_000 });
    assert.equal(
      beforeDamage.kind,
      'clean',
      `bbolt 1.3.6 finds the cache skopeo wrote clean: ${JSON.stringify(beforeDamage)}`,
    );

    // --- 3. the field damage; skopeo now panics ----------------------------------------------
    const damage = pointKnownLocationsAtFreelist(cacheFile);
    assert.ok(!(damage instanceof Error), damage instanceof Error ? damage.message : '');
    t.diagnostic(
      `damage: knownLocations root (page ${damage.oldRootPage}) -> freelist page ${damage.freelistPage} at offset ${damage.offset}`,
    );
    const damagedDigest = sha256(readFileSync(cacheFile));
    const panicked = await timed('skopeo copy on the damaged cache', () =>
      runSkopeo(pushArgs(registry, images[parallelCopies], 'builds/after-damage'), { cacheDir, timeoutMs: 60_000 }),
    );
    assert.notEqual(panicked.code, 0, `skopeo must fail on the damaged cache: ${skopeoShown(panicked)}`);
    assert.match(panicked.stderr, /invalid page type/, skopeoShown(panicked));
    assert.match(panicked.stderr, /: 10$/m, `the page type is the freelist flag 0x10: ${skopeoShown(panicked)}`);
    t.diagnostic(
      `skopeo: ${panicked.stderr.split('\n').find((l) => l.startsWith('panic:')) ?? panicked.stderr.slice(0, 200)}`,
    );
    assert.equal(
      sha256(readFileSync(cacheFile)),
      damagedDigest,
      'the panicking skopeo left the damaged file as it was',
    );

    // --- 4. the bundled agent with a real config -----------------------------------------------
    const tokenFile = join(work, 'api-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
    const configFile = join(work, 'config.yaml');
    writeFileSync(
      configFile,
      agentConfig({ stateDir, tokenFile, cacheDir, skopeo: skopeoPath, registry, diskPath: work }),
    );
    const agent = await timed('agent start', () => startBundledAgent({ bundle: bundle.outfile, configFile }));
    cleanups.push(async () => {
      await agent.stop();
    });
    t.diagnostic(`agent ${agent.base} (bundle ${bundle.outfile}, ${bundle.bytes} bytes)`);

    // --- 6 (started now, so it scrapes while we look at the agent). A real Prometheus ---------
    const prometheusStart = timed('prometheus start (first good scrape)', () =>
      startPrometheus({ target: agent.listen, jobName: 'buildfleet-agent', ruleFiles: [fastRules(work)] }),
    );

    // --- 5. the agent refuses with cache-corrupt, and its metrics say so ----------------------
    const refusal = await timed('agent refuses with cache-corrupt', () =>
      pollUntil(
        'preflight 503 with cache-corrupt',
        async () => {
          const p = await preflight(agent);
          const corrupt = p.body.reasons?.some((r: Json) => r.code === 'cache-corrupt');
          return p.status === 503 && corrupt
            ? { done: true, value: p.body }
            : { done: false, seen: { status: p.status, reasons: p.body.reasons } };
        },
        { timeoutMs: 20_000 },
      ),
    );
    const reason = refusal.reasons.find((r: Json) => r.code === 'cache-corrupt');
    assert.equal(reason.check, 'blobinfocache');
    assert.equal(refusal.decision, 'refuse');
    const checkState = refusal.checks.find((c: Json) => c.name === 'blobinfocache');
    const cacheEntry = checkState.details.caches.find((c: Json) => c.path === cacheFile);
    assert.equal(cacheEntry?.verdict, 'corrupt', JSON.stringify(checkState.details));
    assert.ok(
      cacheEntry.problems.some((p: Json) => p.code === 'page-type-invalid'),
      JSON.stringify(cacheEntry.problems),
    );
    t.diagnostic(
      `agent verdict: ${cacheEntry.problems.map((p: Json) => p.code).join(', ')} (${cacheEntry.sizeBytes} bytes verified in ${cacheEntry.verifyDurationMs} ms)`,
    );
    // Every other check passes: the refusal is the cache's alone (skopeo 1.9.3 is below the
    // default recommendedVersion: advice, a warning that never refuses).
    for (const other of refusal.checks.filter((c: Json) => c.name !== 'blobinfocache')) {
      assert.equal(other.status, other.name === 'skopeo' ? 'warning' : 'ok', `${other.name}: ${JSON.stringify(other)}`);
    }
    assert.deepEqual(
      refusal.reasons.filter((r: Json) => r.check !== 'blobinfocache'),
      [],
      'only the cache refuses',
    );
    const metricsWhileCorrupt = await (await fetch(`${agent.base}/metrics`)).text();
    assert.equal(
      cacheGauge(metricsWhileCorrupt, 'buildfleet_blobinfocache_healthy', cacheFile),
      0,
      'buildfleet_blobinfocache_healthy is 0 for the cache',
    );
    assert.equal(
      cacheGauge(metricsWhileCorrupt, 'buildfleet_blobinfocache_in_use', cacheFile),
      1,
      'skopeo 1.9.3 uses the bolt cache',
    );
    assert.match(metricsWhileCorrupt, /^buildfleet_admission_state\{state="refusing"\} 1$/m);
    assert.match(metricsWhileCorrupt, /^buildfleet_skopeo_info\{version="1\.9\.3",blobinfocache_format="boltdb"\} 1$/m);
    // Exported at 0 from the start, so increase() in BuildfleetCacheQuarantinedRepeatedly sees the first move.
    assert.match(metricsWhileCorrupt, /^buildfleet_blobinfocache_quarantined_total\{format="boltdb"\} 0$/m);

    // --- 6. Prometheus: the alert goes pending, then firing ----------------------------------
    const prometheus: RunningPrometheus = await prometheusStart;
    cleanups.push(() => prometheus.stop());
    const scraped = await prometheus.query(`buildfleet_blobinfocache_healthy{path="${cacheFile}"}`);
    t.diagnostic(`Prometheus ${prometheus.url} sees ${JSON.stringify(scraped.map((s) => s.value[1]))}`);
    const pending = await timed('alert pending', () =>
      pollUntil(
        `${alertName} pending`,
        async () => {
          const alert = cacheAlert(await prometheus.alerts(), cacheFile);
          // Firing without a pending state seen first would mean `for:` was not honoured.
          if (alert?.state === 'firing') return { done: true, value: alert };
          return alert?.state === 'pending' ? { done: true, value: alert } : { done: false, seen: alert ?? 'no alert' };
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      ),
    );
    assert.equal(pending.state, 'pending', `the alert was seen pending before firing (for: ${shortFor})`);
    assert.equal(pending.labels.severity, 'critical');
    assert.equal(pending.labels.job, 'buildfleet-agent');
    assert.equal(pending.labels.format, 'boltdb');
    const firing = await timed('alert firing', () =>
      pollUntil(
        `${alertName} firing`,
        async () => {
          const alert = cacheAlert(await prometheus.alerts(), cacheFile);
          return alert?.state === 'firing' ? { done: true, value: alert } : { done: false, seen: alert ?? 'no alert' };
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      ),
    );
    assert.equal(firing.activeAt, pending.activeAt, 'the same alert went from pending to firing');
    assert.match(firing.annotations.summary, /corrupt blob-info cache/);

    // --- 7. quarantine through the authenticated API -----------------------------------------
    const unauthenticated = await fetch(`${agent.base}/v1/caches/quarantine`, { method: 'POST' });
    assert.equal(unauthenticated.status, 401, 'no token, no quarantine');
    await unauthenticated.body?.cancel();
    assert.ok(existsSync(cacheFile), 'a refused request moved nothing');
    const quarantine = await timed('quarantine through the API', async () => {
      const res = await fetch(`${agent.base}/v1/caches/quarantine`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: res.status, body: (await res.json()) as Json };
    });
    assert.equal(quarantine.status, 200, JSON.stringify(quarantine.body));
    const outcome = quarantine.body.results?.find((r: Json) => r.path === cacheFile);
    // A bug found here once (docs/e2e.md): the API quarantine was not serialised with the blobcache
    // check's scheduled runs, and the open-file scan counted the agent's own verifier as a holder,
    // so a request that landed while a scheduled verification had the file open was refused as
    // busy. The verifier is now a child process of the agent (a `node` holder, not the agent's
    // pid); either one holding the file is that bug. Not retried here: the test fails and says so.
    const selfHeld =
      outcome?.result === 'busy' &&
      outcome.holders?.some((h: Json) => h.pid === agent.process.pid || /\bnode\b/.test(String(h.command)));
    assert.ok(
      !selfHeld,
      `product bug: the quarantine was refused as busy because the agent itself (pid ${agent.process.pid}) had the cache open for its scheduled verification (the agent must run quarantines and blobcache verifications one at a time under its cache-work lock, agent/cache-work-lock.ts): ${JSON.stringify(outcome)}`,
    );
    assert.equal(outcome?.result, 'quarantined', JSON.stringify(quarantine.body));
    assert.ok(
      agent.logs.some((l) => l.event === 'api-quarantine'),
      `the agent logged the API quarantine:\n${agent.logTail()}`,
    );
    t.diagnostic(`quarantine report: ${JSON.stringify(quarantine.body).slice(0, 600)}`);
    const aside = readdirSync(cacheDir).filter((n) => n.startsWith('blob-info-cache-v1.boltdb.corrupt-'));
    assert.equal(aside.length, 1, `one quarantined copy beside the cache: ${readdirSync(cacheDir).join(', ')}`);
    assert.match(aside[0], /^blob-info-cache-v1\.boltdb\.corrupt-\d{8}T\d{6}Z$/);
    assert.ok(!existsSync(cacheFile), 'the corrupt cache is gone from its name');
    const asidePath = join(cacheDir, aside[0]);
    assert.equal(sha256(readFileSync(asidePath)), damagedDigest, 'the evidence is the damaged file, unchanged');
    const audit = readFileSync(join(stateDir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    const record = audit.find((r) => r.action === 'quarantine' && r.path === cacheFile);
    assert.ok(record, `an audit line for the move: ${JSON.stringify(audit)}`);
    assert.equal(record.actor, 'api');
    assert.equal(record.newPath, asidePath);
    assert.equal(record.skopeoVersion, '1.9.3');
    assert.ok(record.problems.includes('page-type-invalid'), JSON.stringify(record.problems));

    // --- 8. skopeo works again; the agent accepts; the alert resolves ------------------------
    const again = await timed('skopeo copy after quarantine', () =>
      runSkopeo(pushArgs(registry, images[parallelCopies + 1], 'builds/after-quarantine'), {
        cacheDir,
        timeoutMs: 60_000,
      }),
    );
    assert.equal(again.code, 0, `skopeo copies again: ${skopeoShown(again)}`);
    assert.ok(existsSync(cacheFile), 'skopeo created a fresh cache');
    assert.notEqual(sha256(readFileSync(cacheFile)), damagedDigest);

    // A run already in flight is joined (docs/http-api.md), and a scheduled one may have started
    // while skopeo was still writing; ask again until a run has seen the finished cache.
    const blobcacheNow = await timed('checks run: fresh cache healthy', () =>
      pollUntil(
        'POST /v1/checks/run to show the fresh cache healthy',
        async () => {
          const run = await fetch(`${agent.base}/v1/checks/run`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}` },
          });
          const ran = (await run.json()) as Json;
          if (run.status !== 200) return { done: false, seen: { status: run.status, body: ran } };
          const state = ran.checks.find((c: Json) => c.name === 'blobinfocache');
          const fresh = state?.details?.caches?.find((c: Json) => c.path === cacheFile);
          return state?.status === 'ok' && fresh?.verdict === 'healthy'
            ? { done: true, value: state }
            : { done: false, seen: state };
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      ),
    );
    assert.deepEqual(blobcacheNow.reasons, [], JSON.stringify(blobcacheNow));

    const accepted = await timed('preflight 200', () =>
      pollUntil(
        'preflight 200',
        async () => {
          const p = await preflight(agent);
          return p.status === 200
            ? { done: true, value: p.body }
            : { done: false, seen: { status: p.status, reasons: p.body.reasons } };
        },
        { timeoutMs: 15_000 },
      ),
    );
    assert.equal(accepted.decision, 'accept');
    const metricsAfter = await (await fetch(`${agent.base}/metrics`)).text();
    assert.equal(
      cacheGauge(metricsAfter, 'buildfleet_blobinfocache_healthy', cacheFile),
      1,
      'the fresh cache is healthy',
    );
    assert.match(metricsAfter, /^buildfleet_blobinfocache_quarantined_total\{format="boltdb"\} 1$/m);

    // The alert resolves once the corrupt series is gone (the cache moved aside); Prometheus then
    // scrapes the fresh cache's series at 1.
    await timed('alert resolved', () =>
      pollUntil(
        `${alertName} resolved`,
        async () => {
          const alert = cacheAlert(await prometheus.alerts(), cacheFile);
          return alert === undefined || alert.state === 'inactive'
            ? { done: true, value: undefined }
            : { done: false, seen: alert };
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      ),
    );
    await timed('Prometheus sees the fresh cache healthy', () =>
      pollUntil(
        'Prometheus to scrape healthy 1 for the fresh cache',
        async () => {
          const values = (await prometheus.query(`buildfleet_blobinfocache_healthy{path="${cacheFile}"}`)).map(
            (x) => x.value[1],
          );
          return values.length === 1 && values[0] === '1'
            ? { done: true, value: undefined }
            : { done: false, seen: values };
        },
        { timeoutMs: 10_000, intervalMs: 250 },
      ),
    );
    const afterwards = cacheAlert(await prometheus.alerts(), cacheFile);
    assert.ok(
      afterwards === undefined || afterwards.state === 'inactive',
      `the alert stays resolved: ${JSON.stringify(afterwards)}`,
    );
    assert.deepEqual(
      (await prometheus.query('up{job="buildfleet-agent"}')).map((s) => s.value[1]),
      ['1'],
      'every scrape of the agent worked',
    );
    assert.equal(hostCacheState(), hostCacheBefore, `the machine's own ${systemCacheDir} cache was not touched`);

    const stopped = await agent.stop();
    assert.deepEqual(stopped, { code: 0, signal: null }, `the agent stops cleanly on SIGTERM:\n${agent.logTail()}`);

    const notable = agent.logs.filter(
      (l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal' || 'raw' in l,
    );
    t.diagnostic(
      `agent warnings/errors: ${notable.map((l) => `${String(l.level ?? 'raw')} ${String(l.event ?? l.msg ?? l.raw)}`).join('; ') || 'none'}`,
    );
    t.diagnostic(`timings: ${timings.map((x) => `${x.phase} ${x.ms} ms`).join('; ')}`);
  },
);
