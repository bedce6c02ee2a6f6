// Prometheus side: promtool accepts the scrape config and the rules, every alert has a unit
// test that sees it fire, and every metric the rules name is one the agent exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../../deploy/build-bundle.ts';
import { needTools } from '../support/tools.ts';
import { exportedMetricNames, metricNamesInPromQL, prometheusOwnNames } from './support/metric-names.ts';

const promDir = join(repoRoot, 'deploy/prometheus');
const rulesFile = join(promDir, 'rules/buildfleet-agent.rules.yml');
const testFiles = readdirSync(join(promDir, 'tests')).filter((f) => f.endsWith('.yml')).sort().map((f) => join(promDir, 'tests', f));

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const rules = (parseYaml(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: promDir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('promtool check config accepts the scrape config and its rule files', (t) => {
  if (!needTools(t, 'promtool')) return;
  const r = promtool('check', 'config', 'prometheus.yml');
  assert.equal(r.status, 0, r.out);
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

test('every alert has a unit test that expects it to fire', () => {
  const firing = new Set<string>();
  for (const file of testFiles) {
    const doc = parseYaml(readFileSync(file, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };
    for (const tc of doc.tests) for (const a of tc.alert_rule_test ?? []) if ((a.exp_alerts ?? []).length > 0) firing.add(a.alertname);
  }
  const untested = rules.filter((r) => r.alert && !firing.has(r.alert)).map((r) => r.alert);
  assert.deepEqual(untested, []);
});

test('rules carry a severity, a runbook anchor in docs/alerts.md and a retunable for:', () => {
  const alertsDoc = readFileSync(join(repoRoot, 'docs/alerts.md'), 'utf8');
  const ruleText = readFileSync(rulesFile, 'utf8');
  for (const r of rules.filter((r) => r.alert)) {
    assert.match(r.labels?.severity ?? '', /^(warning|critical)$/, `${r.alert} severity`);
    const anchor = r.annotations?.runbook ?? '';
    assert.equal(anchor, `docs/alerts.md#${r.alert!.toLowerCase()}`, `${r.alert} runbook`);
    assert.match(alertsDoc, new RegExp(`^## ${r.alert}$`, 'm'), `docs/alerts.md has a "## ${r.alert}" section`);
  }
  // The end-to-end test and sites shorten every `for:` with one substitution on these lines.
  for (const line of ruleText.split('\n').filter((l) => /^\s*for:/.test(l))) assert.match(line, /^ {8}for: \d+[smh]$/);
});

test('the file_sd example is a valid target list', () => {
  const groups = parseYaml(readFileSync(join(promDir, 'targets/buildfleet-agents.example.yml'), 'utf8')) as unknown;
  assert.ok(Array.isArray(groups) && groups.length > 0);
  for (const g of groups as { targets: unknown; labels?: unknown }[]) {
    assert.ok(Array.isArray(g.targets) && g.targets.every((x) => typeof x === 'string' && /^[\w.-]+:\d+$/.test(x)), JSON.stringify(g));
    if (g.labels !== undefined) assert.ok(Object.values(g.labels as object).every((v) => typeof v === 'string'));
  }
});

test('every metric the rules name is one the agent exports', async () => {
  const exported = await exportedMetricNames();
  const unknown = rules.flatMap((r) => metricNamesInPromQL(r.expr)
    .filter((n) => !exported.has(n) && !prometheusOwnNames.has(n))
    .map((n) => `${r.alert ?? r.record}: ${n}`));
  assert.deepEqual(unknown, []);
});
