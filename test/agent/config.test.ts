import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultConfig,
  isConfigError,
  loadConfig,
  parseConfigText,
  renderConfigYaml,
  type AgentConfig,
  type LoadedConfig,
} from '../../agent/config.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bfa-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function valid(loaded: LoadedConfig): AgentConfig {
  if (isConfigError(loaded)) assert.fail(`expected a valid config, got:\n${loaded.errors.join('\n')}`);
  return loaded.config;
}

function errorsOf(text: string): string[] {
  const loaded = parseConfigText(text, 'test.yaml');
  if (!isConfigError(loaded)) assert.fail('expected errors');
  return loaded.errors;
}

describe('config: loading', () => {
  it('uses the built-in defaults when there is no file at the default path', () => {
    const config = valid(loadConfig(null, join(dir, 'absent.yaml')));
    assert.deepEqual(config, defaultConfig());
  });

  it('is an error when a file given explicitly does not exist', () => {
    const loaded = loadConfig(join(dir, 'missing.yaml'));
    assert.ok(isConfigError(loaded));
    assert.match(loaded.errors[0], /missing\.yaml: cannot read the config file/);
  });

  it('treats an empty file or one with only comments as all defaults', () => {
    const file = join(dir, 'empty.yaml');
    writeFileSync(file, '# nothing here\n');
    assert.deepEqual(valid(loadConfig(file)), defaultConfig());
  });

  it('fills in the defaults of docs/conventions.md', () => {
    const c = defaultConfig();
    assert.deepEqual(c.listen, { host: undefined, port: 20580 });
    assert.equal(c.stateDir, '/var/lib/buildfleet-agent');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.auth.tokenFile, null);
    assert.equal(c.tls, null);
    assert.deepEqual(c.checks.skopeo.binaries, ['skopeo']);
    // Advice by default, no refusal: a CentOS 7 fleet on skopeo 1.9.3 keeps building.
    assert.equal(c.checks.skopeo.recommendedVersion, '1.14.0');
    assert.equal(c.checks.skopeo.minVersion, null);
    assert.deepEqual(c.checks.blobinfocache.buildUsers, []);
    assert.deepEqual(c.checks.skopeo.deny, []);
    assert.equal(c.checks.skopeo.schedule, '*/5 * * * *');
    assert.equal(c.checks.skopeo.timeoutSeconds, 10);
    assert.deepEqual(c.checks.blobinfocache.dirs, ['/var/lib/containers/cache']);
    assert.equal(c.checks.blobinfocache.discoverUsers, true);
    assert.equal(c.checks.blobinfocache.autoQuarantine, false);
    assert.equal(c.checks.blobinfocache.keep, 3);
    assert.equal(c.checks.blobinfocache.schedule, '* * * * *');
    assert.equal(c.checks.blobinfocache.fullSchedule, '17 3 * * *');
    assert.deepEqual(c.checks.disk.paths, [
      { path: '/var/lib/containers', warnFree: { percent: 20 }, criticalFree: { percent: 10 } },
      { path: '/tmp', warnFree: { bytes: 5 * 1024 ** 3 }, criticalFree: { bytes: 1024 ** 3 } },
    ]);
    assert.equal(c.checks.disk.schedule, '* * * * *');
    assert.equal(c.checks.registries.schedule, '* * * * *');
    // Documented deviation: no registry target by default, so `npm start` sends no traffic.
    assert.deepEqual(c.checks.registries.targets, []);
    // Damping defaults of the issue: 1 for host checks, 2 for registries.
    assert.deepEqual(
      [c.checks.skopeo, c.checks.blobinfocache, c.checks.disk, c.checks.registries].map(
        (s) => s.failuresBeforeCritical,
      ),
      [1, 1, 1, 2],
    );
  });

  it('returns a deeply frozen object', () => {
    const c = valid(parseConfigText('checks: { disk: { paths: [{ path: /x }] } }', 't'));
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.checks.disk.paths));
    assert.ok(Object.isFrozen(c.checks.disk.paths[0].warnFree));
    assert.throws(() => {
      (c.checks.disk as { schedule: string }).schedule = 'x';
    }, TypeError);
  });
});

