// Benchmark (not a test): what change-driven verification costs and how fast it reacts, on the
// bundled daemon with five caches (1 MB, 50 MB and ~1 GB bolt; 1 MB and 50 MB SQLite), each in
// its own configured directory, default schedules (blobinfocache every minute with 10 s jitter,
// the deep run at 03:17, skopeo every 5 min, disk every minute; no registries).
//  idle:   daemon + children CPU-seconds over --window seconds, nobody writing, scaled to 1 h;
//  writer: the same while a Go writer (test/boltref write-loop, bbolt 1.3.6 like skopeo)
//          commits to the 1 MB bolt cache every second; failed runs counted (no false corrupt);
//  fresh:  GET /v1/preflight?max_age=0&checks=blobinfocache on unchanged caches, p50 / p99;
//  refuse: time from a corrupting write of the 1 MB bolt cache (in use) to /v1/preflight
//          answering 503, --trials times, alternating a damaged copy renamed over the cache
//          and in-place damage of the live file (its root page's type flipped, size and mtime
//          restored); after each trial a healthy copy is renamed back and the bench waits for
//          200 (helped by ?max_age=0, so a trial does not wait for the schedule twice).
// CPU: utime + stime of the daemon plus cutime + cstime (its reaped children: the verifier,
// skopeo, statfs), from /proc/<pid>/stat, sampled at the window's start and end only (the bench
// sends no requests meanwhile).
// Usage: node bench/change-driven.ts [--bundle FILE] [--label after] [--window 300]
//        [--trials 20] [--fresh 200] [--phases idle,writer,fresh,refuse] [--out FILE.json]
//        [--without-1g] [--pid-file FILE] [--strace FILE]
// --bundle runs a prebuilt bundle (e.g. one built from an older commit, for "before").
// --without-1g leaves the 1 GB bolt cache out (four caches), so the fresh phase can run without
// generating it: an unchanged cache costs a stamp read whatever its size.
// --strace FILE counts the daemon's (and its children's) syscalls over the fresh phase's
// requests (strace -f -c; the latencies of that run are strace's, not the daemon's).
// --pid-file writes the daemon's pid once it has settled (for strace or perf beside the bench).
// Inputs are generated under bench/out/ (gitignored) on first use and reused.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundleAgent } from '../deploy/build-bundle.ts';
import { daemonEnvironment } from '../deploy/daemon-environment.ts';
import { buildBoltDb, ensureBoltref } from '../test/support/boltref.ts';
import { freePort } from '../test/support/registry.ts';
import { createCacheFixture } from '../test/fixtures/sqlite/blob-info-cache.ts';
import { readBoltMetas } from '../checks/blobcache/bolt/meta.ts';
import { bufferReadAt } from '../checks/blobcache/file-source.ts';
import { racyWindowMs } from '../checks/blobcache/change-stamp.ts';

const root = join(import.meta.dirname, '..');
const out = join(root, 'bench/out');
const { values } = parseArgs({
  options: {
    bundle: { type: 'string' },
    label: { type: 'string', default: 'after' },
    window: { type: 'string', default: '300' },
    trials: { type: 'string', default: '20' },
    fresh: { type: 'string', default: '200' },
    phases: { type: 'string', default: 'idle,writer,fresh,refuse' },
    out: { type: 'string' },
    disable: { type: 'string', default: '' }, // checks to turn off, for a breakdown of the idle cost
    'without-1g': { type: 'boolean', default: false },
    'pid-file': { type: 'string' },
    strace: { type: 'string' }, // strace -f -c of the daemon over the fresh phase's requests, to FILE
  },
});
const windowSeconds = Number(values.window);
const phases = new Set(values.phases!.split(','));
const disabled = new Set(values.disable!.split(',').filter(Boolean));
const boltref = ensureBoltref();
mkdirSync(out, { recursive: true });

