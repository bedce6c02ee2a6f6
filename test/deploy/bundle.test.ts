// The bundle is what hosts run: it must hold every verb agent/bin.ts can reach, run from a
// directory with no node_modules anywhere above it, and be what the npm package's `bin` runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bundleAgent, repoRoot } from '../../deploy/build-bundle.ts';
import { needTools } from '../support/tools.ts';

const nodeBin = process.execPath;
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  bin?: Record<string, string> | string;
  files?: string[];
  scripts?: Record<string, string>;
};
const bundleRelPath = 'dist/buildfleet-agent.mjs';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

// A directory with no node_modules in it or in any parent, so a bundle that still needs one fails.
function bareTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (let d = dir; ; d = dirname(d)) {
    assert.ok(!existsSync(join(d, 'node_modules')), `${d}/node_modules exists; the test needs a bare directory`);
    if (dirname(d) === d) break;
  }
  return dir;
}

// The verbs as the CLI itself lists them: "  name<padding>  summary" lines after "Verbs:".
function verbsFromTopHelp(help: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf('Verbs:');
  assert.ok(start >= 0, `top help has no "Verbs:" section:\n${help}`);
  const verbs: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    verbs.push(line.trim().split(/\s{2,}/)[0]);
  }
  return verbs;
}

test('the bundle holds every verb module and runs with no node_modules', async (t) => {
  const work = bareTempDir('bfa-bundle-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const built = await bundleAgent({ outfile: join(work, 'build', 'buildfleet-agent.mjs') });
  assert.ok(built.ok, built.ok ? '' : `bundle failed:\n${built.errors.join('\n')}`);

  // Every module the verbs table loads lazily must be inside, not left as a runtime import.
  const cliSource = readFileSync(join(repoRoot, 'agent/cli.ts'), 'utf8');
  const lazy = [...cliSource.matchAll(/import\(\s*['"](\.\/cli\/[^'"]+)['"]\s*\)/g)].map(
    (m) => `agent/${m[1].slice(2)}`,
  );
  assert.ok(lazy.length > 0, 'found no lazily imported verb modules in agent/cli.ts');
  for (const mod of lazy) assert.ok(built.inputs.includes(mod), `${mod} is not in the bundle`);

  const text = readFileSync(built.outfile, 'utf8');
  assert.ok(text.startsWith('#!/usr/bin/env node\n'), 'the bundle starts with a shebang');
  assert.doesNotMatch(text, /\bimport\(\s*["']\.\.?\//, 'a relative dynamic import survived bundling');
  const staticImports = [...text.matchAll(/^import\b[^;]*?from\s*["']([^"']+)["']/gm)].map((m) => m[1]);
  const notBuiltin = staticImports.filter((s) => !s.startsWith('node:') && !builtinModules.includes(s));
  assert.deepEqual(notBuiltin, [], 'only Node built-ins may stay imported at run time');

  // Run a copy alone in a bare directory.
  const hostDir = mkdtempSync(join(work, 'host-'));
  const hostFile = join(hostDir, 'buildfleet-agent.mjs');
  copyFileSync(built.outfile, hostFile);

  const version = run(nodeBin, [hostFile, 'version'], hostDir);
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, new RegExp(`buildfleet-agent ${pkg.version.replace(/\./g, '\\.')}`));
  assert.match(version.stdout, new RegExp(`node ${process.versions.node.replace(/\./g, '\\.')}`));

  const help = run(nodeBin, [hostFile, '--help'], hostDir);
  assert.equal(help.status, 0, help.stderr);
  const verbs = verbsFromTopHelp(help.stdout);
  assert.ok(verbs.includes('version'), `verbs listed: ${verbs.join(', ')}`);
  // `<verb> --help` loads each verb's module: every lazy chunk must load from the one file.
  for (const verb of verbs) {
    const r = run(nodeBin, [hostFile, ...verb.split(' '), '--help'], hostDir);
    assert.equal(r.status, 0, `${verb} --help: exit ${r.status}\n${r.stderr}`);
    assert.ok(r.stdout.trim().length > 0, `${verb} --help printed nothing`);
    assert.doesNotMatch(r.stderr, /Error|Cannot find/, `${verb} --help wrote to stderr:\n${r.stderr}`);
  }
});

test('cache verification in the bundle runs the bundle itself as its child process', async (t) => {
  if (!needTools(t, 'skopeo')) return;
  const work = bareTempDir('bfa-bundle-verify-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const built = await bundleAgent({ outfile: join(work, 'buildfleet-agent.mjs') });
  assert.ok(built.ok, built.ok ? '' : built.errors.join('\n'));
  assert.ok(built.inputs.includes('agent/cache-verify-child.ts'), 'the child verifier is not in the bundle');

  // A cache skopeo 1.9.3 panics on; the daemon's check verifies it in a child running
  // `<bundle> cache check` (agent/cache-verify-child.ts).
  const cacheDir = join(work, 'cache');
  mkdirSync(cacheDir);
  copyFileSync(
    join(repoRoot, 'test/fixtures/bolt/skopeo-1.9.3-bucket-root-is-freelist.boltdb'),
    join(cacheDir, 'blob-info-cache-v1.boltdb'),
  );
  const config = join(work, 'config.yaml');
  writeFileSync(
    config,
    [
      `stateDir: ${join(work, 'state')}`,
      'checks:',
      '  blobinfocache:',
      `    dirs: [${cacheDir}]`,
      '    discoverUsers: false',
      '',
    ].join('\n'),
  );
  const r = run(nodeBin, [built.outfile, 'check', '--json', '--only', 'blobinfocache', '--config', config], work);
  assert.equal(r.status, 1, `check should refuse (exit 1):\n${r.stderr}\n${r.stdout}`);
  const text = r.stdout;
  assert.doesNotMatch(
    text,
    /verify-process-failed|verify-timeout/,
    'the verification child did not run from the bundle',
  );
  const preflight = JSON.parse(text) as { reasons: { code: string }[] };
  assert.ok(
    preflight.reasons.some((x) => x.code === 'cache-corrupt'),
    text,
  );
});

test('npm pack + npm install -g runs the bundle through the package bin', (t) => {
  if (!needTools(t, 'npm')) return;
  // These are the package.json changes deploy/ asks for (see docs/operations.md, "npm package").
  const binPath = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['buildfleet-agent'];
  assert.equal(binPath, bundleRelPath, `package.json "bin" must be { "buildfleet-agent": "${bundleRelPath}" }`);
  assert.ok(pkg.files?.includes(bundleRelPath), `package.json "files" must list "${bundleRelPath}"`);
  assert.match(
    pkg.scripts?.prepack ?? '',
    /deploy\/build-bundle\.ts/,
    'package.json needs "prepack": "node deploy/build-bundle.ts"',
  );

  const work = bareTempDir('bfa-npm-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  // npm runs scripts with node_modules/.bin first on PATH, so prepack gets Node 22; the same
  // directory goes first here so the installed shebang (`env node`) finds Node 22 as well.
  // An empty npm cache of the test's own and --offline below: the install may not reach a
  // registry or lean on what this machine happened to cache, as on a host with no network.
  const env = {
    ...process.env,
    PATH: `${dirname(nodeBin)}:${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
    npm_config_cache: mkdtempSync(join(work, 'npm-cache-')),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };

  const packed = run('npm', ['pack', '--json', '--pack-destination', work], repoRoot, env);
  assert.equal(packed.status, 0, `npm pack failed:\n${packed.stderr}`);
  const tarballs = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  assert.equal(tarballs.length, 1, `expected one tarball, found ${tarballs.join(', ')}`);
  const tarball = join(work, tarballs[0]);

  const listing = run('tar', ['-tzf', tarball], work).stdout.split('\n');
  // The bundle holds its libraries: the packed package must not make an install fetch them.
  const packedPkg = JSON.parse(run('tar', ['-xzOf', tarball, 'package/package.json'], work).stdout) as Record<
    string,
    unknown
  >;
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies']) {
    assert.equal(packedPkg[field], undefined, `the packed package.json declares ${field}: the bundle loads none`);
  }
  assert.ok(listing.includes(`package/${bundleRelPath}`), `tarball lacks ${bundleRelPath}:\n${listing.join('\n')}`);
  assert.ok(
    !listing.some((f) => f.endsWith('.ts')),
    'the tarball ships TypeScript sources; "files" should keep them out',
  );

  const prefix = join(work, 'prefix');
  const installed = run(
    'npm',
    ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball],
    work,
    env,
  );
  assert.equal(installed.status, 0, `npm install -g failed:\n${installed.stderr}`);

  const bin = join(prefix, 'bin', 'buildfleet-agent');
  assert.ok(existsSync(bin), `${bin} was not linked`);
  const home = mkdtempSync(join(work, 'cwd-'));
  const version = run(bin, ['version'], home, env);
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, new RegExp(`^buildfleet-agent ${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
  const help = run(bin, ['--help'], home, env);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: buildfleet-agent/m);
});
