// Benchmark: hostile sparse caches (issue 12): bolt files whose valid metas claim 1 TiB and
// 16 TiB over ~64 KiB of data, and a valid SQLite cache extended to 50 GiB with truncate. The agent's own `cache check --json` (the command the daemon's
// verifier child runs), wall time and peak RSS of the whole process by GNU time.
// Usage: node bench/sparse-verify.ts [--runs 5]
// Files are made under bench/out/ (gitignored) as sparse files and removed afterwards.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { claimPages } from '../test/support/bolt-claims.ts';
import { createCacheFixture } from '../test/fixtures/sqlite/blob-info-cache.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const root = join(import.meta.dirname, '..');
const outDir = join(root, 'bench/out');
mkdirSync(outDir, { recursive: true });
const cli = join(root, 'agent/bin.ts');
const tib = 2 ** 40;

interface Sample {
  wallMs: number;
  rssKiB: number;
  verdict: string;
}

// SQLite snapshots go here (as the daemon's go under its state directory), checked empty after.
const snapshotDir = mkdtempSync(join(outDir, 'snapshots-'));

function checkOnce(path: string): Sample {
  const started = performance.now();
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%M', process.execPath, cli, 'cache', 'check', '--json', '--snapshot-dir', snapshotDir, path],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (readdirSync(snapshotDir).length > 0) throw new Error(`a snapshot was left in ${snapshotDir}`);
  const wallMs = performance.now() - started;
  const verdict = (JSON.parse(r.stdout) as { verdict: string }).verdict;
  return { wallMs, rssKiB: Number(r.stderr.trim().split('\n').pop()), verdict };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rows: string[] = [];
function measure(label: string, path: string): void {
  const st = statSync(path);
  checkOnce(path);
  const samples = Array.from({ length: runs }, () => checkOnce(path));
  const wall = samples.map((s) => s.wallMs);
  rows.push(
    `| ${label} | ${(st.size / tib).toFixed(2)} TiB / ${((st.blocks * 512) / 1024).toFixed(0)} KiB | ${samples[0].verdict} | ${median(wall).toFixed(0)} ms (${Math.min(...wall).toFixed(0)}–${Math.max(...wall).toFixed(0)}) | ${(median(samples.map((s) => s.rssKiB)) / 1024).toFixed(0)} MiB |`,
  );
  process.stderr.write(`${rows.at(-1)}\n`);
}

const fixture = join(root, 'test/fixtures/bolt/skopeo-1.9.3-healthy.boltdb');
for (const [label, size, claim] of [
  ['bolt claiming 1 TiB', tib, tib / 4096],
  ['bolt claiming 16 TiB', 16 * tib - 4096, 2 ** 32],
] as const) {
  const path = join(outDir, 'sparse-claim.boltdb');
  copyFileSync(fixture, path);
  claimPages(path, claim);
  truncateSync(path, size);
  try {
    measure(label, path);
  } finally {
    rmSync(path, { force: true });
  }
}

const sqlite = join(outDir, 'sparse-50g.sqlite');
rmSync(sqlite, { force: true });
createCacheFixture(sqlite, { rows: 20_000 });
truncateSync(sqlite, 50 * 2 ** 30);
try {
  measure('SQLite cache extended to 50 GiB', sqlite);
} finally {
  rmSync(sqlite, { force: true });
  rmSync(snapshotDir, { recursive: true, force: true });
}

process.stdout.write(
  [
    `Median (min–max) of ${runs} runs, \`node agent/bin.ts cache check --json FILE\` (type stripping included), wall time and peak RSS of the process.`,
    '',
    '| file | apparent size / allocated | verdict | wall | peak RSS |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n') + '\n',
);
