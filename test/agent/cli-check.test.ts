// `check` and `config check` as a build script runs them: the real CLI in a child process, with
// a temporary config that points only at things on this machine (temp directories, a closed
// port on 127.0.0.1, the installed skopeo).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isConfigError, parseConfigText } from '../../agent/config.ts';
import { needTools } from '../support/tools.ts';
import { exportedMetricNames } from '../deploy/support/metric-names.ts';

const bin = fileURLToPath(new URL('../../agent/bin.ts', import.meta.url));

let root: string;
let closedPort: number;
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'bfa-cli-'));
  // A port that was just free: connecting to it is refused.
  closedPort = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
});
after(() => rmSync(root, { recursive: true, force: true }));

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let n = 0;
// Every check off except what the test turns on; the disk check watches a temp directory.
function writeConfig(body: string): string {
  n += 1;
  const dir = join(root, `c${n}`);
  mkdirSync(dir);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, `stateDir: ${join(dir, 'state')}\n${body}`);
  return file;
}

const quiet = `
  skopeo: { enabled: false }
  blobinfocache: { enabled: false }
  registries: { enabled: false }`;

function diskOnly(criticalFree: string): string {
  return writeConfig(`checks:${quiet}
  disk: { paths: [{ path: ${root}, warnFree: "${criticalFree}", criticalFree: "${criticalFree}" }] }
`);
}

describe('cli: check', () => {
  it('exits 0 and prints a table when the host accepts', async () => {
    const r = await cli('check', '--config', diskOnly('0%'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ACCEPT /);
    assert.match(r.stdout, /^disk\s+ok\s+host\s/m);
  });

  it('exits 1 with the reasons when a host check is critical', async () => {
    const r = await cli('check', '--config', diskOnly('100%'));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^REFUSE /);
    assert.match(r.stdout, /disk\s+disk-free-critical/);
  });

  it('exits 3 when only a shared check (a registry) fails, and prints the /v1/preflight JSON', async () => {
    const file = writeConfig(`checks:
  skopeo: { enabled: false }
  blobinfocache: { enabled: false }
  disk: { paths: [{ path: ${root}, warnFree: "0%", criticalFree: "0%" }] }
  registries: { targets: [{ name: gone, url: "http://127.0.0.1:${closedPort}", timeoutSeconds: 5 }] }
`);
    const r = await cli('check', '--json', '--config', file);
    assert.equal(r.code, 3, r.stderr);
    const p = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(p), [
      'decision',
      'host',
      'agentVersion',
      'evaluatedAt',
      'reasons',
      'maintenance',
      'checks',
    ]);
    assert.equal(p.decision, 'degraded');
    assert.deepEqual(
      p.reasons.map((x: { check: string; code: string }) => [x.check, x.code]),
      [['registry', 'registry-unreachable']],
    );
    assert.deepEqual(Object.keys(p.checks[0]), [
      'name',
      'status',
      'scope',
      'summary',
      'observedAt',
      'ageSeconds',
      'durationMs',
      'details',
    ]);
    assert.deepEqual(
      p.checks.map((c: { name: string; scope: string }) => [c.name, c.scope]),
      [
        ['disk', 'host'],
        ['registry', 'shared'],
      ],
    );

    const only = await cli('check', '--json', '--only', 'disk', '--config', file);
    assert.equal(only.code, 0, only.stderr);
    assert.deepEqual(
      JSON.parse(only.stdout).checks.map((c: { name: string }) => c.name),
      ['disk'],
    );
  });

  it('judges the installed skopeo against the configured minimum', async (t) => {
    if (!needTools(t, 'skopeo')) return;
    const body = (min: string) => `checks:
  blobinfocache: { enabled: false }
  registries: { enabled: false }
  disk: { enabled: false }
  skopeo: { minVersion: "${min}" }
`;
    const old = await cli('check', '--json', '--config', writeConfig(body('0.1.0')));
    assert.equal(old.code, 0, old.stderr);
    const version = JSON.parse(old.stdout).checks[0].details.binaries[0].version as string;
    const [major, minor] = version.split('.').map(Number);
    const newer = await cli('check', '--json', '--config', writeConfig(body(`${major}.${minor + 1}.0`)));
    assert.equal(newer.code, 1);
    assert.deepEqual(
      JSON.parse(newer.stdout).reasons.map((x: { code: string }) => x.code),
      ['skopeo-below-minimum'],
    );
  });

  it('reports a corrupt cache without moving it, even with autoQuarantine', async () => {
    const cacheDir = join(root, 'cache');
    mkdirSync(cacheDir);
    const cacheFile = join(cacheDir, 'blob-info-cache-v1.boltdb');
    writeFileSync(cacheFile, Buffer.alloc(8192, 0x5a));
    const r = await cli(
      'check',
      '--json',
      '--config',
      writeConfig(`checks:
  skopeo: { enabled: false }
  registries: { enabled: false }
  disk: { enabled: false }
  blobinfocache: { dirs: [${cacheDir}], discoverUsers: false, autoQuarantine: true }
`),
    );
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).reasons.map((x: { code: string }) => x.code),
      ['cache-corrupt'],
    );
    assert.ok(existsSync(cacheFile), 'the one-shot check never moves files');
  });

  it('exits 2 on a bad config, an unknown check name or an unknown option', async () => {
    // Independent runs, side by side to keep the file fast.
    const [bad, unknown, option, missing] = await Promise.all([
      cli('check', '--config', writeConfig('checks: { disk: { paths: [{ path: /x, warnFre: "1%" }] } }\n')),
      cli('check', '--only', 'dsik', '--config', diskOnly('0%')),
      cli('check', '--bogus'),
      cli('check', '--config', join(root, 'nope.yaml')),
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /checks\.disk\.paths\[0\]\.warnFre: unknown key/);
    assert.equal(bad.stdout, '');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no check named dsik \(enabled checks: disk\)/);
    assert.equal(option.code, 2);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the config file/);
  });
});

