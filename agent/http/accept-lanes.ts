// Accept lanes: extra listening sockets on the agent's own address (SO_REUSEPORT) that hand
// every connection they accept to the one HTTP server. Why: since libuv 1.45 (PR #3696, "don't
// accept() connections in a loop") a Node server accepts ONE connection per listening socket
// per event-loop turn. At the connection cap a turn serving ~500 busy keep-alive clients takes
// ~30 ms, the clients cut to make room queue in the kernel, and a fresh connection (an
// operator's /healthz) waited queue length x turn: measured p50 1.4 s, p99 5 s with ~55 queued
// (docs/benchmarks.md, resilience soak). The kernel spreads connections over the sockets of a
// reuseport group by a hash of the 4-tuple, and each socket is accepted from once a turn, so
// with K sockets the queue drains K times as fast.
//
// Linux admits a socket into a reuseport group only if it has the same effective user, so no
// other user can take the agent's connections. A second agent (same user) on the same port
// would join the group silently instead of failing with EADDRINUSE; the primary socket is
// therefore first bound without SO_REUSEPORT, which fails if anything holds the port, reuseport
// group or not, and only then rebound as the group's first member.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ListenAddress } from '../../lib/listen-address.ts';

export type ListenOutcome = { ok: true; port: number; host: string } | { ok: false; error: string };

// Listens `server` on the address with `lanes` extra sockets beside it. Lanes that fail to
// listen are reported and skipped: they only speed up accepting.
export async function listenWithLanes(
  server: Server,
  target: ListenAddress,
  lanes: number,
  onLaneError: (error: string) => void,
): Promise<{ outcome: ListenOutcome; lanes: Server[] }> {
  const exclusive = await probeExclusive(target);
  if (!exclusive.ok) return { outcome: exclusive, lanes: [] };
  const port = target.port === 0 ? exclusive.port : target.port;
  const primary = await listenOn(server, { host: target.host, port }, lanes > 0);
  if (!primary.ok || lanes === 0) return { outcome: primary, lanes: [] };
  const opened: Server[] = [];
  for (let i = 0; i < lanes; i++) {
    const lane = createServer((socket: Socket) => server.emit('connection', socket));
    const r = await listenOn(lane, { host: target.host, port: primary.port }, true);
    if (!r.ok) {
      onLaneError(r.error);
      break;
    }
    lane.on('error', (err) => onLaneError(`accept lane: ${err.message}`));
    opened.push(lane);
  }
  return { outcome: primary, lanes: opened };
}

// A plain bind of the address: EADDRINUSE if any socket holds it. For port 0 it also picks
// the port the group then uses.
async function probeExclusive(target: ListenAddress): Promise<ListenOutcome> {
  const probe = createServer();
  const r = await listenOn(probe, target, false);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return r;
}

function listenOn(server: Server, target: ListenAddress, reusePort: boolean): Promise<ListenOutcome> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void =>
      resolve({
        ok: false,
        error: `cannot listen on ${target.host ?? '*'}:${target.port}: ${err.code ?? err.message}`,
      });
    server.once('error', onError);
    server.listen({ host: target.host, port: target.port, reusePort }, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      resolve({ ok: true, port: a.port, host: a.address });
    });
  });
}
