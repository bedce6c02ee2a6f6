// Cache verification in a worker thread. Walking a 1 GB bolt file is seconds of CPU; on the
// main thread it would stall every HTTP answer for that long. One worker, started on first use,
// answers requests by id; a verification that outlives its bound gets the worker terminated
// (a hung read on a dead mount must not hold the blobcache check forever) and a fresh one is
// started for the next request.
import { Worker } from 'node:worker_threads';
import type { CacheVerdict } from '../checks/blobcache/verdict.ts';
import type { VerifyOptions } from '../checks/blobcache/verify.ts';
import type { VerifyRequest } from './cache-verify-thread.ts';

export interface WorkerVerifier {
  verify(path: string, opts?: VerifyOptions): Promise<CacheVerdict>;
  close(): Promise<void>;
}

export interface WorkerVerifierOptions {
  maxVerifySeconds: number;
  // An idle worker is stopped after this long: it is a V8 isolate of its own (tens of MB
  // resident), and verifications come once a minute. Starting one again costs ~30 ms.
  idleSeconds?: number;
}

// The walk's memory is bounded by design (docs/bolt-verifier.md); a heap far past that bound is
// a bug, and ends as a failed verification instead of a daemon that grows.
const workerLimits = { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 8 };

type Reply = { id: number; verdict: CacheVerdict } | { id: number; error: string };

interface Pending {
  path: string;
  resolve: (v: CacheVerdict) => void;
  timer: NodeJS.Timeout;
}

// Problem codes this module adds to verdicts (docs/admission.md).
export const verifyWorkerCodes = { timeout: 'verify-timeout', failed: 'verify-worker-failed' } as const;

function unreadable(path: string, code: string, message: string): CacheVerdict {
  return { path, format: 'unknown', verdict: 'unreadable', problems: [{ code, message }], warnings: [], stats: {}, durationMs: 0 };
}

export function createWorkerVerifier(opts: WorkerVerifierOptions): WorkerVerifier {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let idleTimer: NodeJS.Timeout | null = null;
  const stopIdleTimer = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = null;
  };

  // Fails every request in flight and drops the worker; the next request starts a new one.
  function discard(code: string, message: string): void {
    const w = worker;
    worker = null;
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.resolve(unreadable(p.path, code, `${p.path}: ${message}`));
    }
    if (w) void w.terminate();
  }

  function ensureWorker(): Worker {
    if (worker) return worker;
    const w = new Worker(new URL('./cache-verify-thread.ts', import.meta.url), { resourceLimits: workerLimits });
    w.on('message', (reply: Reply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      clearTimeout(p.timer);
      pending.delete(reply.id);
      p.resolve('verdict' in reply ? reply.verdict : unreadable(p.path, verifyWorkerCodes.failed, `${p.path}: ${reply.error}`));
      // Idle: an idle worker must not keep a one-shot CLI process alive, nor stay resident.
      if (pending.size === 0) {
        w.unref();
        stopIdleTimer();
        idleTimer = setTimeout(() => {
          if (worker !== w || pending.size > 0) return;
          worker = null;
          void w.terminate();
        }, (opts.idleSeconds ?? 5) * 1000);
        idleTimer.unref();
      }
    });
    w.on('error', (err) => {
      if (worker === w) discard(verifyWorkerCodes.failed, `verification worker failed: ${err.message}`);
    });
    w.on('exit', (code) => {
      if (worker === w) discard(verifyWorkerCodes.failed, `verification worker exited with code ${code}`);
    });
    worker = w;
    return w;
  }

  return {
    verify(path, verifyOpts = {}) {
      return new Promise((resolve) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          discard(verifyWorkerCodes.timeout, `verification did not finish within ${opts.maxVerifySeconds} s; the worker was restarted`);
        }, opts.maxVerifySeconds * 1000);
        timer.unref();
        pending.set(id, { path, resolve, timer });
        stopIdleTimer();
        const w = ensureWorker();
        w.ref();
        const request: VerifyRequest = { id, path, opts: verifyOpts };
        w.postMessage(request);
      });
    },
    async close() {
      stopIdleTimer();
      const w = worker;
      discard(verifyWorkerCodes.failed, 'the agent is stopping');
      if (w) await w.terminate();
    },
  };
}
