// A real registry for tests: Debian's docker-registry (distribution 2.x) on 127.0.0.1, a free
// port, a temporary storage directory and a generated YAML config. Kept generic so TLS,
// token-auth or htpasswd registries are the same call with `tls` / `extraConfig`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface RegistryOptions {
  tls?: { certFile: string; keyFile: string };
  // Deep-merged over the generated config (objects merge key by key; anything else replaces),
  // e.g. { auth: { htpasswd: { realm: 'r', path: '/tmp/htpasswd' } } }.
  extraConfig?: Record<string, unknown>;
  storageDir?: string; // default: a fresh temporary directory, removed by stop()
  startTimeoutMs?: number; // default 15000
  binary?: string; // default 'docker-registry'
}

export interface RunningRegistry {
  url: string; // http(s)://127.0.0.1:PORT
  host: string; // 127.0.0.1:PORT (what goes into an image reference)
  port: number;
  storageDir: string;
  configFile: string;
  process: ChildProcess;
  logs: () => string; // the last 64 KiB of the registry's output
  stop: () => Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function mergeConfig(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeConfig(current, value) : value;
  }
  return out;
}

// Any HTTP answer to /v2/ means the registry is serving (401 with auth configured is fine).
function probeV2(url: string): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(`${url}/v2/`, { method: 'GET', timeout: 1000, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolveProbe(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveProbe(false));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const ownStorage = options.storageDir === undefined;
  const storageDir = options.storageDir ?? mkdtempSync(join(tmpdir(), 'buildfleet-registry-'));
  const configDir = mkdtempSync(join(tmpdir(), 'buildfleet-registry-config-'));
  const port = await freePort();
  const http: Record<string, unknown> = { addr: `127.0.0.1:${port}`, secret: 'buildfleet-test-secret' };
  if (options.tls) http.tls = { certificate: options.tls.certFile, key: options.tls.keyFile };
  const config = mergeConfig(
    {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: true } },
      http,
    },
    options.extraConfig ?? {},
  );
  const configFile = join(configDir, 'config.yml');
  writeFileSync(configFile, stringify(config));

  const child = spawn(options.binary ?? 'docker-registry', ['serve', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString('utf8')).slice(-64 * 1024));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exitedPromise = new Promise<void>((r) => child.on('close', () => ((exited = true), r())));
  child.on('error', (err) => (output += `\nspawn failed: ${err.message}`));

  const cleanup = () => {
    rmSync(configDir, { recursive: true, force: true });
    if (ownStorage) rmSync(storageDir, { recursive: true, force: true });
  };
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitedPromise;
      clearTimeout(killer);
    }
    cleanup();
  };

  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 15000);
  while (Date.now() < deadline && !exited) {
    if (await probeV2(url)) {
      return { url, host: `127.0.0.1:${port}`, port, storageDir, configFile, process: child, logs: () => output, stop };
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`docker-registry did not answer on ${url} (exited: ${exited}):\n${output}`);
}
