import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentAnswer } from '../../../agent/fleet/ask-agent.ts';
import { fleetExitCode, fleetReport, rowOf } from '../../../agent/fleet/fleet-report.ts';
import { formatAge, formatFleetTable } from '../../../agent/fleet/fleet-table.ts';
import { fileSdGroups, fileSdPathProblem, renderFileSd, writeFileAtomically } from '../../../agent/fleet/file-sd.ts';
import { parseTarget, type FleetTarget } from '../../../agent/fleet/targets.ts';
import type { Preflight } from '../../../agent/core-types.ts';

function target(text: string, labels: Record<string, string> = {}): FleetTarget {
  const p = parseTarget(text);
  assert.ok(p.ok);
  return { ...p.target, labels };
}

function answer(
  decision: Preflight['decision'],
  ages: (number | null)[],
  reasons: Preflight['reasons'] = [],
): AgentAnswer {
  const preflight: Preflight = {
    decision,
    host: 'h',
    agentVersion: '0.1.0',
    evaluatedAt: '2026-11-28T10:00:00.000Z',
    reasons,
    maintenance: null,
    checks: ages.map((ageSeconds, i) => ({
      name: `c${i}`,
      status: 'ok',
      scope: 'host',
      summary: '',
      observedAt: null,
      ageSeconds,
      durationMs: 1,
      details: {},
    })),
  };
  return { ok: true, httpStatus: { accept: 200, degraded: 429, refuse: 503 }[decision], preflight, latencyMs: 3 };
}

const noAnswer: AgentAnswer = {
  ok: false,
  error: 'timeout',
  message: 'no complete answer within 1000 ms',
  httpStatus: null,
  latencyMs: 1000,
};

test('rows: failing checks from the reasons, the oldest age, problems first with natural host order', () => {
  const report = fleetReport([
    rowOf(target('build-10'), answer('accept', [3, 40, null])),
    rowOf(target('build-9'), answer('accept', [1])),
    rowOf(
      target('build-2'),
      answer(
        'refuse',
        [5],
        [
          { check: 'blobinfocache', code: 'cache-corrupt', message: 'm' },
          { check: 'blobinfocache', code: 'cache-unverified', message: 'm' },
          { check: 'agent', code: 'maintenance', message: 'kernel' },
        ],
      ),
    ),
    rowOf(
      target('build-3'),
      answer('degraded', [], [{ check: 'registry', code: 'registry-unreachable', message: 'm' }]),
    ),
    rowOf(target('build-1'), noAnswer),
  ]);
  assert.deepEqual(
    report.rows.map((r) => [r.target, r.state]),
    [
      ['build-1:20580', 'no-answer'],
      ['build-2:20580', 'refuse'],
      ['build-3:20580', 'degraded'],
      ['build-9:20580', 'accept'],
      ['build-10:20580', 'accept'],
    ],
  );
  assert.deepEqual(report.rows[1].failingChecks, ['blobinfocache', 'agent']);
  assert.equal(report.rows[4].oldestResultAgeSeconds, 40);
  assert.equal(report.rows[2].oldestResultAgeSeconds, null);
  assert.deepEqual(report.summary, { total: 5, accept: 2, degraded: 1, refuse: 1, noAnswer: 1 });
  assert.equal(fleetExitCode(report), 4, 'an agent that did not answer outranks one that refused');
  const table = formatFleetTable(report);
  assert.match(table, /build-1:20580 +no-answer +- +1000 ms +timeout: no complete answer/);
  assert.match(
    table,
    /build-2:20580 +refuse .*blobinfocache:cache-corrupt blobinfocache:cache-unverified agent:maintenance/,
  );
});

test('exit code: the worst agent decides (4 no answer, 1 refuse, 3 degraded, 0 all accept); 2 for nothing asked', () => {
  const accept = rowOf(target('a'), answer('accept', [1]));
  const degraded = rowOf(target('b'), answer('degraded', [1]));
  const refuse = rowOf(target('c'), answer('refuse', [1]));
  const gone = rowOf(target('d'), {
    ok: false,
    error: 'unreachable',
    message: 'ECONNREFUSED',
    httpStatus: null,
    latencyMs: 1,
  });
  assert.equal(fleetExitCode(fleetReport([accept])), 0);
  assert.equal(fleetExitCode(fleetReport([accept, degraded])), 3);
  assert.equal(fleetExitCode(fleetReport([accept, degraded, refuse])), 1);
  assert.equal(fleetExitCode(fleetReport([gone, degraded, refuse])), 4);
  assert.equal(fleetExitCode(fleetReport([])), 2);
});

test('ages read at a glance', () => {
  assert.deepEqual(
    [formatAge(null), formatAge(4.4), formatAge(119), formatAge(125), formatAge(3700), formatAge(7300)],
    ['-', '4s', '119s', '2m05s', '61m40s', '2h01m'],
  );
});

test('file_sd groups: by label set, stable order, optional bounded state label', () => {
  const rows = [
    rowOf(target('b', { site: 'dc1' }), answer('refuse', [1])),
    rowOf(target('a', { site: 'dc1' }), answer('accept', [1])),
    rowOf(target('c'), noAnswer),
  ];
  assert.deepEqual(fileSdGroups(rows, { decisionLabel: false }), [
    { targets: ['a:20580', 'b:20580'], labels: { site: 'dc1' } },
    { targets: ['c:20580'], labels: {} },
  ]);
  const withState = fileSdGroups(rows, { decisionLabel: true });
  assert.deepEqual(
    withState.map((g) => [g.targets, g.labels]),
    [
      [['a:20580'], { buildfleet_fleet_state: 'accept', site: 'dc1' }],
      [['c:20580'], { buildfleet_fleet_state: 'no-answer' }],
      [['b:20580'], { buildfleet_fleet_state: 'refuse', site: 'dc1' }],
    ],
  );
  assert.equal(
    renderFileSd(fileSdGroups(rows, { decisionLabel: false })),
    renderFileSd(fileSdGroups([...rows].reverse(), { decisionLabel: false })),
  );
  assert.equal(fileSdPathProblem('/x/agents.json'), null);
  assert.equal(fileSdPathProblem('/x/agents.yml'), null);
  assert.match(fileSdPathProblem('/x/agents') ?? '', /must end in/);
});

test('atomic write: replaces the file, leaves no temporary, reports an unwritable place as a value', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfa-filesd-'));
  try {
    const path = join(dir, 'agents.json');
    assert.deepEqual(writeFileAtomically(path, '[]\n'), { ok: true });
    assert.deepEqual(writeFileAtomically(path, '[{"targets":[],"labels":{}}]\n'), { ok: true });
    assert.equal(readFileSync(path, 'utf8'), '[{"targets":[],"labels":{}}]\n');
    assert.deepEqual(readdirSync(dir), ['agents.json']);
    const bad = writeFileAtomically(join(dir, 'missing', 'agents.json'), '[]\n');
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.match(bad.error, /cannot write .*ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
