// The fleet dashboard: valid JSON Grafana can import, the datasource chosen by a template
// variable, and every metric its queries name is one the agent really exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../deploy/build-bundle.ts';
import { exportedMetricNames, metricNamesInPromQL, prometheusOwnNames } from './support/metric-names.ts';

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  type: string;
  title: string;
  id: number;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  datasource?: { uid?: string };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboardPath = join(repoRoot, 'deploy/grafana/buildfleet-fleet.json');

function load(): Dashboard {
  return JSON.parse(readFileSync(dashboardPath, 'utf8')) as Dashboard;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

// The PromQL of every panel target and every query variable (label_values(SELECTOR, label)
// names metrics only in its first argument).
function queriesOf(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of allPanels(d.panels))
    for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const labelValues = /^label_values\((.*),\s*\w+\)$/.exec(q.trim());
    out.push({ where: `variable $${v.name}`, expr: labelValues ? labelValues[1] : q });
  }
  return out;
}

test('the dashboard parses and uses a datasource variable everywhere', () => {
  const d = load();
  assert.equal(d.uid, 'buildfleet-fleet');
  const dsVar = d.templating.list.find((v) => v.type === 'datasource');
  assert.ok(dsVar, 'a datasource template variable');
  assert.equal(dsVar.query, 'prometheus');
  const ref = `\${${dsVar.name}}`;
  const panels = allPanels(d.panels);
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of panels.filter((p) => p.type !== 'row')) {
    assert.equal(p.datasource?.uid, ref, `panel "${p.title}" uses ${ref}`);
    assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has queries`);
    for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, ref, `a query of "${p.title}" uses ${ref}`);
  }
  for (const v of d.templating.list.filter((v) => v.type === 'query'))
    assert.equal(v.datasource?.uid, ref, `variable $${v.name}`);
  // No datasource uid of one Grafana instance baked in.
  assert.doesNotMatch(
    readFileSync(dashboardPath, 'utf8'),
    /"uid":\s*"(?!\$\{datasource\}|-- Grafana --|buildfleet-fleet)[^"]*"/,
  );
});

test('the dashboard shows what the issue asks for', () => {
  const exprs = queriesOf(load())
    .map((q) => q.expr)
    .join('\n');
  for (const [what, metric] of [
    ['hosts accepting over time', 'buildfleet_admission_state'],
    ['failing checks by host', 'buildfleet_check_status'],
    ['skopeo versions across the fleet', 'buildfleet_skopeo_info'],
    ['disk headroom', 'buildfleet_disk_avail_bytes'],
    ['registry latency', 'buildfleet_registry_probe_duration_seconds'],
    ['quarantines', 'buildfleet_blobinfocache_quarantined_total'],
  ])
    assert.ok(exprs.includes(metric), `${what}: no query uses ${metric}`);
});

test('every metric the dashboard queries is one the agent exports', async () => {
  const exported = await exportedMetricNames();
  const unknown: string[] = [];
  for (const { where, expr } of queriesOf(load())) {
    for (const name of metricNamesInPromQL(expr)) {
      if (!exported.has(name) && !prometheusOwnNames.has(name)) unknown.push(`${where}: ${name}`);
    }
  }
  assert.deepEqual(unknown, [], `metrics the agent does not export:\n${unknown.join('\n')}`);
});

test('the PromQL name reader finds metric names and nothing else', () => {
  assert.deepEqual(
    metricNamesInPromQL(
      'sum by (instance, check) (buildfleet_check_status{job=~"$job", status=~"warning|critical"}) > 0',
    ),
    ['buildfleet_check_status'],
  );
  assert.deepEqual(metricNamesInPromQL('increase(a_total[1h]) > 1 unless on (instance) b == 1 offset 5m'), [
    'a_total',
    'b',
  ]);
  assert.deepEqual(metricNamesInPromQL('min by (registry) (x_seconds) - time() < 14 * 86400'), ['x_seconds']);
  assert.deepEqual(metricNamesInPromQL('nodejs_eventloop_lag_p99_seconds{instance=~"${instance}"}'), [
    'nodejs_eventloop_lag_p99_seconds',
  ]);
  assert.deepEqual(metricNamesInPromQL('count(up{job="x"} == 0) or vector(0)'), ['up']);
  assert.deepEqual(metricNamesInPromQL('quantile by (r) (0.5, d_seconds{phase="total"}) / 1e3'), ['d_seconds']);
});
