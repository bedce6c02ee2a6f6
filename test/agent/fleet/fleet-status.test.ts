// `fleet status` as a child process against three real agents (accepting, refusing because the
// real skopeo 1.9.3 is below the minimum, degraded because a registry on a closed loopback port
// is unreachable) plus 200 fake agents served by this process: every target is listed once with
// the right decision or error, the exit code is 1, the sweep finishes within the budget
// ceil(n / concurrency) * timeout (plus start-up slack) although 40 endpoints never answer,
// and no more connections are open at once than --concurrency allows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { needTools } from '../../support/tools.ts';
import { agentBin, neverSchedule, startRealAgent, type RealAgent } from './real-agent.ts';
import { startFarm, type EndpointKind, type Farm } from './endpoint-farm.ts';
import { closedPorts } from './closed-ports.ts';
import { childOutput, type ChildOutput } from '../../support/child-output.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-fleet-'));
const agents: Record<'accepting' | 'refusing' | 'degraded', RealAgent | null> = {
  accepting: null,
  refusing: null,
  degraded: null,
};
let farm: Farm;

const kinds: EndpointKind[] = [
  ...Array<EndpointKind>(60).fill('accept'),
  ...Array<EndpointKind>(30).fill('refuse'),
  ...Array<EndpointKind>(20).fill('degraded'),
  ...Array<EndpointKind>(40).fill('slow'),
  ...Array<EndpointKind>(20).fill('dead'),
  ...Array<EndpointKind>(10).fill('bad-json'),
  ...Array<EndpointKind>(10).fill('hang-up'),
  ...Array<EndpointKind>(10).fill('not-found'),
];
// Interleaved so every round of the sweep meets every kind.
const shuffled = kinds
  .map((k, i) => ({ k, key: (i * 7919) % kinds.length }))
  .sort((a, b) => a.key - b.key)
  .map((x) => x.k);

const expected: Record<EndpointKind, { state: string; error: string | null }> = {
  accept: { state: 'accept', error: null },
  refuse: { state: 'refuse', error: null },
  degraded: { state: 'degraded', error: null },
  slow: { state: 'no-answer', error: 'timeout' },
  dead: { state: 'no-answer', error: 'unreachable' },
  'bad-json': { state: 'no-answer', error: 'bad-json' },
  'hang-up': { state: 'no-answer', error: 'connection-lost' },
  'not-found': { state: 'no-answer', error: 'unexpected-status' },
};

const diskOnly = `  skopeo: { enabled: false }
  blobinfocache: { enabled: false }
  registries: { enabled: false }
  disk:
    schedule: "${neverSchedule}"
    jitterSeconds: 0
    paths: [ { path: ${scratch}, warnFree: "0%", criticalFree: "0%" } ]
`;

before(async () => {
  farm = await startFarm(shuffled);
  const [registryPort] = await closedPorts(1);
  const started = await Promise.all([
    startRealAgent(scratch, 'accepting', diskOnly),
    // The real skopeo of this machine (1.9.3) is below the default minimum 1.14.0.
    startRealAgent(
      scratch,
      'refusing',
      diskOnly.replace(
        '  skopeo: { enabled: false }',
        `  skopeo: { minVersion: "1.14.0", schedule: "${neverSchedule}", jitterSeconds: 0 }`,
      ),
    ),
    startRealAgent(
      scratch,
      'degraded',
      diskOnly.replace(
        '  registries: { enabled: false }',
        `  registries:
    schedule: "${neverSchedule}"
    jitterSeconds: 0
    failuresBeforeCritical: 1
    targets: [ { name: loopback, url: "http://127.0.0.1:${registryPort}", timeoutSeconds: 2 } ]`,
      ),
    ),
  ]);
  [agents.accepting, agents.refusing, agents.degraded] = started;
});

after(async () => {
  await Promise.all(Object.values(agents).map((a) => a?.stop()));
  await farm?.close();
  rmSync(scratch, { recursive: true, force: true });
});

