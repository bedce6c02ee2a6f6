import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CheckState, Maintenance } from '../../agent/core-types.ts';
import { decisionExitCode, decisionHttpStatus, evaluatePreflight } from '../../agent/admission.ts';

const now = new Date('2026-11-28T10:00:00.000Z');
const meta = { host: 'build-07', agentVersion: '9.9.9' };

function state(name: string, overrides: Partial<CheckState> = {}): CheckState {
  return {
    name,
    scope: 'host',
    status: 'ok',
    rawStatus: 'ok',
    summary: `${name} fine`,
    reasons: [],
    details: { kind: 'disk', paths: [] },
    observedAt: new Date(now.getTime() - 4200),
    durationMs: 38.4,
    consecutiveFailures: 0,
    runs: 1,
    failures: 0,
    timeouts: 0,
    statusChanges: 0,
    ...overrides,
  };
}

const corrupt = {
  status: 'critical' as const,
  rawStatus: 'critical' as const,
  reasons: [{ code: 'cache-corrupt' as const, message: '1 of 2 caches corrupt' }],
};
const registryDown = {
  scope: 'shared' as const,
  status: 'critical' as const,
  reasons: [{ code: 'registry-unreachable' as const, message: 'harbor: connection refused' }],
};

describe('admission', () => {
  it('accepts when every check ran and is ok or warning, with the conventions JSON shape', () => {
    const p = evaluatePreflight([state('disk'), state('skopeo', { status: 'warning' })], null, now, meta);
    assert.equal(p.decision, 'accept');
    assert.deepEqual(p.reasons, []);
    assert.equal(p.host, 'build-07');
    assert.equal(p.agentVersion, '9.9.9');
    assert.equal(p.evaluatedAt, '2026-11-28T10:00:00.000Z');
    assert.equal(p.maintenance, null);
    assert.deepEqual(p.checks[0], {
      name: 'disk',
      status: 'ok',
      scope: 'host',
      summary: 'disk fine',
      observedAt: '2026-11-28T09:59:55.800Z',
      ageSeconds: 4.2,
      durationMs: 38,
      details: { kind: 'disk', paths: [] },
    });
  });

  it('refuses with not-yet-checked until every check has run since start', () => {
    const p = evaluatePreflight(
      [state('disk'), state('skopeo', { runs: 0, observedAt: null, status: 'unknown' })],
      null,
      now,
      meta,
    );
    assert.equal(p.decision, 'refuse');
    assert.deepEqual(
      p.reasons.map((r) => [r.check, r.code]),
      [['skopeo', 'not-yet-checked']],
    );
    assert.equal(p.checks[1].observedAt, null);
    assert.equal(p.checks[1].ageSeconds, null);
  });

  it('keeps a sick verdict from before a restart visible, and a healthy one does not accept', () => {
    const sick = evaluatePreflight([state('blobinfocache', { ...corrupt, runs: 0 })], null, now, meta);
    assert.equal(sick.decision, 'refuse');
    assert.deepEqual(
      sick.reasons.map((r) => r.code),
      ['not-yet-checked', 'cache-corrupt'],
    );
    const healthy = evaluatePreflight([state('blobinfocache', { runs: 0 })], null, now, meta);
    assert.equal(healthy.decision, 'refuse');
    assert.deepEqual(
      healthy.reasons.map((r) => r.code),
      ['not-yet-checked'],
    );
  });

  it('refuses on a host-scope critical with the check reasons', () => {
    const p = evaluatePreflight([state('blobinfocache', corrupt), state('registries', registryDown)], null, now, meta);
    assert.equal(p.decision, 'refuse');
    assert.deepEqual(p.reasons, [
      { check: 'blobinfocache', code: 'cache-corrupt', message: '1 of 2 caches corrupt' },
      { check: 'registries', code: 'registry-unreachable', message: 'harbor: connection refused' },
    ]);
  });

  it('degrades when only shared-scope checks fail', () => {
    const p = evaluatePreflight([state('disk'), state('registries', registryDown)], null, now, meta);
    assert.equal(p.decision, 'degraded');
    assert.deepEqual(
      p.reasons.map((r) => r.code),
      ['registry-unreachable'],
    );
    const unknownShared = evaluatePreflight(
      [state('registries', { scope: 'shared', status: 'unknown' })],
      null,
      now,
      meta,
    );
    assert.equal(unknownShared.decision, 'degraded');
  });

  it('counts an unknown host-scope check as a failure, and names a reason when the check gave none', () => {
    const p = evaluatePreflight([state('disk', { status: 'unknown', summary: 'statfs hung' })], null, now, meta);
    assert.equal(p.decision, 'refuse');
    assert.deepEqual(p.reasons, [{ check: 'disk', code: 'check-unknown', message: 'statfs hung' }]);
    const bare = evaluatePreflight([state('disk', { status: 'critical', summary: 'bad' })], null, now, meta);
    assert.deepEqual(
      bare.reasons.map((r) => r.code),
      ['check-critical'],
    );
  });

  it('refuses during maintenance, and ignores an expired one', () => {
    const m: Maintenance = {
      reason: 'kernel update',
      since: '2026-11-28T09:00:00.000Z',
      expiresAt: '2026-11-28T11:00:00.000Z',
      by: 'api',
    };
    const p = evaluatePreflight([state('disk')], m, now, meta);
    assert.equal(p.decision, 'refuse');
    assert.equal(p.reasons[0].code, 'maintenance');
    assert.equal(p.reasons[0].check, 'agent');
    assert.match(p.reasons[0].message, /kernel update/);
    assert.deepEqual(p.maintenance, m);
    const expired = evaluatePreflight([state('disk')], { ...m, expiresAt: '2026-11-28T10:00:00.000Z' }, now, meta);
    assert.equal(expired.decision, 'accept');
    assert.equal(expired.maintenance, null);
  });

  it('refuses a request for a check that does not exist', () => {
    const p = evaluatePreflight([state('disk')], null, now, { ...meta, unknownChecks: ['dsik'] });
    assert.equal(p.decision, 'refuse');
    assert.deepEqual(
      p.reasons.map((r) => [r.check, r.code]),
      [['dsik', 'unknown-check']],
    );
  });

  it('accepts an empty set of checks (everything disabled)', () => {
    assert.equal(evaluatePreflight([], null, now, meta).decision, 'accept');
  });

  it('maps decisions to the CLI exit codes and HTTP statuses of the conventions', () => {
    assert.deepEqual(
      ['accept', 'refuse', 'degraded'].map((d) => decisionExitCode(d as 'accept')),
      [0, 1, 3],
    );
    assert.deepEqual(
      ['accept', 'refuse', 'degraded'].map((d) => decisionHttpStatus(d as 'accept')),
      [200, 503, 429],
    );
  });
});
