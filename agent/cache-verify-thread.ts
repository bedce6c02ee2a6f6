// The worker thread side of agent/cache-verify-worker.ts: verifies cache files off the main
// event loop, so /metrics and /v1/preflight keep answering while a large cache is walked.
// File descriptors are per process, so the /proc/self/fd paths the blobcache check hands over
// are as valid here as in the main thread.
import { parentPort } from 'node:worker_threads';
import { verifyCacheFile, type VerifyOptions } from '../checks/blobcache/verify.ts';

export interface VerifyRequest {
  id: number;
  path: string;
  opts: VerifyOptions;
}

// node:sqlite prints an ExperimentalWarning on every 22.x, and a worker prints its own warnings;
// like agent/bin.ts, drop that one and keep every other.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name === 'ExperimentalWarning' && /SQLite/i.test(w.message)) return;
  process.stderr.write(`${w.name}: ${w.message}\n`);
});

parentPort?.on('message', (request: VerifyRequest) => {
  verifyCacheFile(request.path, request.opts).then(
    (verdict) => parentPort?.postMessage({ id: request.id, verdict }),
    (err: unknown) => parentPort?.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
