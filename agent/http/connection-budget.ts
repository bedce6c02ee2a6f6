// The connection budget: how many client connections the agent holds at once, so that idle or
// slow clients can never use up the process's file descriptors (children, state writes and the
// config reload need some too, and an operator must still get /healthz through). Over the cap,
// the connection that has waited longest without a request in flight is closed to make room; a
// connection carrying a request is never cut, but its answer ends it while the server is full.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionBudget {
  maxConnections: number; // the soft cap: above it, idle connections are closed
  reserve: number; // connections with a request in flight may exceed the cap by this much
  acceptLanes: number; // extra listening sockets (accept-lanes.ts); each costs a descriptor
}

// Half of the soft descriptor limit, so the other half stays for everything else; at least 64
// (a scheduler pool and Prometheus), at most 4096 (memory: each connection costs ~20 KB).
// Accept lanes: one per 32 descriptors, at most 32 (measured: 16 lanes took the soak's
// /healthz p50 from 1378 to 134 ms, 32 to 111, 64 to 107; docs/benchmarks.md).
export function defaultConnectionBudget(descriptorLimit = softDescriptorLimit()): ConnectionBudget {
  const maxConnections = Math.max(64, Math.min(4096, Math.floor(descriptorLimit / 2)));
  const acceptLanes = Math.max(1, Math.min(32, Math.floor(descriptorLimit / 32)));
  return { maxConnections, reserve: 32, acceptLanes };
}

// RLIMIT_NOFILE's soft limit as the kernel reports it; 1024 (the usual default) when unknown.
export function softDescriptorLimit(limitsText?: string): number {
  let text = limitsText;
  try {
    text ??= readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return 1024;
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m) return 1024;
  return m[1] === 'unlimited' ? 1_048_576 : Number(m[1]);
}

interface Tracked {
  busy: number; // requests in flight on this connection (pipelining can make it more than 1)
  served: boolean; // has had an answer: an idle one is a keep-alive connection
}

export interface ConnectionTracker {
  count(): number;
  overCap(): boolean;
  evicted(): number; // connections closed to make room, since start
  refused(): number; // connections refused because even the reserve was in use
}

// Wires the budget into a server: `connection` and `request` events only, so the request path
// itself stays untouched. Register it before the request handler, so that an answer sent at
// once still sees the Connection header.
export function enforceConnectionBudget(server: Server, budget: ConnectionBudget): ConnectionTracker {
  const live = new Map<Socket, Tracked>();
  let evicted = 0;
  let refused = 0;

  // Keep-alive connections go first: their client was served and reconnects at once. Only then
  // connections that never completed a request (slow or silent clients), oldest first. A fresh
  // connection whose request is still on its way (an operator's /healthz) must not be the one
  // closed because busy keep-alive clients keep turning idle after it (measured: with wrk
  // holding the cap, 34 of 60 /healthz probes were cut that way). Map iteration follows
  // insertion, and a socket re-inserted when it turns idle moves to the end, so the first one
  // found of each kind has waited longest.
  function victim(except: Socket): Socket | null {
    let silent: Socket | null = null;
    for (const [socket, t] of live) {
      if (socket === except || t.busy > 0) continue;
      if (t.served) return socket;
      silent ??= socket;
    }
    return silent;
  }

  server.on('connection', (socket: Socket) => {
    live.set(socket, { busy: 0, served: false });
    socket.once('close', () => live.delete(socket));
    if (live.size <= budget.maxConnections) return;
    const idle = victim(socket);
    if (idle) {
      evicted++;
      live.delete(idle);
      idle.destroy();
      return;
    }
    // Every connection carries a request (each bounded by a timeout): take this one only
    // within the reserve; it gets served and closed after its answer.
    if (live.size > budget.maxConnections + budget.reserve) {
      refused++;
      live.delete(socket);
      socket.destroy();
    }
  });

  server.on('request', (req, res) => {
    const socket = req.socket;
    const t = live.get(socket);
    if (!t) return;
    t.busy++;
    // Over the cap, an answer ends its connection rather than keeping it idle.
    if (live.size > budget.maxConnections && !res.headersSent) res.setHeader('Connection', 'close');
    res.once('close', () => {
      t.busy--;
      t.served = true;
      if (t.busy === 0 && live.has(socket)) {
        live.delete(socket);
        live.set(socket, t);
      }
    });
  });

  return {
    count: () => live.size,
    overCap: () => live.size > budget.maxConnections,
    evicted: () => evicted,
    refused: () => refused,
  };
}
