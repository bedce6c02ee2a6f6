// Many fake agents in one process: node:http servers on 127.0.0.1, each behaving one way
// (accepting, refusing, degraded, never answering, dead, answering garbage, hanging up, not an
// agent at all). Counts the connections open at once across all of them, which is how the test
// sees the client's concurrency bound without timing anything.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closedPorts } from './closed-ports.ts';

export type EndpointKind = 'accept' | 'refuse' | 'degraded' | 'slow' | 'dead' | 'bad-json' | 'hang-up' | 'not-found';

export interface Endpoint {
  kind: EndpointKind;
  address: string;
  ageSeconds: number; // the oldest check age it reports
}

export interface Farm {
  endpoints: Endpoint[];
  maxOpenConnections(): number;
  close(): Promise<void>;
}

function preflightBody(kind: 'accept' | 'refuse' | 'degraded', index: number, ageSeconds: number): string {
  const reasons =
    kind === 'refuse'
      ? [{ check: 'blobinfocache', code: 'cache-corrupt', message: '1 of 2 caches corrupt' }]
      : kind === 'degraded'
        ? [{ check: 'registry', code: 'registry-unreachable', message: 'harbor: connect ECONNREFUSED' }]
        : [];
  const check = (name: string, status: string, scope: string, age: number) => ({
    name,
    status,
    scope,
    summary: '',
    observedAt: new Date(Date.now() - age * 1000).toISOString(),
    ageSeconds: age,
    durationMs: 3,
    details: {},
  });
  return JSON.stringify({
    decision: kind,
    host: `farm-${index}`,
    agentVersion: '0.1.0',
    evaluatedAt: new Date().toISOString(),
    reasons,
    maintenance: null,
    checks: [
      check('blobinfocache', kind === 'refuse' ? 'critical' : 'ok', 'host', 1),
      check('registry', kind === 'degraded' ? 'critical' : 'ok', 'shared', ageSeconds),
    ],
  });
}

const statusOf = { accept: 200, refuse: 503, degraded: 429 } as const;

export async function startFarm(kinds: EndpointKind[]): Promise<Farm> {
  const servers: Server[] = [];
  let open = 0;
  let maxOpen = 0;
  const endpoints: Endpoint[] = [];
  const deadPorts = await closedPorts(kinds.filter((k) => k === 'dead').length);
  for (const [index, kind] of kinds.entries()) {
    const ageSeconds = 10 + index;
    if (kind === 'dead') {
      endpoints.push({ kind, address: `127.0.0.1:${deadPorts.pop()}`, ageSeconds });
      continue;
    }
    const server = createServer((req, res) => {
      switch (kind) {
        case 'accept':
        case 'refuse':
        case 'degraded': {
          const body = preflightBody(kind, index, ageSeconds);
          res.writeHead(statusOf[kind], {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
          });
          res.end(body);
          return;
        }
        case 'slow':
          return; // never answers: the client's timeout must end it
        case 'bad-json':
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end('{"decision": "accept", truncated');
          return;
        case 'hang-up':
          req.socket.destroy();
          return;
        case 'not-found':
          res.writeHead(404, { 'Content-Type': 'application/json' });
          res.end('{"error":{"code":"not-found","message":"no such endpoint"}}\n');
          return;
      }
    });
    server.on('connection', (socket) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      socket.on('close', () => open--);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    servers.push(server);
    endpoints.push({ kind, address: `127.0.0.1:${port}`, ageSeconds });
  }
  return {
    endpoints,
    maxOpenConnections: () => maxOpen,
    close: async () => {
      await Promise.all(
        servers.map((s) => {
          s.closeAllConnections();
          return new Promise((resolve) => s.close(resolve));
        }),
      );
    },
  };
}
