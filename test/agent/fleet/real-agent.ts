// Starts a real agent (`node agent/bin.ts serve --config FILE`) as a child process on
// 127.0.0.1 with an ephemeral port, and waits until every check has run once, so its preflight
// shows a settled decision rather than `not-yet-checked`.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const agentBin = fileURLToPath(new URL('../../../agent/bin.ts', import.meta.url));

export interface RealAgent {
  child: ChildProcess;
  address: string; // 127.0.0.1:PORT
  stop(): Promise<number | null>;
}

// Never fires during a test: the only runs are the start-up ones.
export const neverSchedule = '0 0 1 1 *';

// `https`: the agent serves TLS (a tls: section at the end of checksYaml); how to reach it.
export interface HttpsClient {
  ca: string;
  cert?: string;
  key?: string;
}

export async function startRealAgent(
  dir: string,
  name: string,
  checksYaml: string,
  opts: { https?: HttpsClient } = {},
): Promise<RealAgent> {
  const configFile = join(dir, `${name}.yaml`);
  writeFileSync(
    configFile,
    `listen: "127.0.0.1:0"\nstateDir: ${join(dir, `${name}-state`)}\nlogLevel: info\nchecks:\n${checksYaml}`,
  );
  const child = spawn(process.execPath, [agentBin, 'serve', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const address = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`agent ${name} did not start:\n${buffered}`)), 20_000);
    child.on('exit', (code) => reject(new Error(`agent ${name} exited ${code}:\n${buffered}`)));
    child.stderr?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const line = buffered.split('\n').find((l) => l.includes('"daemon-started"'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { listen: string }).listen);
      }
    });
  });
  const agent = {
    child,
    address,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  await waitUntilChecked(address, name, opts.https);
  return agent;
}

async function preflightOf(address: string, https: HttpsClient | undefined): Promise<{ reasons: { code: string }[] }> {
  if (!https) return (await (await fetch(`http://${address}/v1/preflight`)).json()) as { reasons: { code: string }[] };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `https://${address}/v1/preflight`,
      {
        ca: readFileSync(https.ca),
        cert: https.cert ? readFileSync(https.cert) : undefined,
        key: https.key ? readFileSync(https.key) : undefined,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve(JSON.parse(body) as { reasons: { code: string }[] }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function waitUntilChecked(address: string, name: string, https?: HttpsClient): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const body = await preflightOf(address, https);
    if (!body.reasons.some((r) => r.code === 'not-yet-checked')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`agent ${name}: checks never ran`);
}
