// The bundle leaves out what the daemon never uses but would otherwise keep in memory: Node's
// built-ins are required, not imported (an ES import of node:http loads all of undici), and
// prom-client comes without its Pushgateway and cluster aggregator (https, zlib, cluster).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { bundleAgent } from '../../deploy/build-bundle.ts';
import { freePort } from '../support/registry.ts';

test('the bundle requires built-ins, carries only the prom-client parts it uses, and still serves metrics', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'bfa-lean-'));
  // One clean-up, in order: the daemon is killed and gone before its state directory is removed
  // (it may be writing its state file at that moment).
  let daemon: ChildProcess | null = null;
  t.after(async () => {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      const gone = new Promise((r) => daemon!.once('exit', r));
      daemon.kill('SIGKILL');
      await gone;
    }
    rmSync(work, { recursive: true, force: true, maxRetries: 3 });
  });
  const outfile = join(work, 'buildfleet-agent.mjs');
  const built = await bundleAgent({ outfile });
  assert.ok(built.ok, built.ok ? '' : built.errors.join('\n'));
  const text = readFileSync(outfile, 'utf8');

  // Only the banner's own three imports are ES imports of built-ins.
  const esmBuiltins = [...text.matchAll(/\bfrom\s*["'](node:[\w/]+)["']/g)].map((m) => m[1]).sort();
  assert.deepEqual(esmBuiltins, ['node:module', 'node:path', 'node:url']);

  const promInputs = built.inputs.filter((f) => f.includes('node_modules/prom-client/'));
  assert.ok(
    promInputs.some((f) => f.endsWith('lib/registry.js')),
    promInputs.join('\n'),
  );
  assert.ok(
    promInputs.some((f) => f.endsWith('lib/defaultMetrics.js')),
    promInputs.join('\n'),
  );
  for (const unused of ['lib/pushgateway.js', 'lib/cluster.js', 'index.js']) {
    assert.ok(!promInputs.some((f) => f.endsWith(`prom-client/${unused}`)), `prom-client/${unused} is in the bundle`);
  }

  // Behaviour: with --jitless WebAssembly does not exist, so a bundle that still loaded undici
  // (its HTTP parser is WebAssembly) would die at start; the daemon must serve /metrics with
  // prom-client's default metrics from the parts the bundle carries.
  const port = await freePort();
  const config = join(work, 'config.yaml');
  writeFileSync(
    config,
    [
      `listen: "127.0.0.1:${port}"`,
      `stateDir: ${join(work, 'state')}`,
      'logLevel: warn',
      'checks:',
      '  blobinfocache:',
      `    dirs: [${join(work, 'caches')}]`,
      '    discoverUsers: false',
      '  disk:',
      `    paths: [{ path: ${work} }]`,
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['--jitless', outfile, 'serve', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  daemon = child;
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let metrics = '';
  for (const deadline = Date.now() + 20_000; Date.now() < deadline && child.exitCode === null;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      if (res.ok) {
        metrics = await res.text();
        break;
      }
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  assert.doesNotMatch(stderr, /WebAssembly|undici/);
  assert.match(metrics, /^process_resident_memory_bytes \d+/m, `no default metrics; daemon stderr:\n${stderr}`);
  assert.match(metrics, /^nodejs_eventloop_lag_p99_seconds /m);
});