async function input(name: string, make: (path: string) => Promise<void> | void): Promise<string> {
  const p = join(out, name);
  if (!existsSync(p)) {
    process.stderr.write(`generating ${p} ...\n`);
    await make(`${p}.tmp`);
    renameSync(`${p}.tmp`, p);
  }
  return p;
}
// Trimmed to the high-water mark: bbolt grows a file ahead of its data (a 1 MiB build is a
// 28 MB file otherwise).
const boltInput = (mb: number, name: string) =>
  input(name, async (p) => {
    // A build grows in 2000-image transactions: the smallest file is made by image count instead.
    const size = mb === 1 ? { images: 120 } : { targetMB: mb };
    const r = await buildBoltDb(p, { seed: mb, ...size, trim: true, timeoutMs: 30 * 60_000 });
    if (!r.ok) throw new Error(r.error);
  });
const inputs = {
  bolt1: await boltInput(1, 'cimage-1mb.boltdb'),
  bolt50: await boltInput(50, 'cimage-50mb.boltdb'),
  ...(values['without-1g'] ? {} : { bolt1g: await boltInput(1024, 'cimage-1024mb.boltdb') }),
  // ~300 bytes a row over three tables and their indexes.
  sqlite1: await input('cimage-1mb.sqlite', (p) => createCacheFixture(p, { rows: 1500, seed: 'bench-1' })),
  sqlite50: await input('cimage-50mb.sqlite', (p) => createCacheFixture(p, { rows: 56_000, seed: 'bench-50' })),
};

