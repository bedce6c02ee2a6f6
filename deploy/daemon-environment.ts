// The environment the daemon's Node.js starts with, wherever it is started: the RPM's
// /usr/bin/buildfleet-agent wrapper, `npm start`, and the daemon benchmarks
// (test/deploy/daemon-environment.test.ts keeps them in step).
//
// glibc gives each thread that allocates an arena of its own (up to 8 per core); the daemon's
// libuv and V8 helper threads then keep freed memory spread over many arenas. Two arenas:
// measured 78.2 → 76.0 MiB median RSS in the same soak (docs/benchmarks.md, "Daemon").
//
// V8 flags were measured too and are not used. --optimize-for-size keeps the heap small (a
// 5-minute soak: 72.1 against 75.3 MiB median) but under load as well, where /v1/preflight and
// /metrics fell to 62 % and 56 % of a bare server's throughput. `serve` gets the same memory by
// asking for a major GC every 30 s instead (agent/heap-trim.ts). --max-old-space-size (128 or
// 48) changed nothing: V8's limit between major GCs is the live size plus 8 MiB either way.
// Dropping TurboFan (--no-opt, or Maglev only) saves ~5 MiB of the node binary's pages and cuts
// /v1/preflight to 15 % of a bare server.
export const daemonEnvironment: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
