// Benchmark: our bolt verifier against the reference (bbolt 1.3.6, the test/boltref `check`
// command: tx.Check() alone, and tx.Check() + a full read) on the same generated
// containers/image-layout files, in one run. Two layouts per size: `append` (a build in digest
// order: pages lie nearly in walk order) and `churned` (that file after --churn-txs small
// delete/insert transactions, `boltref churn`: pages in no order, like a long-lived cache).
// Usage: node bench/bolt-verify.ts [--sizes 50,1024] [--layouts append,churned] [--runs 5]
//        [--churn-txs 200000] [--out docs/benchmarks-bolt.md]
// Files are generated on demand under bench/out/ (gitignored) and kept for later runs (the
// churned 1 GB file takes ~30 min on the 2-core build machine).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { buildBoltDb, ensureBoltref } from '../test/support/boltref.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '50,1024' },
    runs: { type: 'string', default: '5' },
    out: { type: 'string' },
    layouts: { type: 'string', default: 'append,churned' },
    'churn-txs': { type: 'string', default: '200000' },
  },
});
const layouts = values.layouts!.split(',');
const sizes = values.sizes!.split(',').map(Number);
const runs = Number(values.runs);
const root = join(import.meta.dirname, '..');
const outDir = join(root, 'bench/out');
mkdirSync(outDir, { recursive: true });
const boltref = ensureBoltref();
// Hosts run the esbuild bundle (deploy/build-bundle.ts), not type-stripped sources: measure the
// same plain JavaScript, so Node's TypeScript stripping is not counted as verification time.
const oursScript = join(outDir, 'bolt-verify-one.mjs');
await build({
  entryPoints: [join(root, 'bench/bolt-verify-one.ts')],
  outfile: oursScript,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  logLevel: 'warning',
});

interface Sample {
  wallMs: number;
  rssKiB: number;
  verdict: string;
  keys: number;
}

// Wall time and peak RSS of a whole process, by GNU time.
function timed(cmd: string[]): { wallMs: number; rssKiB: number; stdout: string } {
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...cmd], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wallMs = performance.now() - started;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  const rssKiB = Number(r.stderr.trim().split('\n').pop());
  return { wallMs, rssKiB, stdout: r.stdout };
}

function ours(path: string): Sample {
  const t = timed([process.execPath, oursScript, path]);
  const j = JSON.parse(t.stdout);
  return { wallMs: t.wallMs, rssKiB: t.rssKiB, verdict: j.verdict, keys: j.keys };
}

function checkOnly(path: string): Sample {
  const t = timed([boltref, 'check', '-check-only', path]);
  const j = JSON.parse(t.stdout.trim().split('\n').pop()!);
  return { wallMs: t.wallMs, rssKiB: t.rssKiB, verdict: j.checkErrorCount === 0 ? 'healthy' : 'corrupt', keys: -1 };
}

function reference(path: string): Sample {
  const t = timed([boltref, 'check', path]);
  const j = JSON.parse(t.stdout.trim().split('\n').pop()!);
  return {
    wallMs: t.wallMs,
    rssKiB: t.rssKiB,
    verdict: j.checkErrorCount === 0 && j.fullRead === 'ok' ? 'healthy' : 'corrupt',
    keys: j.keys,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rows: string[] = [];
for (const mb of sizes)
  for (const layout of layouts) {
    const appendPath = join(outDir, `cimage-${mb}mb.boltdb`);
    const path = layout === 'churned' ? join(outDir, `cimage-${mb}mb-churned.boltdb`) : appendPath;
    if (!existsSync(appendPath)) {
      process.stderr.write(`generating ${appendPath} ...\n`);
      const built = await buildBoltDb(appendPath, { seed: mb, targetMB: mb, timeoutMs: 30 * 60_000 });
      if (!built.ok) throw new Error(built.error);
    }
    if (!existsSync(path)) {
      process.stderr.write(`generating ${path} (${values['churn-txs']} transactions) ...\n`);
      copyFileSync(appendPath, `${path}.tmp`);
      const r = spawnSync(boltref, ['churn', '-db', `${path}.tmp`, '-txs', values['churn-txs']!, '-seed', '7'], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`boltref churn failed: ${r.stderr}`);
      renameSync(`${path}.tmp`, path);
    }
    const bytes = statSync(path).size;
    // Warm the page cache once for all, then alternate so drift hits all alike.
    ours(path);
    reference(path);
    checkOnly(path);
    const a: Sample[] = [];
    const b: Sample[] = [];
    const c: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      a.push(ours(path));
      b.push(reference(path));
      c.push(checkOnly(path));
    }
    if (a[0].keys !== b[0].keys || a[0].verdict !== 'healthy' || b[0].verdict !== 'healthy') {
      throw new Error(`disagreement on ${path}: ours ${JSON.stringify(a[0])} reference ${JSON.stringify(b[0])}`);
    }
    const oW = median(a.map((s) => s.wallMs));
    const rW = median(b.map((s) => s.wallMs));
    const cW = median(c.map((s) => s.wallMs));
    const oR = median(a.map((s) => s.rssKiB)) / 1024;
    const rR = median(b.map((s) => s.rssKiB)) / 1024;
    const mib = bytes / (1 << 20);
    rows.push(
      `| ${mib.toFixed(0)} MiB ${layout} (${a[0].keys} keys) | ${oW.toFixed(0)} ms | ${cW.toFixed(0)} ms | ${rW.toFixed(0)} ms | **${(oW / cW).toFixed(2)}** | **${(oW / rW).toFixed(2)}** | ${(mib / (oW / 1000)).toFixed(0)} MiB/s | ${oR.toFixed(0)} MiB | ${rR.toFixed(0)} MiB |`,
    );
    process.stderr.write(`${rows.at(-1)}\n`);
  }

const table = [
  `Median of ${runs} runs each, alternating, page cache warm; wall time and peak RSS of the whole process (ours: node running the bundled verifier; reference: the Go binary, bbolt 1.3.6: tx.Check() alone, and tx.Check() + full read).`,
  '',
  '| file | ours (wall) | tx.Check (wall) | check + read (wall) | ours / tx.Check | ours / check + read | ours throughput | ours peak RSS | ref peak RSS |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
process.stdout.write(`${table}\n`);
if (values.out) writeFileSync(values.out, `${table}\n`);
