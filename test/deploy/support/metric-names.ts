// What dashboards and alert rules may name: the metric names in the agent's real /metrics
// output, and the metric names a PromQL expression refers to.
import type { AgentCore } from '../../../agent/core-types.ts';
import { createAgentMetrics } from '../../../agent/metrics.ts';

// Series names Prometheus itself makes for every target.
export const prometheusOwnNames = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

// The families the agent renders (every family prints its # TYPE line even with no series),
// expanded to the sample names a query can use.
export async function exportedMetricNames(): Promise<Set<string>> {
  const idleCore = {
    checkNames: () => [],
    states: () => [],
    preflight: async () => ({
      decision: 'refuse',
      host: 'test',
      agentVersion: '0',
      evaluatedAt: new Date(0).toISOString(),
      reasons: [],
      maintenance: null,
      checks: [],
    }),
    runChecks: async () => [],
    maintenance: () => null,
    configReloadOk: () => true,
    eventCounts: () => new Map(),
  } as unknown as AgentCore;
  const rendered = await createAgentMetrics(idleCore).render(undefined);
  const names = new Set<string>();
  const body = String(rendered.body);
  for (const m of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

const keywords = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
  'atan2',
]);

// Metric names in a PromQL expression: identifiers left after removing strings, label matchers,
// grouping/matching label lists, range/subquery brackets, Grafana variables and function calls.
export function metricNamesInPromQL(expr: string): string[] {
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\$\{[^}]*\}|\$\w+/g, '0')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  // Numbers and durations (5m, 1h30m, 1e3, 0.25).
  e = e.replace(/(?<![A-Za-z0-9_:])\d[\w.]*(?:[eE][+-]\d+)?/g, ' ');
  const names: string[] = [];
  for (const m of e.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const [, ident, call] = m;
    if (call) continue; // a function
    if (keywords.has(ident.toLowerCase())) continue;
    names.push(ident);
  }
  return [...new Set(names)];
}
