// The agent side of bench/http-load.ts: the real daemon (config, core, checks, HTTP) started in
// its own process like `serve` (heap trim included), with the /metrics render cache set from the
// command line so the benchmark can show both settings. Prints {"port": N} on stdout when it serves.
// Usage: node bench/agent-server.ts CONFIG.yaml RENDER_CACHE_MS
import { startDaemon } from '../agent/daemon.ts';
import { createLogger } from '../agent/log.ts';
import { startHeapTrim } from '../agent/heap-trim.ts';

const [configPath, cacheMs] = process.argv.slice(2);
const log = createLogger({ level: 'warn' });
const started = await startDaemon({
  configPath,
  listen: '127.0.0.1:0',
  log,
  metricsRenderCacheMs: Number(cacheMs ?? 1000),
});
if (!started.ok) {
  process.stderr.write(`${started.errors.join('\n')}\n`);
  process.exit(started.exitCode);
}
const { daemon } = started;
const heapTrim = startHeapTrim();
process.stdout.write(`${JSON.stringify({ port: daemon.address.port })}\n`);
process.on(
  'SIGTERM',
  () =>
    void daemon.stop('SIGTERM').then(() => {
      heapTrim.stop();
      process.exit(0);
    }),
);
