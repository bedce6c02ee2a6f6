// Builds the one file a host runs: agent/bin.ts and everything it reaches (the lazily loaded
// verbs and the worker threads included) bundled by esbuild into dist/buildfleet-agent.mjs, so
// a host needs Node.js 22 and nothing from npm, and the npm package's `bin` can point at plain
// JavaScript (Node does not strip types under node_modules).
//
// Usage: node deploy/build-bundle.ts [--outfile FILE] [--inputs FILE]
//   --inputs writes the list of bundled source files as JSON.
import { build, type Metafile, type Plugin } from 'esbuild';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const defaultBundlePath = resolve(repoRoot, 'dist/buildfleet-agent.mjs');

// Source trees the agent is built from; worker threads are looked for here.
const sourceDirs = ['agent', 'checks'];

// CommonJS dependencies (prom-client, ...) call `require` for Node
// built-ins and some read `__dirname`; an ES module has neither. The banner gives the bundle a
// real `require` and private filename/dirname bindings; `define` points the free `__dirname` /
// `__filename` of CJS code at them without touching modules that declare their own.
const banner = [
  '#!/usr/bin/env node',
  "import { createRequire as __bfaCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bfaFileURLToPath } from 'node:url';",
  "import { dirname as __bfaDirname } from 'node:path';",
  'const require = __bfaCreateRequire(import.meta.url);',
  'const __bfaFilename = __bfaFileURLToPath(import.meta.url);',
  'const __bfaDirnameValue = __bfaDirname(__bfaFilename);',
].join('\n');

// Worker threads: the source starts them with `new Worker(new URL('./x.ts', import.meta.url))`
// (optionally with a flat options object as second argument, e.g. `{ resourceLimits: x }`),
// a file that does not exist next to the bundle. In the bundle the same file is started again
// as the worker, told by workerData which module to run; the generated entry below dispatches.
const workerStart = /new Worker\(\s*new URL\(\s*(['"])(\.{1,2}\/[^'"]+\.ts)\1\s*,\s*import\.meta\.url\s*\)\s*(?:,\s*\{([^{}]*)\}\s*)?\)/g;
export const workerRoleKey = '__buildfleetBundleWorker';

export interface WorkerModule {
  startedIn: string; // repo-relative source file with the `new Worker(...)`
  role: string; // repo-relative worker module, e.g. agent/cache-verify-thread.ts
}

type WorkerScan = { ok: true; workers: WorkerModule[] } | { ok: false; errors: string[] };

function listTs(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return listTs(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const toRepoPath = (abs: string): string => relative(repoRoot, abs).split(sep).join('/');

// Every worker start in the sources; a `new Worker(` in any other shape is an error, because the
// bundle could not start it.
export function scanWorkerStarts(): WorkerScan {
  const workers: WorkerModule[] = [];
  const errors: string[] = [];
  for (const dir of sourceDirs) {
    for (const file of listTs(join(repoRoot, dir))) {
      const text = readFileSync(file, 'utf8');
      const all = text.match(/new Worker\(/g)?.length ?? 0;
      const supported = [...text.matchAll(workerStart)];
      if (all !== supported.length) {
        errors.push(`${toRepoPath(file)}: a worker is started other than as new Worker(new URL('./x.ts', import.meta.url)[, { flat options }]); the bundle cannot start it`);
      }
      for (const m of supported) workers.push({ startedIn: toRepoPath(file), role: toRepoPath(resolve(dirname(file), m[2])) });
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, workers };
}

function entrySource(workers: WorkerModule[]): string {
  const roles = [...new Set(workers.map((w) => w.role))];
  return [
    "import { isMainThread, workerData } from 'node:worker_threads';",
    'const workerModules = {',
    ...roles.map((r) => `  ${JSON.stringify(r)}: () => import(${JSON.stringify(`./${r}`)}),`),
    '};',
    `const role = isMainThread ? undefined : workerData?.${workerRoleKey};`,
    "if (role !== undefined) await workerModules[role]();",
    "else await import('./agent/bin.ts');",
  ].join('\n');
}

function workerRewritePlugin(workers: WorkerModule[]): Plugin {
  const files = new Set(workers.map((w) => resolve(repoRoot, w.startedIn)));
  return {
    name: 'buildfleet-bundle-workers',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!files.has(args.path)) return undefined;
        const text = readFileSync(args.path, 'utf8').replace(workerStart, (_m, _q, rel: string, options: string | undefined) => {
          const role = toRepoPath(resolve(dirname(args.path), rel));
          const more = options?.trim() ? `${options.trim()}, ` : '';
          return `new Worker(new URL(import.meta.url), { ${more}workerData: { ${workerRoleKey}: ${JSON.stringify(role)} } })`;
        });
        return { contents: text, loader: 'ts' };
      });
    },
  };
}

export interface BundleOptions {
  outfile?: string;
}

export type BundleResult =
  | { ok: true; outfile: string; inputs: string[]; workers: WorkerModule[]; bytes: number; warnings: string[] }
  | { ok: false; errors: string[] };

export async function bundleAgent(opts: BundleOptions = {}): Promise<BundleResult> {
  const outfile = resolve(opts.outfile ?? defaultBundlePath);
  const scan = scanWorkerStarts();
  if (!scan.ok) return scan;
  try {
    const result = await build({
      absWorkingDir: repoRoot,
      stdin: { contents: entrySource(scan.workers), resolveDir: repoRoot, sourcefile: 'bundle-entry.js', loader: 'js' },
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      // Every `node:` import stays external on platform node; all packages go in.
      packages: 'bundle',
      banner: { js: banner },
      define: { __dirname: '__bfaDirnameValue', __filename: '__bfaFilename' },
      plugins: [workerRewritePlugin(scan.workers)],
      // Keeps stack traces and log lines readable on a host; the bundle is not shipped to browsers.
      minifyWhitespace: true, minifySyntax: true,
      keepNames: true,
      legalComments: 'eof',
      metafile: true,
      logLevel: 'silent',
    });
    chmodSync(outfile, 0o755);
    const output = Object.values(result.metafile.outputs)[0];
    return {
      ok: true,
      outfile,
      inputs: inputsOf(result.metafile),
      workers: scan.workers,
      bytes: output?.bytes ?? 0,
      warnings: result.warnings.map((w) => w.text),
    };
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    if (errors && errors.length > 0) {
      return { ok: false, errors: errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)) };
    }
    return { ok: false, errors: [String(err)] };
  }
}

function inputsOf(metafile: Metafile): string[] {
  return Object.keys(metafile.inputs).sort();
}

async function main(argv: string[]): Promise<number> {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const result = await bundleAgent({ outfile: opt('--outfile') });
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(`build-bundle: ${e}\n`);
    return 1;
  }
  const inputsOut = opt('--inputs');
  if (inputsOut) writeFileSync(inputsOut, `${JSON.stringify(result.inputs, null, 2)}\n`);
  for (const w of result.warnings) process.stderr.write(`build-bundle: warning: ${w}\n`);
  process.stderr.write(`build-bundle: ${result.outfile} (${result.bytes} bytes, ${result.inputs.length} inputs, ${result.workers.length} worker module(s))\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
