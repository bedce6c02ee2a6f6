// Credentials for one registry from a containers auth.json (containers-auth.json(5)):
// {"auths": {"registry.example.com": {"auth": "<base64 user:password>"}}}. Keys may carry a
// scheme or a path (docker's legacy "https://index.docker.io/v1/", podman's per-namespace
// "host/ns"); the entry for the bare host[:port] wins over a longer one.
import { readFile } from 'node:fs/promises';

export interface RegistryCredentials {
  username: string;
  password: string;
}

function hostOfKey(key: string): { host: string; exact: boolean } {
  const withoutScheme = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  const host = slash === -1 ? withoutScheme : withoutScheme.slice(0, slash);
  const path = slash === -1 ? '' : withoutScheme.slice(slash).replace(/\/+$/, '');
  return { host: host.toLowerCase(), exact: path === '' || path === '/v1' || path === '/v2' };
}

function decodeAuth(encoded: string): RegistryCredentials | null {
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

// Pure: `host` is the URL's host (hostname plus the port when one is written).
export function credentialsFromAuthJson(json: unknown, host: string): RegistryCredentials | null | Error {
  const auths = (json as { auths?: unknown } | null)?.auths;
  if (typeof auths !== 'object' || auths === null) return new Error('no "auths" object');
  let fallback: RegistryCredentials | null = null;
  for (const [key, entry] of Object.entries(auths as Record<string, unknown>)) {
    const keyHost = hostOfKey(key);
    if (keyHost.host !== host.toLowerCase()) continue;
    const encoded = (entry as { auth?: unknown } | null)?.auth;
    if (typeof encoded !== 'string') continue;
    const creds = decodeAuth(encoded);
    if (creds === null) return new Error(`the "auth" of "${key}" is not base64 of user:password`);
    if (keyHost.exact) return creds;
    fallback ??= creds;
  }
  return fallback;
}

export async function readRegistryCredentials(
  authFile: string,
  host: string,
): Promise<RegistryCredentials | null | Error> {
  let text: string;
  try {
    text = await readFile(authFile, 'utf8');
  } catch (err) {
    return new Error(`cannot read auth file ${authFile}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return new Error(`auth file ${authFile} is not JSON: ${(err as Error).message}`);
  }
  const found = credentialsFromAuthJson(json, host);
  return found instanceof Error ? new Error(`auth file ${authFile}: ${found.message}`) : found;
}