describe('config: values', () => {
  it('parses the listen forms', () => {
    const listen = (text: string) => valid(parseConfigText(`listen: "${text}"`, 't')).listen;
    assert.deepEqual(listen(':20580'), { host: undefined, port: 20580 });
    assert.deepEqual(listen('127.0.0.1:20580'), { host: '127.0.0.1', port: 20580 });
    assert.deepEqual(listen('[::1]:20580'), { host: '::1', port: 20580 });
    assert.deepEqual(listen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.match(errorsOf('listen: "20580"')[0], /^test\.yaml: listen: .*missing port/);
    assert.match(errorsOf('listen: ":70000"')[0], /above 65535/);
  });

  it('parses thresholds, sizes and the per-check keys', () => {
    const c = valid(
      parseConfigText(
        `
checks:
  disk:
    paths:
      - { path: /data, warnFree: "30%", criticalFree: "512MiB" }
      - { path: /scratch, warnFree: 2000000000, criticalFree: "1GB" }
    timeoutSeconds: 3
    jitterSeconds: 0
    failuresBeforeCritical: 3
  blobinfocache: { maxQuarantineBytes: "2GiB", fullSchedule: null }
`,
        't',
      ),
    );
    assert.deepEqual(c.checks.disk.paths, [
      { path: '/data', warnFree: { percent: 30 }, criticalFree: { bytes: 512 * 1024 ** 2 } },
      { path: '/scratch', warnFree: { bytes: 2e9 }, criticalFree: { bytes: 1e9 } },
    ]);
    assert.equal(c.checks.disk.timeoutSeconds, 3);
    assert.equal(c.checks.disk.jitterSeconds, 0);
    assert.equal(c.checks.disk.failuresBeforeCritical, 3);
    assert.equal(c.checks.blobinfocache.maxQuarantineBytes, 2 * 1024 ** 3);
    assert.equal(c.checks.blobinfocache.fullSchedule, null);
  });

  it('fills registry target defaults and names a target by its host', () => {
    const c = valid(
      parseConfigText(
        `
checks:
  registries:
    targets:
      - { url: "https://harbor.example.com" }
      - { name: local, url: "http://127.0.0.1:5000", insecure: true, caFile: /etc/ca.pem, authFile: /root/auth.json }
`,
        't',
      ),
    );
    assert.deepEqual(c.checks.registries.targets, [
      {
        name: 'harbor.example.com',
        url: 'https://harbor.example.com',
        caFile: null,
        insecure: false,
        timeoutSeconds: 5,
        authFile: null,
      },
      {
        name: 'local',
        url: 'http://127.0.0.1:5000',
        caFile: '/etc/ca.pem',
        insecure: true,
        timeoutSeconds: 5,
        authFile: '/root/auth.json',
      },
    ]);
  });

  it('accepts tls, auth and logLevel', () => {
    const c = valid(
      parseConfigText('tls: { certFile: /c.pem, keyFile: /k.pem }\nauth: { tokenFile: /t }\nlogLevel: debug', 't'),
    );
    assert.deepEqual(c.tls, { certFile: '/c.pem', keyFile: '/k.pem', clientCAFile: null });
    const withCA = valid(parseConfigText('tls: { certFile: /c.pem, keyFile: /k.pem, clientCAFile: /ca.pem }', 't'));
    assert.equal(withCA.tls?.clientCAFile, '/ca.pem');
    assert.match(errorsOf('tls: { certFile: /c.pem, keyFile: /k.pem, clientCAFile: ca.pem }')[0], /tls\.clientCAFile/);
    assert.equal(c.auth.tokenFile, '/t');
    assert.equal(c.logLevel, 'debug');
  });
});

describe('config: errors', () => {
  it('names the key path of an unknown key', () => {
    const errors = errorsOf('checks:\n  disk:\n    paths:\n      - { path: /x, warnFre: "20%" }\n');
    assert.equal(errors.length, 1);
    assert.match(
      errors[0],
      /^test\.yaml: checks\.disk\.paths\[0\]\.warnFre: unknown key \(did you mean warnFree\?\) \(line 4\)$/,
    );
    assert.match(errorsOf('chekcs: {}')[0], /chekcs: unknown key \(did you mean checks\?\)/);
    assert.match(
      errorsOf('checks: { registries: { targets: [{ url: "http://x", timeout: 3 }] } }')[0],
      /checks\.registries\.targets\[0\]\.timeout: unknown key \(did you mean timeoutSeconds\?\)/,
    );
  });

  it('reports every problem at once, each naming its key', () => {
    const errors = errorsOf(`
logLevel: loud
stateDir: relative/dir
checks:
  skopeo: { schedule: "61 * * * *", timeoutSeconds: abc, minVersion: "1.x", deny: ["not a range ("] }
  disk: { paths: [{ path: /a, warnFree: "1GiB", criticalFree: "5GiB" }, { path: a, criticalFree: lots }] }
  registries: { failuresBeforeCritical: 0, targets: [{ url: "ftp://x" }, { name: "a b", url: "https://h" }, { url: "https://h" }] }
`);
    const keys = errors.map((e) => e.replace(/^test\.yaml: /, '').split(':')[0]);
    assert.deepEqual(keys.sort(), [
      'checks.disk.paths[0].warnFree',
      'checks.disk.paths[1].criticalFree',
      'checks.disk.paths[1].path',
      'checks.registries.failuresBeforeCritical',
      'checks.registries.targets[0].url',
      'checks.registries.targets[1].name',
      'checks.skopeo.deny[0]',
      'checks.skopeo.minVersion',
      'checks.skopeo.schedule',
      'checks.skopeo.timeoutSeconds',
      'logLevel',
      'stateDir',
    ]);
    assert.ok(errors.some((e) => e.includes('"61 * * * *" is not a valid cron expression')));
    assert.ok(errors.some((e) => e.includes('stateDir: must be an absolute path')));
  });

  it('reports a duplicate disk path', () => {
    const errors = errorsOf('checks: { disk: { paths: [{ path: /a }, { path: /b }, { path: /a }] } }');
    assert.deepEqual(errors, ['test.yaml: checks.disk.paths[2].path: duplicate path "/a" (line 1)']);
  });

  it('reports a duplicate registry name, even a derived one', () => {
    const errors = errorsOf('checks: { registries: { targets: [{ url: "https://h" }, { url: "https://h/x" }] } }');
    assert.deepEqual(errors, ['test.yaml: checks.registries.targets[1].name: duplicate name "h"']);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    assert.match(errorsOf('listen: ":1"\nlisten: ":2"\n')[0], /^test\.yaml:2:1: YAML: /);
    assert.match(errorsOf('checks: [\n')[0], /^test\.yaml:\d+:\d+: YAML: /);
  });

  it('rejects a document that is not a mapping', () => {
    assert.match(errorsOf('- a\n- b\n')[0], /\(top level\): expected a mapping, got a list/);
  });
});

describe('config: printing', () => {
  it('prints YAML that loads back to the same config', () => {
    const config = valid(
      parseConfigText(
        `
listen: "[::1]:9000"
logLevel: warn
tls: { certFile: /c.pem, keyFile: /k.pem }
checks:
  disk: { paths: [{ path: /data, warnFree: "30%", criticalFree: 123456789 }, { path: /t, warnFree: 3GB, criticalFree: 1GiB }] }
  registries: { targets: [{ url: "https://harbor.example.com:8443" }] }
  blobinfocache: { maxQuarantineBytes: 1000 }
`,
        't',
      ),
    );
    const printed = renderConfigYaml(config);
    assert.deepEqual(valid(parseConfigText(printed, 'printed')), config);
    assert.deepEqual(valid(parseConfigText(renderConfigYaml(defaultConfig()), 'printed')), defaultConfig());
  });
});

// Where valibot's plain schemas behave differently from the rules above: the schema keeps the rules.
describe('config: schema details', () => {
  it('reports every unknown key of one mapping, after the problems of its known keys', () => {
    assert.deepEqual(errorsOf('checks:\n  skopeo: { foo: 1, enabled: 0, shedule: x }\n'), [
      'test.yaml: checks.skopeo.enabled: expected true or false, got 0 (line 2)',
      'test.yaml: checks.skopeo.foo: unknown key (line 2)',
      'test.yaml: checks.skopeo.shedule: unknown key (did you mean schedule?) (line 2)',
    ]);
    assert.deepEqual(errorsOf('constructor: 1'), ['test.yaml: constructor: unknown key (line 1)']);
  });

  it('does not take a list for a mapping', () => {
    assert.deepEqual(errorsOf('checks: { disk: [] }'), [
      'test.yaml: checks.disk: expected a mapping, got a list (line 1)',
    ]);
    assert.deepEqual(errorsOf('checks: { disk: { paths: [[]] } }'), [
      'test.yaml: checks.disk.paths[0]: expected a mapping, got a list (line 1)',
    ]);
  });

  it('refuses NaN and infinite numbers as the wrong type', () => {
    assert.deepEqual(errorsOf('checks: { skopeo: { timeoutSeconds: .inf } }'), [
      'test.yaml: checks.skopeo.timeoutSeconds: expected a number, got Infinity (line 1)',
    ]);
    assert.deepEqual(errorsOf('checks: { disk: { paths: [{ path: /a, warnFree: .nan }] } }'), [
      'test.yaml: checks.disk.paths[0].warnFree: has the wrong type (got NaN) (line 1)',
    ]);
  });

  it('checks a list for duplicates only when no entry has the wrong type', () => {
    assert.deepEqual(errorsOf('checks: { disk: { paths: [{ path: a }, { path: a }] } }'), [
      'test.yaml: checks.disk.paths[0].path: must be an absolute path (line 1)',
      'test.yaml: checks.disk.paths[1].path: must be an absolute path (line 1)',
      'test.yaml: checks.disk.paths[1].path: duplicate path "a" (line 1)',
    ]);
    assert.deepEqual(errorsOf('checks: { disk: { paths: [{ path: /a }, { path: /a, warnFree: lots }] } }').length, 1);
    // A target with an unknown key is still named by its host; one with another problem is not.
    assert.deepEqual(
      errorsOf(
        'checks: { registries: { targets: [{ url: "https://h", x: 1 }, { url: "https://h" }, { url: "https://h", caFile: rel }] } }',
      ),
      [
        'test.yaml: checks.registries.targets[0].x: unknown key (line 1)',
        'test.yaml: checks.registries.targets[2].caFile: must be an absolute path (line 1)',
        'test.yaml: checks.registries.targets[1].name: duplicate name "h"',
      ],
    );
  });

  it('reports a fraction alone, and a whole number out of range with every rule it breaks', () => {
    assert.deepEqual(errorsOf('checks: { blobinfocache: { keep: -1.5 } }'), [
      'test.yaml: checks.blobinfocache.keep: expected int, got -1.5 (line 1)',
    ]);
    assert.deepEqual(errorsOf('checks: { blobinfocache: { keep: -1e20 } }'), [
      'test.yaml: checks.blobinfocache.keep: must be a whole number (line 1)',
      'test.yaml: checks.blobinfocache.keep: must not be negative (line 1)',
    ]);
  });
});

describe('config: hostile input and ranges', () => {
  it('refuses a YAML alias bomb with one line instead of throwing', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const errors = errorsOf(levels.join('\n'));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^test\.yaml: YAML: .*alias/);
  });

  it('refuses nesting deep enough to overflow a recursive parser, and oversized files', () => {
    const deep = errorsOf(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    assert.equal(deep.length >= 1, true);
    assert.ok(
      deep.every((e) => !e.includes('\n') && e.startsWith('test.yaml')),
      deep.join('|'),
    );
    const big = errorsOf(`# ${'x'.repeat(1024 * 1024)}\n`);
    assert.deepEqual(big, ['test.yaml: the config file is larger than 1048576 bytes']);
    const file = join(dir, 'huge.yaml');
    writeFileSync(file, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    const loaded = loadConfig(file);
    assert.ok(isConfigError(loaded));
    assert.match(loaded.errors[0], /larger than 1048576 bytes/);
  });

  it('bounds every duration and count: a timer past 2^31 ms would fire after 1 ms', () => {
    assert.deepEqual(errorsOf('checks: { skopeo: { timeoutSeconds: 2147484 } }'), [
      'test.yaml: checks.skopeo.timeoutSeconds: must be at most 86400 (a day) (line 1)',
    ]);
    assert.deepEqual(errorsOf('checks: { blobinfocache: { fullTimeoutSeconds: 1e9 } }'), [
      'test.yaml: checks.blobinfocache.fullTimeoutSeconds: must be at most 86400 (a day) (line 1)',
    ]);
    assert.deepEqual(errorsOf('checks: { disk: { jitterSeconds: 1e7 } }'), [
      'test.yaml: checks.disk.jitterSeconds: must be at most 3600 (an hour) (line 1)',
    ]);
    assert.deepEqual(errorsOf('checks: { registries: { targets: [{ url: "http://r", timeoutSeconds: 3e6 }] } }'), [
      'test.yaml: checks.registries.targets[0].timeoutSeconds: must be at most 86400 (a day) (line 1)',
    ]);
    assert.deepEqual(errorsOf('checks: { disk: { failuresBeforeCritical: 100000 } }'), [
      'test.yaml: checks.disk.failuresBeforeCritical: must be at most 1000 (line 1)',
    ]);
    assert.deepEqual(errorsOf('checks: { blobinfocache: { keep: 5000 } }'), [
      'test.yaml: checks.blobinfocache.keep: must be at most 1000 (line 1)',
    ]);
    valid(parseConfigText('checks: { skopeo: { timeoutSeconds: 86400, jitterSeconds: 3600 } }', 'test.yaml'));
  });
});