const work = mkdtempSync(join(tmpdir(), 'bf-change-'));
const dirs = {
  bolt1: join(work, 'c1'),
  bolt50: join(work, 'c2'),
  ...(values['without-1g'] ? {} : { bolt1g: join(work, 'c3') }),
  sqlite1: join(work, 'c4'),
  sqlite50: join(work, 'c5'),
};
const boltName = 'blob-info-cache-v1.boltdb';
const sqliteName = 'blob-info-cache-v1.sqlite';
const cachePath = { bolt1: join(dirs.bolt1, boltName) };
let daemon: ChildProcess | null = null;
const helpers: ChildProcess[] = [];
try {
  for (const [k, d] of Object.entries(dirs)) {
    mkdirSync(d, { mode: 0o700 });
    const src = (inputs as Record<string, string>)[k];
    const dest = join(d, k.startsWith('bolt') ? boltName : sqliteName);
    // The big read-only ones are hard links (nothing writes them); the written one is a copy.
    if (k === 'bolt1') copyFileSync(src, dest);
    else linkSync(src, dest);
  }
  const healthy1 = join(work, 'healthy-1mb.boltdb');
  copyFileSync(inputs.bolt1, healthy1);
  // The copy and the links just moved every cache's ctime: a stamp read within the racy window
  // vouches for nothing, so a daemon started at once (a prebuilt --bundle) would verify them all
  // again at its next scheduled run, inside the idle window. A host's caches were not written a
  // second before the agent started.
  await sleep(racyWindowMs + 500);

  let bundle = values.bundle;
  if (!bundle) {
    bundle = join(work, 'buildfleet-agent.mjs');
    const built = await bundleAgent({ outfile: bundle });
    if (!built.ok) throw new Error(JSON.stringify(built));
  }
  const port = await freePort();
  const config = join(work, 'config.yaml');
  writeFileSync(
    config,
    [
      `listen: "127.0.0.1:${port}"`,
      `stateDir: ${join(work, 'state')}`,
      'logLevel: warn',
      'checks:',
      '  blobinfocache:',
      `    dirs: [${Object.values(dirs).join(', ')}]`,
      '    discoverUsers: false',
      ...(disabled.has('blobinfocache') ? ['    enabled: false'] : []),
      '  skopeo:',
      '    minVersion: "1.9.0"',
      ...(disabled.has('skopeo') ? ['    enabled: false'] : []),
      '  disk:',
      `    paths: [{ path: ${work}, warnFree: "1%", criticalFree: "0%" }]`,
      ...(disabled.has('disk') ? ['    enabled: false'] : []),
      '  registries:',
      '    enabled: false',
      '',
    ].join('\n'),
  );
  daemon = spawn(process.execPath, [bundle, 'serve', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...daemonEnvironment },
  });
  let stderr = '';
  daemon.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20000)));
  const base = `http://127.0.0.1:${port}`;
  const preflight = async (
    query = '',
  ): Promise<{ status: number; body: { checks: { name: string; details: Record<string, unknown> }[] } }> => {
    const r = await fetch(`${base}/v1/preflight${query}`);
    return { status: r.status, body: (await r.json()) as never };
  };
  // Started and every check has run once (the first answer that is not not-yet-checked).
  const startDeadline = Date.now() + 120_000;
  for (;;) {
    if (Date.now() > startDeadline) throw new Error(`daemon did not settle:\n${stderr}`);
    try {
      const p = await preflight();
      if (p.status === 200) break;
    } catch {
      /* starting */
    }
    await sleep(200);
  }
  if (values['pid-file']) writeFileSync(values['pid-file'], `${daemon.pid}\n`);

  const cpuTicks = (pid: number): number => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // fields 14-17 (utime stime cutime cstime) are at 11..14 after the ") " split
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  };
  const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const metric = async (name: string, labels: string): Promise<number> => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  const cpuWindow = async (): Promise<{
    cpuSeconds: number;
    perHour: number;
    failedRuns: number;
    runs: number;
    details: unknown;
  }> => {
    const failures0 = await metric('buildfleet_check_failures_total', 'check="blobinfocache"');
    const runs0 = await metric('buildfleet_check_runs_total', 'check="blobinfocache"');
    const t0 = cpuTicks(daemon!.pid!);
    const w0 = performance.now();
    await sleep(windowSeconds * 1000);
    const cpuSeconds = (cpuTicks(daemon!.pid!) - t0) / hz;
    const elapsed = (performance.now() - w0) / 1000;
    const p = await preflight();
    return {
      cpuSeconds,
      perHour: (cpuSeconds * 3600) / elapsed,
      failedRuns: (await metric('buildfleet_check_failures_total', 'check="blobinfocache"')) - failures0,
      runs: (await metric('buildfleet_check_runs_total', 'check="blobinfocache"')) - runs0,
      details:
        (p.body.checks.find((c) => c.name === 'blobinfocache')?.details as { verifications?: unknown })
          ?.verifications ?? null,
    };
  };
  const pct = (xs: number[], p: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  };
  const result: Record<string, unknown> = { label: values.label, windowSeconds, node: process.versions.node };
  await sleep(5000);

  if (phases.has('idle')) {
    result.idle = await cpuWindow();
    process.stderr.write(`[${values.label}] idle ${JSON.stringify(result.idle)}\n`);
  }
  if (phases.has('writer')) {
    const writer = spawn(
      boltref,
      [
        'write-loop',
        '-db',
        cachePath.bolt1,
        '-interval',
        '1s',
        '-iterations',
        '0',
        '-duration',
        `${windowSeconds + 5}s`,
      ],
      { stdio: 'ignore' },
    );
    helpers.push(writer);
    const w = await cpuWindow();
    await new Promise((r) => writer.once('exit', r));
    result.writer = w;
    process.stderr.write(`[${values.label}] writer ${JSON.stringify(w)}\n`);
    // Back to a known healthy, settled state for the next phases.
    copyFileSync(healthy1, `${cachePath.bolt1}.tmp`);
    renameSync(`${cachePath.bolt1}.tmp`, cachePath.bolt1);
    await sleep(3000);
    await preflight('?max_age=0&checks=blobinfocache');
    await sleep(1500);
    await preflight('?max_age=0&checks=blobinfocache');
  }
  if (phases.has('fresh')) {
    const n = Number(values.fresh);
    await preflight('?max_age=0&checks=blobinfocache');
    const tracer = values.strace ? await startStrace(daemon.pid!, values.strace) : null;
    const ms: number[] = [];
    let worst = 200;
    const ticks0 = cpuTicks(daemon.pid!);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const p = await preflight('?max_age=0&checks=blobinfocache');
      ms.push(performance.now() - t0);
      if (p.status !== 200) worst = p.status;
    }
    // Daemon + reaped children, per request (under strace this includes the tracing's cost).
    const cpuMsPerRequest = (((cpuTicks(daemon.pid!) - ticks0) / hz) * 1000) / n;
    if (tracer) await stopStrace(tracer);
    result.fresh = {
      requests: n,
      p50: pct(ms, 50),
      p99: pct(ms, 99),
      max: Math.max(...ms),
      cpuMsPerRequest,
      nonOk: worst,
    };
    process.stderr.write(`[${values.label}] fresh ${JSON.stringify(result.fresh)}\n`);
  }
  if (phases.has('refuse')) {
    const trials = Number(values.trials);
    const seconds: { how: string; s: number }[] = [];
    for (let i = 0; i < trials; i++) {
      await sleep(Math.floor(Math.random() * 5000));
      const how = i % 2 === 0 ? 'rename' : 'in-place';
      const t0 = performance.now();
      if (how === 'rename') {
        const temp = `${cachePath.bolt1}.incoming`;
        copyFileSync(healthy1, temp);
        damageRoot(temp);
        renameSync(temp, cachePath.bolt1);
      } else {
        damageRoot(cachePath.bolt1);
      }
      for (;;) {
        if ((await preflight()).status === 503) break;
        if (performance.now() - t0 > 180_000) throw new Error('no 503 within 180 s');
        await sleep(20);
      }
      seconds.push({ how, s: (performance.now() - t0) / 1000 });
      process.stderr.write(`[${values.label}] trial ${i + 1} ${how}: ${seconds.at(-1)!.s.toFixed(2)} s\n`);
      copyFileSync(healthy1, `${cachePath.bolt1}.tmp`);
      renameSync(`${cachePath.bolt1}.tmp`, cachePath.bolt1);
      for (;;) {
        await sleep(2000);
        if ((await preflight('?max_age=0&checks=blobinfocache')).status === 200) break;
      }
    }
    const all = seconds.map((x) => x.s);
    result.refuse = {
      trials,
      p50: pct(all, 50),
      p99: pct(all, 99),
      max: Math.max(...all),
      rename: seconds.filter((x) => x.how === 'rename').map((x) => x.s),
      inPlace: seconds.filter((x) => x.how === 'in-place').map((x) => x.s),
    };
    process.stderr.write(`[${values.label}] refuse ${JSON.stringify(result.refuse)}\n`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  for (const h of helpers) h.kill('SIGKILL');
  if (daemon) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon!.once('exit', r));
  }
  rmSync(work, { recursive: true, force: true });
}

