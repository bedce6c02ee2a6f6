import { readFileSync } from 'node:fs';
import { askAgent } from '../fleet/ask-agent.ts';
import { mapBounded } from '../fleet/bounded-map.ts';
import { fileSdGroups, fileSdPathProblem, renderFileSd, writeFileAtomically } from '../fleet/file-sd.ts';
import { fleetExitCode, fleetReport, rowOf } from '../fleet/fleet-report.ts';
import { formatFleetTable } from '../fleet/fleet-table.ts';
import { defaultAgentPort, parseTargetList, parseTargetsFile, type FleetTarget } from '../fleet/targets.ts';
import { parseVerbArgs, usageError } from './usage-error.ts';

export const help = `Usage: buildfleet-agent fleet status HOST[:PORT]... | --targets FILE [options]

Asks many agents at once for GET /v1/preflight and prints one line per agent, problems first:
the decision, the checks that fail (check:code), the age of the oldest check result, and how
long the agent took to answer; under it, indented, the maintenance reason and the checks that
warn (not blocking). An agent that does not answer is listed with why (error codes:
unreachable, connection-lost, timeout, bad-json, bad-answer, unexpected-status).

Targets: host, host:port, [ipv6]:port (default port ${defaultAgentPort}); --targets FILE (repeatable)
holds one target per line (# comments), or is a Prometheus file_sd file (JSON or YAML list of
{targets, labels}) such as the one Prometheus scrapes the agents from.

Options:
  --targets FILE      read targets from FILE (also together with HOST arguments)
  --json              one JSON document on stdout instead of the table
  --concurrency N     agents asked at the same time (default 32, at most 1024)
  --timeout SECONDS   per agent: connect, answer and body (default 5, at most 3600); the
                      whole sweep takes at most about ceil(agents / concurrency) * timeout
  --max-age SECONDS   ask with ?max_age=: each agent first re-runs checks older than that
                      (their runs count against --timeout)
  --file-sd OUT       also write every target (answering or not) as a Prometheus file_sd JSON
                      file, atomically; labels of a file_sd --targets input are kept
  --https             ask the agents over HTTPS (agents with a tls: section), trusting the
                      system's CAs
  --ca-file FILE      ask over HTTPS and trust the CA certificate(s) in FILE (PEM)
  --watch SECONDS     ask again every SECONDS and redraw (at least 1); stops on Ctrl-C or
                      SIGTERM with the exit code of the last sweep
  --file-sd-state     add the label buildfleet_fleet_state (accept, degraded, refuse, no-answer)
                      to the file_sd groups (off by default: a label that changes with health
                      restarts series and alert timers)

Exit codes (the worst agent decides): 0 every agent accepts, 4 any agent could not be asked,
else 1 any refuses, else 3 any is degraded; 2 usage error, unreadable targets file, or the
file_sd file could not be written.`;

function usage(message: string): number {
  return usageError('fleet status', message);
}

