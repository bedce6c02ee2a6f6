// The environment the daemon's Node.js starts with, wherever it is started: the RPM's
// /usr/bin/buildfleet-agent wrapper, `npm start`, and the daemon benchmarks
// (test/deploy/daemon-environment.test.ts keeps them in step).
//
// glibc gives each thread that allocates an arena of its own (up to 8 per core); the daemon's
// libuv and V8 helper threads then keep freed memory spread over many arenas. Two arenas:
// measured 78.2 → 76.0 MiB median RSS in the same soak (docs/benchmarks.md, "Daemon").
//
// V8 flags were measured too and are not used: --max-semi-space-size=1 and --optimize-for-size
// saved 1.5 MiB once the libraries were trimmed (72.2 vs 73.7 MiB) but each cost ~25 points of
// HTTP CPU efficiency against a bare server; dropping TurboFan (--no-opt, or Maglev only) saves
// ~5 MiB of the node binary's pages and cuts /v1/preflight to 15 % of a bare server.
export const daemonEnvironment: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