// The node_exporter textfile-collector mode: what cron on a daemon-less host runs.
describe('cli: check --textfile', () => {
  it('writes one run as DIR/buildfleet_agent.prom: the /metrics names, lint-clean, 0644, replaced whole', async (t) => {
    const dir = mkdtempSync(join(root, 'textfile-'));
    const file = join(dir, 'buildfleet_agent.prom');
    writeFileSync(file, '# an older run\n');
    const r = await cli('check', '--config', diskOnly('100%'), '--textfile', dir);
    assert.equal(r.code, 1, r.stderr); // the decision's exit code, as without --textfile
    assert.match(r.stdout, /^REFUSE /);
    assert.deepEqual(readdirSync(dir), ['buildfleet_agent.prom'], 'no temporary file left beside it');
    assert.equal(statSync(file).mode & 0o777, 0o644, 'node_exporter runs as another user');
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^buildfleet_admission_state\{state="refusing"\} 1$/m);
    assert.match(text, /^buildfleet_check_status\{check="disk",status="critical"\} 1$/m);
    assert.match(text, /^buildfleet_disk_avail_bytes\{path="[^"]+",mountpoint="[^"]+"\} \d+$/m);
    assert.doesNotMatch(text, /^(process|nodejs)_/m, 'no metrics of a process that has exited');
    assert.doesNotMatch(text, /^[a-z_]+(\{[^}]*\})? \S+ \d+$/m, 'no timestamps (the collector refuses them)');
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const daemon = new Set([...(await exportedMetricNames())].filter((n) => n.startsWith('buildfleet_')));
    assert.deepEqual([...families].sort(), [...daemon].sort(), 'the same families as /metrics');
    if (!needTools(t, 'promtool')) return;
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
    assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'no lint findings');
  });

  it('exits 2 before running anything when DIR is missing or not a directory', async () => {
    const missing = await cli('check', '--config', diskOnly('0%'), '--textfile', join(root, 'no-such-dir'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--textfile .*no-such-dir: ENOENT/);
    assert.equal(missing.stdout, '', 'no check ran');
    const notDir = await cli('check', '--config', diskOnly('0%'), '--textfile', bin);
    assert.equal(notDir.code, 2);
    assert.match(notDir.stderr, /is not a directory/);
  });
});

describe('cli: config check', () => {
  it('exits 0 and prints the effective config, which loads back to the same config', async () => {
    const file = writeConfig('listen: "127.0.0.1:0"\nchecks: { disk: { paths: [{ path: /data }] } }\n');
    const r = await cli('config', 'check', '--config', file);
    assert.equal(r.code, 0, r.stderr);
    const printed = parseConfigText(r.stdout, 'printed');
    assert.ok(!isConfigError(printed));
    assert.match(r.stdout, /warnFree: 20%/);
    assert.match(r.stdout, /failuresBeforeCritical: 2/);
    const json = await cli('config', 'check', '--json', '--config', file);
    assert.equal(JSON.parse(json.stdout).listen, '127.0.0.1:0');
  });

  it('exits 2 with every problem on stderr, one per line', async () => {
    const file = writeConfig('logLevel: loud\nchecks:\n  skopeo: { schedule: "61 * * * *" }\n  bogus: 1\n');
    const r = await cli('config', 'check', '--config', file);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 3, r.stderr);
    assert.match(lines[0], /config\.yaml: logLevel: must be one of/);
    assert.match(lines[1], /checks\.skopeo\.schedule: "61 \* \* \* \*" is not a valid cron expression \(line 4\)/);
    assert.match(lines[2], /checks\.bogus: unknown key \(line 5\)/);
  });
});

// The cron example runs as written: its command, with the installed paths pointed at this
// checkout and temporary directories, writes the file.
describe('deploy/cron/buildfleet-agent-textfile', () => {
  it('is one cron.d line whose command writes the textfile', (t) => {
    if (!needTools(t, 'flock')) return;
    const example = readFileSync(
      fileURLToPath(new URL('../../deploy/cron/buildfleet-agent-textfile', import.meta.url)),
      'utf8',
    );
    const lines = example.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    assert.equal(lines.length, 1);
    const fields = lines[0].split(/\s+/);
    assert.deepEqual(fields.slice(0, 6), ['*/2', '*', '*', '*', '*', 'root'], 'cron.d: five time fields and the user');
    const dir = mkdtempSync(join(root, 'cron-'));
    const command = fields
      .slice(6)
      .join(' ')
      .replace('/run/buildfleet-agent-textfile.lock', join(dir, 'lock'))
      .replace('/usr/bin/buildfleet-agent', `${process.execPath} ${bin}`)
      .replace('/etc/buildfleet-agent/config.yaml', diskOnly('0%'))
      .replace('/var/lib/node_exporter/textfile_collector', dir);
    const r = spawnSync('sh', ['-c', command], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      readFileSync(join(dir, 'buildfleet_agent.prom'), 'utf8'),
      /^buildfleet_admission_state\{state="accepting"\} 1$/m,
    );
  });
});
