// The V8 flags the daemon runs with, wherever it is started: the RPM's /usr/bin/buildfleet-agent
// wrapper, `npm start`, and the daemon benchmarks (test/deploy/node-flags.test.ts keeps the
// three in step). They trade a little allocation speed for a heap that stays near its live size
// (docs/benchmarks.md, "Daemon"): with every check on a 1 s schedule, V8's defaults let the heap
// grow to ~25 MiB before a full collection; with these it stays at ~17 MiB (measured RSS
// 81 → 74 MiB).
//  --max-semi-space-size=1  a 1 MiB young generation instead of up to 16 MiB: the daemon's
//                            garbage is small and short-lived.
//  --optimize-for-size      V8 grows the old generation less eagerly and prefers memory over
//                            speed where it has the choice.
// The cache verifier child (agent/cache-verify-child.ts) is started without them: it is short
// and wants speed.
export const daemonNodeFlags = ['--max-semi-space-size=1', '--optimize-for-size'] as const;
