// Prometheus side: promtool accepts the scrape config and the rules, every alert has a unit
// test that sees it fire, and every metric the rules name is one the agent exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../../deploy/build-bundle.ts';
import { needTools } from '../support/tools.ts';
import { exportedMetricNames, metricNamesInPromQL, prometheusOwnNames } from './support/metric-names.ts';

const promDir = join(repoRoot, 'deploy/prometheus');
const rulesFile = join(promDir, 'rules/buildfleet-agent.rules.yml');
const testFiles = readdirSync(join(promDir, 'tests'))
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => join(promDir, 'tests', f));

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parseYaml(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
  (g) => g.rules,
);

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: promDir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('promtool check config accepts the scrape config and its rule files', (t) => {
  if (!needTools(t, 'promtool')) return;
  const r = promtool('check', 'config', 'prometheus.yml');
  assert.equal(r.status, 0, r.out);
});

// The commented HTTPS block, uncommented with files that exist, is a config promtool accepts.
test("the scrape config's HTTPS variant (scheme https, tls_config) is valid when uncommented", (t) => {
  if (!needTools(t, 'promtool')) return;
  const dir = mkdtempSync(join(tmpdir(), 'bfa-promtls-'));
  try {
    cpSync(join(promDir, 'rules'), join(dir, 'rules'), { recursive: true });
    for (const f of ['ca.pem', 'prometheus.pem', 'prometheus.key']) writeFileSync(join(dir, f), '');
    const text = readFileSync(join(promDir, 'prometheus.yml'), 'utf8');
    const https = text
      .replace(/^( {4})# (scheme: https|tls_config:| {2}(ca|cert|key)_file: .*)$/gm, '$1$2')
      .replaceAll('/etc/prometheus/buildfleet/', `${dir}/`);
    assert.match(https, /^ {4}scheme: https$/m);
    assert.match(https, /^ {6}ca_file: \//m);
    writeFileSync(join(dir, 'prometheus.yml'), https);
    const r = spawnSync('promtool', ['check', 'config', '--syntax-only', join(dir, 'prometheus.yml')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const parsed = parseYaml(https) as { scrape_configs: { scheme?: string; tls_config?: Record<string, string> }[] };
    assert.equal(parsed.scrape_configs[0].scheme, 'https');
    assert.deepEqual(Object.keys(parsed.scrape_configs[0].tls_config ?? {}), ['ca_file', 'cert_file', 'key_file']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('promtool check rules accepts the rules', (t) => {
  if (!needTools(t, 'promtool')) return;
  const r = promtool('check', 'rules', rulesFile);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

test('promtool test rules: every unit test passes', (t) => {
  if (!needTools(t, 'promtool')) return;
  const r = promtool('test', 'rules', ...testFiles);
  assert.equal(r.status, 0, r.out);
  assert.doesNotMatch(r.out, /FAILED/);
});

// Each alert's tests show it firing and, somewhere, a case where it must not (pending, or data
// that should stay quiet): a rule that always fires would pass the first half alone.
test('every alert has a unit test that expects it to fire and one that expects it not to', () => {
  const firing = new Set<string>();
  const quiet = new Set<string>();
  for (const file of testFiles) {
    const doc = parseYaml(readFileSync(file, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    for (const tc of doc.tests)
      for (const a of tc.alert_rule_test ?? []) ((a.exp_alerts ?? []).length > 0 ? firing : quiet).add(a.alertname);
  }
  const alerts = rules.filter((r) => r.alert).map((r) => r.alert!);
  assert.deepEqual(
    alerts.filter((a) => !firing.has(a)),
    [],
    'alerts with no firing case',
  );
  assert.deepEqual(
    alerts.filter((a) => !quiet.has(a)),
    [],
    'alerts with no quiet case',
  );
});

// Alertmanager, Grafana and pagers show runbook_url as a link: it must be absolute, and all of
// them one base (so set-runbook-base.sh can move them together) plus the alert's anchor.
const runbookBase = 'https://github.com/buildfleet/buildfleet-agent/blob/main/docs/alerts.md';

test('rules carry a severity, an absolute runbook_url to their section of docs/alerts.md and a retunable for:', () => {
  const alertsDoc = readFileSync(join(repoRoot, 'docs/alerts.md'), 'utf8');
  const ruleText = readFileSync(rulesFile, 'utf8');
  for (const r of rules.filter((r) => r.alert)) {
    assert.match(r.labels?.severity ?? '', /^(warning|critical)$/, `${r.alert} severity`);
    assert.equal(r.annotations?.runbook_url, `${runbookBase}#${r.alert!.toLowerCase()}`, `${r.alert} runbook_url`);
    assert.equal(r.annotations?.runbook, undefined, `${r.alert}: runbook_url only`);
    assert.match(alertsDoc, new RegExp(`^## ${r.alert}$`, 'm'), `docs/alerts.md has a "## ${r.alert}" section`);
  }
  // The end-to-end test and sites shorten every `for:` with one substitution on these lines.
  for (const line of ruleText.split('\n').filter((l) => /^\s*for:/.test(l))) assert.match(line, /^ {8}for: \d+[smh]$/);
});

test("set-runbook-base.sh moves every runbook_url of the rules and their tests to a site's base", (t) => {
  if (!needTools(t, 'promtool')) return;
  const dir = mkdtempSync(join(tmpdir(), 'bfa-runbook-'));
  try {
    cpSync(join(promDir, 'rules'), join(dir, 'rules'), { recursive: true });
    cpSync(join(promDir, 'tests'), join(dir, 'tests'), { recursive: true });
    const script = join(promDir, 'set-runbook-base.sh');
    const files = (sub: string) => readdirSync(join(dir, sub)).map((f) => join(dir, sub, f));
    const site = 'https://wiki.example.com/ops/buildfleet-alerts';
    const bad = spawnSync(script, ["https://wiki.example.com/it's", ...files('rules')], { encoding: 'utf8' });
    assert.equal(bad.status, 2, bad.stderr);
    assert.equal(
      readFileSync(join(dir, 'rules/buildfleet-agent.rules.yml'), 'utf8'),
      readFileSync(rulesFile, 'utf8'),
      'a refused base changes nothing',
    );
    const r = spawnSync(script, [site, ...files('rules'), ...files('tests')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const moved = (
      parseYaml(readFileSync(join(dir, 'rules/buildfleet-agent.rules.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }
    ).groups.flatMap((g) => g.rules);
    for (const rule of moved.filter((x) => x.alert))
      assert.equal(rule.annotations?.runbook_url, `${site}#${rule.alert!.toLowerCase()}`);
    const tested = spawnSync('promtool', ['test', 'rules', ...files('tests')], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(tested.status, 0, `${tested.stdout}${tested.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the file_sd example is a valid target list', () => {
  const groups = parseYaml(readFileSync(join(promDir, 'targets/buildfleet-agents.example.yml'), 'utf8')) as unknown;
  assert.ok(Array.isArray(groups) && groups.length > 0);
  for (const g of groups as { targets: unknown; labels?: unknown }[]) {
    assert.ok(
      Array.isArray(g.targets) && g.targets.every((x) => typeof x === 'string' && /^[\w.-]+:\d+$/.test(x)),
      JSON.stringify(g),
    );
    if (g.labels !== undefined) assert.ok(Object.values(g.labels as object).every((v) => typeof v === 'string'));
  }
});

test('every metric the rules name is one the agent exports', async () => {
  const exported = await exportedMetricNames();
  const unknown = rules.flatMap((r) =>
    metricNamesInPromQL(r.expr)
      .filter((n) => !exported.has(n) && !prometheusOwnNames.has(n))
      .map((n) => `${r.alert ?? r.record}: ${n}`),
  );
  assert.deepEqual(unknown, []);
});
