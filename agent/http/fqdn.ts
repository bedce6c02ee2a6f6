// The host's fully qualified name for the status page (os.hostname() is often the short
// name): the name the resolver gives back for the host's own address, looked up once, bounded
// by a timeout; the short name when that says nothing better.
import { lookup, lookupService } from 'node:dns/promises';
import { hostname } from 'node:os';

const known = new Map<string, Promise<string>>();

async function resolve(host: string, timeoutMs: number): Promise<string> {
  // Only this machine's own name is looked up: a name the core was given (tests, a configured
  // host) is shown as it is, and never sent to a resolver.
  if (host.includes('.') || host !== hostname()) return host;
  const attempt = (async () => {
    const { address } = await lookup(host);
    const { hostname } = await lookupService(address, 0);
    return hostname.startsWith(`${host}.`) ? hostname : host;
  })().catch(() => host);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((r) => {
    timer = setTimeout(() => r(host), timeoutMs);
    timer.unref();
  });
  const name = await Promise.race([attempt, timeout]);
  clearTimeout(timer);
  return name;
}

export function fullyQualifiedName(host: string, timeoutMs = 2000): Promise<string> {
  let name = known.get(host);
  if (!name) {
    name = resolve(host, timeoutMs);
    known.set(host, name);
  }
  return name;
}
