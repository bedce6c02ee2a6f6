// Loopback ports that refuse connections for the whole test. A port freed after listen(0) is
// no good: Linux hands recently freed ports out again to the next listen(0) (another server of
// this test, an agent, a parallel test file), and a "dead" endpoint would suddenly answer.
// listen(0) only ever picks from the ephemeral range, so ports just below it stay closed unless
// someone binds them by number; each is checked free before use.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const taken = new Set<number>();
const agentDefaultPort = 20580;

// `count` distinct ports below the ephemeral range with nothing listening on 127.0.0.1.
export async function closedPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  // Start a little below the range and walk down, away from ports other tests might name.
  for (let port = ephemeralLow() - 101; ports.length < count && port > 1024; port--) {
    if (port === agentDefaultPort || taken.has(port)) continue;
    if (await isFree(port)) {
      taken.add(port);
      ports.push(port);
    }
  }
  if (ports.length < count) throw new Error(`only ${ports.length} of ${count} closed ports found`);
  return ports;
}