async function startStrace(pid: number, file: string): Promise<ChildProcess> {
  const tracer = spawn('strace', ['-f', '-c', '-o', file, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  // strace says "Process N attached" on stderr once it is tracing.
  await new Promise<void>((resolve, reject) => {
    tracer.once('error', reject);
    tracer.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('attached')) resolve();
    });
  });
  return tracer;
}

async function stopStrace(tracer: ChildProcess): Promise<void> {
  const exited = new Promise((r) => tracer.once('exit', r));
  tracer.kill('SIGINT');
  await exited;
}

// The tree's root page becomes a "meta" page: corrupt for every reader; no meta page touched;
// size and mtime put back (touch -r from a twin made before).
function damageRoot(file: string): void {
  const bytes = readFileSync(file);
  const reading = readBoltMetas(bufferReadAt(bytes), bytes.length);
  if (reading.kind !== 'ok') throw new Error(`${file}: ${reading.kind}`);
  const ref = `${file}.times`;
  writeFileSync(ref, '');
  spawnSync('touch', ['-r', file, ref]);
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([0x04, 0x00]), 0, 2, Number(reading.meta.root) * reading.pageSize + 8);
  closeSync(fd);
  spawnSync('touch', ['-r', ref, file]);
  rmSync(ref);
  if (statSync(file).size !== bytes.length) throw new Error('size changed');
}
