// Replays issue 12's connection attacks against the bundled agent on 127.0.0.1: ~1000 idle
// connections under `ulimit -n 1024` followed by a forced disk check (the descriptor-exhaustion
// crash), slow headers and slow bodies, and endless bodies after error answers. Each asserts:
// the agent is alive, /healthz answers quickly, RSS and descriptors stay bounded.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle, percentile, probeHealthz, startAgent, token, writeAgentFiles } from './http-daemon.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bfa-res-http-'));
let bundle = '';
before(async () => {
  bundle = await buildBundle(scratch);
});
after(() => rmSync(scratch, { recursive: true, force: true }));

function openIdle(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => resolve(null));
    s.on('close', () => undefined);
  });
}

// Resolves with how long the server took to close `s` (reading its answer meanwhile), or -1.
function closedWithin(s: Socket, ms: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(-1), ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
    s.on('error', () => undefined);
    s.resume();
  });
}

// The two replays run side by side: each on its own agent, so the flood cannot evict the slow
// clients whose timeouts the other one measures.
describe('connections', { concurrency: 2 }, () => {
  test('1000 idle connections under ulimit -n 1024, then a forced disk check: alive, /healthz quick, RSS bounded', async (t) => {
    const files = writeAgentFiles(join(scratch, 'flood'));
    const agent = await startAgent(bundle, files.configFile, { nofile: 1024 });
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 1000; i++) {
        const s = await openIdle(agent.port);
        if (s) sockets.push(s);
      }
      const descriptors = agent.openDescriptors();
      assert.ok(descriptors < 700, `the agent holds ${descriptors} descriptors (cap 512 connections + 32 reserve)`);
      // What crashed the agent: a check that spawns a child while descriptors are exhausted.
      const res = await fetch(`${agent.base}/v1/preflight?max_age=0&checks=disk`, {
        signal: AbortSignal.timeout(20_000),
      });
      const body = (await res.json()) as { checks: { name: string; status: string; observedAt: string | null }[] };
      assert.equal(body.checks[0].status, 'ok', JSON.stringify(body.checks[0]));
      assert.ok(agent.alive(), agent.logTail());
      const probes = await probeHealthz(agent.base, 100);
      assert.deepEqual(probes.failures, []);
      const p99 = percentile(probes.times, 99);
      // The target is 100 ms (bench/ measures it on a quiet machine: docs/benchmarks.md); CI
      // shares 2 cores with the rest of the suite, so this asserts "no waiting for a slot"
      // (before the cap: 1-8 s, or no answer at all) with room for a loaded machine.
      assert.ok(
        p99 <= 250,
        `/healthz p99 ${p99.toFixed(1)} ms under the flood (median ${percentile(probes.times, 50).toFixed(1)})`,
      );
      const rss = agent.rssMiB();
      t.diagnostic(
        `descriptors ${descriptors}, /healthz p50 ${percentile(probes.times, 50).toFixed(1)} ms p99 ${p99.toFixed(1)} ms, RSS ${rss.toFixed(1)} MiB`,
      );
      assert.ok(rss < 150, `RSS ${rss.toFixed(1)} MiB`);
      assert.ok(
        agent.logs.every((l) => l.event !== 'http-server-error' || !String(l.err).includes('EMFILE')),
        'no accept failed for lack of descriptors',
      );
    } finally {
      for (const s of sockets) s.destroy();
      const stopped = await agent.stop();
      assert.equal(stopped.code, 0, agent.logTail());
    }
  });

  test('slow headers are cut after 10 s and slow bodies after 30 s (each give or take 1 s), endless bodies after an error are not read', async (t) => {
    const files = writeAgentFiles(join(scratch, 'slow'));
    const agent = await startAgent(bundle, files.configFile);
    const timers: NodeJS.Timeout[] = [];
    try {
      const headers = await openIdle(agent.port);
      const body = await openIdle(agent.port);
      assert.ok(headers && body);
      headers.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      timers.push(setInterval(() => headers.write('X-Slow: 1\r\n'), 1000));
      body.write(
        `POST /v1/maintenance HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
      );
      timers.push(setInterval(() => body.write(' '), 1000));
      const cut = Promise.all([closedWithin(headers, 40_000), closedWithin(body, 40_000)]);

      // Meanwhile: endless chunked bodies after 401, 404 and 405 are answered and cut.
      for (const head of [
        'POST /v1/maintenance HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
        'POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
        'PUT /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      ]) {
        const s = await openIdle(agent.port);
        assert.ok(s);
        let sent = 0;
        const frame = Buffer.from(`10000\r\n${'y'.repeat(0x10000)}\r\n`);
        let open = true;
        s.on('close', () => {
          open = false;
        });
        const pump = (): void => {
          while (open && sent < 200 * 1024 * 1024) {
            sent += frame.length;
            if (!s.write(frame)) return void s.once('drain', pump);
          }
        };
        s.write(head);
        pump();
        const closedAfter = await closedWithin(s, 5000);
        assert.ok(closedAfter >= 0, `${head.split(' ')[1]}: still reading after 5 s (${sent} bytes sent)`);
        assert.ok(sent < 32 * 1024 * 1024, `${head.split(' ')[1]}: the agent took ${sent} bytes`);
        s.destroy();
      }

      const [h, b] = await cut;
      t.diagnostic(`slow headers cut after ${h} ms, slow body after ${b} ms`);
      assert.ok(h >= 9_000 && h <= 12_000, `slow headers held ${h} ms`);
      assert.ok(b >= 29_000 && b <= 32_000, `slow body held ${b} ms`);
      assert.ok(agent.alive());
      const probes = await probeHealthz(agent.base, 20);
      assert.deepEqual(probes.failures, []);
    } finally {
      for (const t of timers) clearInterval(t);
      await agent.stop();
    }
  });
});