// A number option within [min, max]; the message says which bound was missed.
function numberOption(
  text: string | undefined,
  name: string,
  fallback: number,
  o: { integer?: boolean; min: number; minInclusive: boolean; max: number },
): number | string {
  if (text === undefined) return fallback;
  const n = Number(text);
  const aboveMin = o.minInclusive ? n >= o.min : n > o.min;
  if (
    text.trim() === '' ||
    !Number.isFinite(n) ||
    !aboveMin ||
    n > o.max ||
    (o.integer === true && !Number.isInteger(n))
  ) {
    return `${name} must be a ${o.integer ? 'whole ' : ''}number ${o.minInclusive ? '>=' : '>'} ${o.min} and <= ${o.max}, not "${text}"`;
  }
  return n;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseVerbArgs('fleet status', {
    args,
    allowPositionals: true,
    options: {
      targets: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      'max-age': { type: 'string' },
      'file-sd': { type: 'string' },
      'write-file-sd': { type: 'string' }, // the name deploy/prometheus/prometheus.yml mentions
      'file-sd-state': { type: 'boolean' },
      https: { type: 'boolean' },
      'ca-file': { type: 'string' },
      watch: { type: 'string' },
    },
  });
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  // Upper bounds: a file descriptor per concurrent request, and timers beyond an hour are typos.
  const concurrency = numberOption(v.concurrency, '--concurrency', 32, {
    integer: true,
    min: 1,
    minInclusive: true,
    max: 1024,
  });
  const timeout = numberOption(v.timeout, '--timeout', 5, { min: 0, minInclusive: false, max: 3600 });
  const maxAge =
    v['max-age'] === undefined
      ? null
      : numberOption(v['max-age'], '--max-age', 0, { min: 0, minInclusive: true, max: 86400 * 365 });
  const watch =
    v.watch === undefined ? null : numberOption(v.watch, '--watch', 0, { min: 1, minInclusive: true, max: 86400 });
  for (const value of [concurrency, timeout, maxAge, watch]) if (typeof value === 'string') return usage(value);
  if (watch !== null && v.json) return usage('--watch redraws the table; it does not go with --json');
  let tls: { ca: Buffer | null } | undefined;
  if (v['ca-file'] !== undefined) {
    try {
      tls = { ca: readFileSync(v['ca-file']) };
    } catch (err) {
      return usage(
        `cannot read --ca-file ${v['ca-file']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  } else if (v.https) {
    tls = { ca: null };
  }
  if (v['file-sd'] !== undefined && v['write-file-sd'] !== undefined) return usage('give --file-sd only once');
  const fileSdOut = v['file-sd'] ?? v['write-file-sd'] ?? null;
  if (fileSdOut !== null) {
    const problem = fileSdPathProblem(fileSdOut);
    if (problem !== null) return usage(problem);
  }
  if (v['file-sd-state'] && fileSdOut === null) return usage('--file-sd-state needs --file-sd OUT');

  const targets = collectTargets(parsed.positionals, v.targets ?? []);
  if (!targets.ok) {
    return usageError('fleet status', ...targets.errors);
  }
  if (targets.targets.length === 0) return usage('no targets: give HOST[:PORT] arguments or --targets FILE');

  const timeoutMs = Math.round((timeout as number) * 1000);
  const sweep = async (): Promise<number> => {
    const started = performance.now();
    const answers = await mapBounded(targets.targets, concurrency as number, (t) =>
      askAgent(t, { timeoutMs, maxAgeSeconds: maxAge as number | null, tls }),
    );
    const report = fleetReport(targets.targets.map((t, i) => rowOf(t, answers[i])));
    return output(report, Math.round(performance.now() - started));
  };
  const output = (report: ReturnType<typeof fleetReport>, durationMs: number): number => {
    if (v.json) {
      const doc = {
        generatedAt: new Date().toISOString(),
        durationMs,
        concurrency,
        timeoutSeconds: timeout,
        maxAgeSeconds: maxAge,
        summary: report.summary,
        agents: report.rows,
      };
      process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      process.stdout.write(formatFleetTable(report));
    }

    if (fileSdOut !== null) {
      const written = writeFileAtomically(
        fileSdOut,
        renderFileSd(fileSdGroups(report.rows, { decisionLabel: v['file-sd-state'] === true })),
      );
      if (!written.ok) {
        return usage(written.error);
      }
    }
    return fleetExitCode(report);
  };
  if (watch === null) return sweep();
  return watchSweeps(sweep, (watch as number) * 1000);
}

// Sweeps again every period until SIGINT or SIGTERM; on a terminal the screen is cleared first
// so the table redraws in place, otherwise each sweep is appended under a time stamp.
async function watchSweeps(sweep: () => Promise<number>, periodMs: number): Promise<number> {
  let stopped = false;
  let wake: () => void = () => undefined;
  const stop = () => {
    stopped = true;
    wake();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let code = 0;
  try {
    while (!stopped) {
      process.stdout.write(process.stdout.isTTY ? '\x1b[H\x1b[2J' : '\n');
      process.stdout.write(
        `fleet status at ${new Date().toISOString()} (every ${periodMs / 1000} s; Ctrl-C stops)\n\n`,
      );
      code = await sweep();
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, periodMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
  return code;
}

function collectTargets(positionals: string[], files: string[]): ReturnType<typeof parseTargetList> {
  const errors: string[] = [];
  const all: FleetTarget[] = [];
  const fromArgs = parseTargetList(positionals.map((text, i) => ({ text, where: `argument ${i + 1}` })));
  if (fromArgs.ok) all.push(...fromArgs.targets);
  else errors.push(...fromArgs.errors);
  for (const file of files) {
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (err) {
      errors.push(`cannot read targets file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      continue;
    }
    const fromFile = parseTargetsFile(content, file);
    if (fromFile.ok) all.push(...fromFile.targets);
    else errors.push(...fromFile.errors);
  }
  if (errors.length > 0) return { ok: false, errors };
  // The same agent named twice (an argument and a file) is asked once.
  const unique = new Map<string, FleetTarget>();
  for (const t of all) if (!unique.has(t.address)) unique.set(t.address, t);
  return { ok: true, targets: [...unique.values()] };
}
