// Builds the one file a host runs: agent/bin.mjs (the runtime guard), agent/bin.ts and everything it reaches (the lazily loaded
// verbs included) bundled by esbuild into dist/buildfleet-agent.mjs, so a host needs Node.js 22
// and nothing from npm, and the npm package's `bin` can point at plain JavaScript (Node does
// not strip types under node_modules). The daemon's cache verification runs this same file as
// a child (`cache check`, agent/cache-verify-child.ts), so the bundle needs nothing else.
//
// Usage: node deploy/build-bundle.ts [--outfile FILE] [--inputs FILE]
//   --inputs writes the list of bundled source files as JSON.
import { build, type Metafile, type Plugin } from 'esbuild';
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const defaultBundlePath = resolve(repoRoot, 'dist/buildfleet-agent.mjs');

// CommonJS dependencies (prom-client, ...) call `require` for Node
// built-ins and some read `__dirname`; an ES module has neither. The banner gives the bundle a
// real `require` and private filename/dirname bindings; `define` points the free `__dirname` /
// `__filename` of CJS code at them without touching modules that declare their own. (The
// shebang is agent/bin.mjs's own: esbuild keeps an entry point's and puts it above the banner.)
const banner = [
  "import { createRequire as __bfaCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bfaFileURLToPath } from 'node:url';",
  "import { dirname as __bfaDirname } from 'node:path';",
  'const require = __bfaCreateRequire(import.meta.url);',
  'const __bfaFilename = __bfaFileURLToPath(import.meta.url);',
  'const __bfaDirnameValue = __bfaDirname(__bfaFilename);',
].join('\n');

// Node's built-ins are loaded with `require`, not `import`: an ES import builds the module's
// ESM facade, which reads every export, and node:http's lazy `WebSocket` getter then loads all of
// undici and compiles its llhttp WebAssembly (measured: +9.5 MiB RSS for a daemon that never
// uses fetch). Through require the getter is read only if called.
const builtinsByRequirePlugin: Plugin = {
  name: 'buildfleet-builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.namespace === 'builtin-by-require'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'builtin-by-require' },
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin-by-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

// prom-client's index also loads its Pushgateway and cluster aggregator, and with them https,
// zlib and cluster, which the agent never uses (measured: +3 MiB RSS). The bundle takes the parts
// the agent imports from their own files; a name imported from 'prom-client' that is missing
// here fails the build ("No matching export"), not the daemon.
const promClientParts: Plugin = {
  name: 'buildfleet-prom-client-parts',
  setup(b) {
    b.onResolve({ filter: /^prom-client$/ }, () => ({ path: 'prom-client', namespace: 'prom-client-parts' }));
    b.onLoad({ filter: /.*/, namespace: 'prom-client-parts' }, () => ({
      resolveDir: repoRoot,
      loader: 'js',
      contents: [
        "import Registry from 'prom-client/lib/registry.js';",
        "import Counter from 'prom-client/lib/counter.js';",
        "import Gauge from 'prom-client/lib/gauge.js';",
        "import collectDefaultMetrics from 'prom-client/lib/defaultMetrics.js';",
        'export { Registry, Counter, Gauge, collectDefaultMetrics };',
      ].join('\n'),
    }));
  },
};

export interface BundleOptions {
  outfile?: string;
}

export type BundleResult =
  { ok: true; outfile: string; inputs: string[]; bytes: number; warnings: string[] } | { ok: false; errors: string[] };

export async function bundleAgent(opts: BundleOptions = {}): Promise<BundleResult> {
  const outfile = resolve(opts.outfile ?? defaultBundlePath);
  try {
    const result = await build({
      absWorkingDir: repoRoot,
      entryPoints: [resolve(repoRoot, 'agent/bin.mjs')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      // Every `node:` import stays external on platform node; all packages go in.
      packages: 'bundle',
      banner: { js: banner },
      define: { __dirname: '__bfaDirnameValue', __filename: '__bfaFilename' },
      plugins: [builtinsByRequirePlugin, promClientParts],
      // Minified because the source text stays in the daemon's heap (613 KB → 430 KB); keepNames
      // keeps function and class names, so stack traces and log lines still read as the source.
      minifyWhitespace: true,
      minifySyntax: true,
      minifyIdentifiers: true,
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
      bytes: output?.bytes ?? 0,
      warnings: result.warnings.map((w) => w.text),
    };
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    if (errors && errors.length > 0) {
      return {
        ok: false,
        errors: errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)),
      };
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
  process.stderr.write(`build-bundle: ${result.outfile} (${result.bytes} bytes, ${result.inputs.length} inputs)\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
