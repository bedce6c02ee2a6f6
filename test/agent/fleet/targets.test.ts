import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget, parseTargetsFile } from '../../../agent/fleet/targets.ts';

test('host, host:port, IPv6 in brackets, pasted http:// URLs', () => {
  const address = (t: string) => {
    const p = parseTarget(t);
    return p.ok ? p.target.address : p.error;
  };
  assert.equal(address('build-07'), 'build-07:20580');
  assert.equal(address('build-07.example.com:9999'), 'build-07.example.com:9999');
  assert.equal(address('10.1.2.3'), '10.1.2.3:20580');
  assert.equal(address('[::1]'), '[::1]:20580');
  assert.equal(address('[fe80::1%eth0]:8080'), '[fe80::1%eth0]:8080');
  assert.equal(address('http://build-07:20580/'), 'build-07:20580');
  const v6 = parseTarget('[::1]:1234');
  assert.ok(v6.ok && v6.target.host === '::1' && v6.target.port === 1234);
});

test('bad targets are errors naming the text', () => {
  for (const [text, why] of [
    ['build 07', /not a host name/],
    ['build-07:0', /port must be 1-65535/],
    ['build-07:http', /port/],
    ['::1', /needs brackets/],
    ['[::1', /without "]"/],
    ['[::1]x', /expected ":PORT"/],
    ['https://build-07', /HTTPS/],
    ['', /empty/],
  ] as const) {
    const p = parseTarget(text);
    assert.equal(p.ok, false, text);
    if (!p.ok) assert.match(p.error, why, text);
  }
});

test('a plain targets file: one per line, comments, duplicates asked once', () => {
  const r = parseTargetsFile('# dc1\nbuild-01\n  build-02:20581  # spare\n\nbuild-01:20580\n', 'hosts.txt');
  assert.ok(r.ok);
  assert.deepEqual(
    r.targets.map((t) => t.address),
    ['build-01:20580', 'build-02:20581'],
  );
});

test('file_sd YAML and JSON: targets and labels', () => {
  const yaml = parseTargetsFile(
    '- targets: [build-01:20580, build-02:20580]\n  labels: { site: dc1 }\n- targets: [build-101]\n',
    'dc.yml',
  );
  assert.ok(yaml.ok);
  assert.deepEqual(
    yaml.targets.map((t) => [t.address, t.labels]),
    [
      ['build-01:20580', { site: 'dc1' }],
      ['build-02:20580', { site: 'dc1' }],
      ['build-101:20580', {}],
    ],
  );
  const json = parseTargetsFile('[{"targets":["10.0.0.1:20580"],"labels":{"pool":"x64"}}]', 'dc.json');
  assert.ok(json.ok);
  assert.deepEqual(json.targets[0].labels, { pool: 'x64' });
});

test('bad file_sd documents list every problem', () => {
  const r = parseTargetsFile(
    '- targets: build-01\n- targets: [ok-host]\n  labels: { "bad-name": x, n: 1 }\n  extra: 1\n',
    'dc.yml',
  );
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.errors.length, 4, r.errors.join('\n'));
  assert.match(r.errors.join('\n'), /group 1: "targets" must be a list/);
  assert.match(r.errors.join('\n'), /unknown key "extra"/);
  assert.match(r.errors.join('\n'), /"bad-name" is not a Prometheus label name/);
  assert.match(r.errors.join('\n'), /label "n" must be a string/);
  const broken = parseTargetsFile('[{"targets": [', 'x.json');
  assert.equal(broken.ok, false);
});