function fleetStatus(args: string[], budgetMs: number): Promise<ChildOutput> {
  const child = spawn(process.execPath, [agentBin, 'fleet', 'status', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return childOutput(child, budgetMs);
}

interface JsonRow {
  target: string;
  state: string;
  decision: string | null;
  error: string | null;
  failingChecks: string[];
  reasons: { code: string }[];
  oldestResultAgeSeconds: number | null;
  labels: Record<string, string>;
}

test('200 fake agents and 3 real ones: every target once, right decision or error, within the budget', async (t) => {
  if (!needTools(t, 'skopeo')) return;
  const targetsFile = join(scratch, 'farm.yml');
  writeFileSync(targetsFile, stringify([{ targets: farm.endpoints.map((e) => e.address), labels: { site: 'farm' } }]));
  const outDir = mkdtempSync(join(scratch, 'sd-'));
  const fileSd = join(outDir, 'agents.json');
  const real = [agents.accepting!, agents.refusing!, agents.degraded!].map((a) => a.address);
  const concurrency = 16;
  const timeoutSeconds = 2;
  const n = farm.endpoints.length + real.length;
  // The documented bound plus generous slack for starting Node; a sequential sweep would need
  // 40 slow endpoints * 2 s = 80 s, far beyond it.
  const budgetMs = Math.ceil(n / concurrency) * timeoutSeconds * 1000 + 15_000;
  const run = await fleetStatus(
    [
      '--json',
      '--concurrency',
      String(concurrency),
      '--timeout',
      String(timeoutSeconds),
      '--targets',
      targetsFile,
      '--file-sd',
      fileSd,
      ...real,
    ],
    budgetMs,
  );

  assert.equal(run.signal, null, `killed at the budget of ${budgetMs} ms: ${run.stderr}`);
  assert.equal(run.code, 4, `some agents do not answer: ${run.stderr}`);
  assert.ok(run.wallMs < budgetMs);
  // The server side notices a closed connection a moment after the client opened the next one
  // (several workers whose slow endpoints time out together switch in the same instant), so it
  // can count a few more than --concurrency; an unbounded sweep would have ~200 open. The exact
  // bound is tested on mapBounded itself (bounded-map.test.ts).
  assert.ok(farm.maxOpenConnections() < 2 * concurrency, `${farm.maxOpenConnections()} connections open at once`);
  assert.ok(farm.maxOpenConnections() >= 2, 'the sweep asked agents in parallel');

  const doc = JSON.parse(run.stdout) as {
    summary: Record<string, number>;
    agents: JsonRow[];
    concurrency: number;
    timeoutSeconds: number;
  };
  assert.equal(doc.concurrency, concurrency);
  assert.equal(doc.timeoutSeconds, timeoutSeconds);
  assert.equal(doc.agents.length, n);
  assert.equal(new Set(doc.agents.map((r) => r.target)).size, n, 'every target listed once');
  const byTarget = new Map(doc.agents.map((r) => [r.target, r]));
  for (const e of farm.endpoints) {
    const row = byTarget.get(e.address);
    assert.ok(row, e.address);
    assert.equal(row.state, expected[e.kind].state, `${e.kind} ${e.address}: ${JSON.stringify(row)}`);
    assert.equal(row.error, expected[e.kind].error, `${e.kind} ${e.address}`);
    assert.deepEqual(row.labels, { site: 'farm' });
    if (e.kind === 'refuse') assert.deepEqual(row.failingChecks, ['blobinfocache']);
    if (e.kind === 'degraded') assert.deepEqual(row.failingChecks, ['registry']);
    if (expected[e.kind].error === null) assert.equal(row.oldestResultAgeSeconds, e.ageSeconds);
  }
  const accepting = byTarget.get(real[0])!;
  assert.equal(accepting.state, 'accept', JSON.stringify(accepting));
  assert.deepEqual(accepting.failingChecks, []);
  assert.equal(typeof accepting.oldestResultAgeSeconds, 'number');
  const refusing = byTarget.get(real[1])!;
  assert.equal(refusing.state, 'refuse', JSON.stringify(refusing));
  assert.deepEqual(refusing.failingChecks, ['skopeo']);
  assert.ok(
    refusing.reasons.some((r) => r.code === 'skopeo-below-minimum'),
    JSON.stringify(refusing.reasons),
  );
  const degraded = byTarget.get(real[2])!;
  assert.equal(degraded.state, 'degraded', JSON.stringify(degraded));
  assert.deepEqual(degraded.failingChecks, ['registry']);

  const count = (state: string) => farm.endpoints.filter((e) => expected[e.kind].state === state).length;
  assert.deepEqual(doc.summary, {
    total: n,
    accept: count('accept') + 1,
    degraded: count('degraded') + 1,
    refuse: count('refuse') + 1,
    noAnswer: count('no-answer'),
  });
  // Problems first: no answer, refuse, degraded, then accept.
  const rank = { 'no-answer': 0, refuse: 1, degraded: 2, accept: 3 } as Record<string, number>;
  const ranks = doc.agents.map((r) => rank[r.state]);
  assert.deepEqual(
    ranks,
    [...ranks].sort((a, b) => a - b),
  );

  // file_sd: every target once, answering or not, the input's labels kept; nothing left behind.
  const groups = JSON.parse(readFileSync(fileSd, 'utf8')) as { targets: string[]; labels: Record<string, string> }[];
  assert.equal(groups.length, 2);
  const plain = groups.find((g) => Object.keys(g.labels).length === 0);
  const labelled = groups.find((g) => g.labels.site === 'farm');
  assert.deepEqual(plain?.targets.sort(), [...real].sort());
  assert.deepEqual(labelled?.targets.sort(), farm.endpoints.map((e) => e.address).sort());
  assert.deepEqual(labelled?.labels, { site: 'farm' });
  assert.deepEqual(readdirSync(outDir), ['agents.json']);
});

test('the table: problems first, one line per target; exit 4, 1, 3 by the worst agent, 0 only when all accept', async () => {
  const pick = (kind: EndpointKind) => farm.endpoints.find((e) => e.kind === kind)!.address;
  const targets = [
    pick('accept'),
    pick('slow'),
    pick('refuse'),
    pick('dead'),
    pick('degraded'),
    agents.accepting!.address,
  ];
  const run = await fleetStatus(['--timeout', '2', ...targets], 30_000);
  assert.equal(run.code, 4, run.stderr);
  const lines = run.stdout.trim().split('\n');
  assert.match(lines[0], /^TARGET\s+DECISION\s+AGE\s+LATENCY\s+FAILING$/);
  const states = lines.slice(1, 1 + targets.length).map((l) => l.split(/\s+/)[1]);
  assert.deepEqual(states, ['no-answer', 'no-answer', 'refuse', 'degraded', 'accept', 'accept']);
  assert.match(run.stdout, /refuse .*blobinfocache:cache-corrupt/);
  assert.match(run.stdout, /timeout: no complete answer within 2000 ms/);
  assert.match(lines.at(-1)!, /^6 agents: 2 accept, 1 degraded, 1 refuse, 2 no answer$/);

  const healthy = await fleetStatus([pick('accept'), agents.accepting!.address], 30_000);
  assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
  const refusing = await fleetStatus([pick('accept'), pick('refuse'), pick('degraded')], 30_000);
  assert.equal(refusing.code, 1, refusing.stdout + refusing.stderr);
  const degraded = await fleetStatus([pick('accept'), pick('degraded')], 30_000);
  assert.equal(degraded.code, 3, degraded.stdout + degraded.stderr);
});

test('usage errors exit 2 and say what is wrong', async () => {
  const none = await fleetStatus([], 30_000);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no targets/);
  const badFile = join(scratch, 'bad-targets.txt');
  writeFileSync(badFile, '# build hosts\nbuild-01\nbuild 02\nbuild-03:70000\n');
  const bad = await fleetStatus(['--targets', badFile], 30_000);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad-targets.txt:3: "build 02"/);
  assert.match(bad.stderr, /bad-targets.txt:4: "build-03:70000": the port must be 1-65535/);
  const missing = await fleetStatus(['--targets', join(scratch, 'nope.txt')], 30_000);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /ENOENT/);
  const badOpt = await fleetStatus(['--concurrency', '0', 'build-01'], 30_000);
  assert.equal(badOpt.code, 2);
  const badSd = await fleetStatus(['--file-sd', join(scratch, 'out.txt'), 'build-01'], 30_000);
  assert.equal(badSd.code, 2);
  assert.match(badSd.stderr, /\.json, \.yml or \.yaml/);
});
