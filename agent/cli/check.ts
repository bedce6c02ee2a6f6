import { statSync } from 'node:fs';
import { isConfigError, loadConfig } from '../config.ts';
import { createAgentCore } from '../core.ts';
import { decisionExitCode } from '../admission.ts';
import { createLogger } from '../log.ts';
import type { Preflight } from '../core-types.ts';
import { renderTextfile, textfileName, writeTextfile } from '../metrics/textfile.ts';
import { parseVerbArgs, usageError } from './usage-error.ts';

export const help = `Usage: buildfleet-agent check [--json] [--only NAME,...] [--config FILE] [--textfile DIR]

Runs every enabled check once (or only the named ones) and prints the admission decision: a
table for people, or with --json the same JSON document GET /v1/preflight answers. Meant as the
first line of a build script. Reads the config like the daemon, but neither reads nor writes the
daemon's state file, and applies no damping (one run has no history): what it sees is what it
reports.

Options:
  --json          one JSON document on stdout (the /v1/preflight body)
  --only a,b      run and judge only these checks (names as in the table)
  --config FILE   the config file (default /etc/buildfleet-agent/config.yaml, else built-in defaults)
  --textfile DIR  also write this run's metrics (the names /metrics has, without process_* and
                  nodejs_*) to DIR/${textfileName}, atomically, for node_exporter's textfile
                  collector (--collector.textfile.directory=DIR); for hosts without the daemon

Exit codes: 0 accept, 1 refuse, 3 degraded (only shared checks such as a registry fail),
2 config or usage error, or the textfile could not be written.`;

function usage(message: string): number {
  return usageError('check', message);
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseVerbArgs('check', {
    args,
    options: {
      json: { type: 'boolean' },
      only: { type: 'string' },
      config: { type: 'string' },
      textfile: { type: 'string' },
    },
  });
  if (typeof parsed === 'number') return parsed;
  const textfileDir = parsed.values.textfile;
  // Checked before the run: a cron job with a wrong path should fail at once, not after a minute.
  if (textfileDir !== undefined) {
    const problem = textfileDirProblem(textfileDir);
    if (problem !== null) return usage(problem);
  }
  const loaded = loadConfig(parsed.values.config ?? null);
  const configLoadedAt = new Date();
  if (isConfigError(loaded)) {
    return usageError(null, ...loaded.errors);
  }
  // Diagnostics only: the verdict itself is the output.
  const log = createLogger({ level: loaded.config.logLevel === 'silent' ? 'silent' : 'warn' });
  const created = await createAgentCore(loaded.config, {
    persist: false,
    damping: false,
    allowRemediation: false,
    watchCaches: false,
    log,
  });
  if ('errors' in created) {
    return usageError(null, ...created.errors);
  }
  const { core } = created;
  const only = parsed.values.only
    ?.split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (only !== undefined) {
    const unknown = only.filter((n) => !core.checkNames().includes(n));
    if (only.length === 0) return usage('--only needs at least one check name');
    if (unknown.length > 0) {
      return usage(`no check named ${unknown.join(', ')} (enabled checks: ${core.checkNames().join(', ') || 'none'})`);
    }
  }
  try {
    await core.runChecks(only);
    const preflight = await core.preflight({ names: only });
    process.stdout.write(parsed.values.json ? `${JSON.stringify(preflight, null, 2)}\n` : formatPreflight(preflight));
    if (textfileDir !== undefined) {
      const content = await renderTextfile({
        decision: preflight.decision,
        maintenance: preflight.maintenance !== null,
        states: core.states(),
        configLoadedAt,
      });
      const written = writeTextfile(textfileDir, content);
      if (!written.ok) return usage(written.error);
    }
    return decisionExitCode(preflight.decision);
  } finally {
    await core.stop();
  }
}

function textfileDirProblem(dir: string): string | null {
  try {
    if (!statSync(dir).isDirectory()) return `--textfile ${dir} is not a directory`;
  } catch (err) {
    return `--textfile ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  return null;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

// The decision first (what a person reading a build log looks for), then every check, then the
// reasons with their codes.
export function formatPreflight(p: Preflight): string {
  const lines = [`${p.decision.toUpperCase()}  ${p.host}  (buildfleet-agent ${p.agentVersion})`, ''];
  if (p.checks.length > 0) {
    lines.push(
      ...table([
        ['CHECK', 'STATUS', 'SCOPE', 'TIME', 'SUMMARY'],
        ...p.checks.map((c) => [c.name, c.status, c.scope, `${c.durationMs} ms`, c.summary]),
      ]),
    );
  } else {
    lines.push('no checks enabled');
  }
  if (p.reasons.length > 0) {
    lines.push('', 'Reasons:');
    lines.push(...table(p.reasons.map((r) => [`  ${r.check}`, r.code, r.message])));
  }
  return `${lines.join('\n')}\n`;
}
