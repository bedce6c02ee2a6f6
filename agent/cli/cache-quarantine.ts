// `buildfleet-agent cache quarantine [FILE...]`: move confirmed corrupt blob-info caches aside
// (agent/remediation; rules in docs/quarantine.md). Without FILE every discovered cache is
// considered. Exit 0 when nothing is left corrupt, 1 when anything was refused, failed, busy,
// changed, or (with --dry-run) is still corrupt; 2 on a usage error.
import { parseArgs } from 'node:util';
import { systemCacheDir, type CacheFormatByName } from '../../checks/blobcache/discover.ts';
import { verifyCacheFile } from '../../checks/blobcache/verify.ts';
import { defaultConfigPath, isConfigError, loadConfig } from '../config.ts';
import { defaultMaxQuarantineBytes, defaultQuarantineKeep } from '../remediation/retention.ts';
import { runQuarantine, type QuarantineReport } from '../remediation/run-quarantine.ts';
import { usageError } from './usage-error.ts';

export const help = `Usage: buildfleet-agent cache quarantine [FILE...] [--config FILE] [--dry-run] [--json] [--state-dir DIR]

Moves corrupt blob-info caches aside (renamed to <name>.corrupt-<UTC time> in the same
directory, SQLite -journal/-wal/-shm with it) so skopeo starts a fresh cache. A file is moved
only when a second verification right before the move confirms it is corrupt, it is still the
same file, no process has it open, and it is a regular file owned by its cache directory's owner
inside root's, a user's or a configured cache directory. Every move and every deletion of an old
quarantined copy is appended to <state-dir>/audit.jsonl. See docs/quarantine.md.

Without FILE, every discovered cache is considered.

The daemon's config gives the defaults: its cache dirs, whether users are discovered, its
state directory (so a move the daemon left half-done is finished here, and the daemon finishes
this command's), keep, the byte budget and the skopeo binary. Flags override it.

Options:
  --config FILE      the daemon's config (default ${defaultConfigPath}; the built-in
                     defaults when that file does not exist; a FILE given must exist)
  --dry-run          verify and report what would be moved; change nothing
  --json             one JSON document on stdout instead of a table
  --state-dir DIR    audit log and crash-safety records (config: stateDir, built-in
                     /var/lib/buildfleet-agent)
  --dir DIR          a cache directory in scope; repeatable; replaces the config's dirs
                     (built-in ${systemCacheDir})
  --no-users         do not look for users' rootless caches (~/.local/share/containers/cache)
  --passwd FILE      a passwd file listing the users' home directories (default: NSS through
                     getent passwd, /etc/passwd when getent is missing)
  --keep N           quarantined copies kept per cache (config: keep, built-in ${defaultQuarantineKeep})
  --max-bytes N      byte budget for the kept copies of one cache (config: maxQuarantineBytes,
                     built-in ${defaultMaxQuarantineBytes})
  --full             deep verification (SQLite integrity_check instead of quick_check)
  --skopeo PATH      the skopeo whose version is recorded and decides which format is in use
                     (config: the first of checks.skopeo.binaries)
  -h, --help         this text

Exit codes: 0 nothing is left corrupt; 1 something was refused, failed, busy or changed, or
(--dry-run) would be moved; 2 usage error.`;

interface Options {
  files: string[];
  dryRun: boolean;
  json: boolean;
  stateDir: string;
  dirs: string[];
  discoverUsers: boolean;
  passwd: string | undefined;
  keep: number;
  maxBytes: number;
  full: boolean;
  skopeo: string;
}

// Flags over the config (--config FILE, or the daemon's default path, or built-in defaults).
function parseOptions(args: string[]): Options | Error {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'state-dir': { type: 'string' },
        dir: { type: 'string', multiple: true },
        'no-users': { type: 'boolean', default: false },
        passwd: { type: 'string' },
        keep: { type: 'string' },
        'max-bytes': { type: 'string' },
        full: { type: 'boolean', default: false },
        skopeo: { type: 'string' },
      },
    });
  } catch (err) {
    return err as Error;
  }
  const v = parsed.values;
  const loaded = loadConfig(v.config ?? null);
  if (isConfigError(loaded)) return new Error(`config: ${loaded.errors.join('; ')}`);
  const c = loaded.config;
  const cache = c.checks.blobinfocache;
  const keep = v.keep === undefined ? cache.keep : Number(v.keep);
  const maxBytes = v['max-bytes'] === undefined ? cache.maxQuarantineBytes : Number(v['max-bytes']);
  if (!Number.isInteger(keep) || keep < 1) return new Error(`--keep must be a whole number >= 1, got "${v.keep}"`);
  if (!Number.isInteger(maxBytes) || maxBytes < 0)
    return new Error(`--max-bytes must be a whole number of bytes, got "${v['max-bytes']}"`);
  const dirs = v.dir ?? [...cache.dirs];
  const relative = dirs.find((d) => !d.startsWith('/'));
  if (relative !== undefined) return new Error(`--dir must be an absolute path, got "${relative}"`);
  return {
    files: parsed.positionals,
    dryRun: v['dry-run'],
    json: v.json,
    stateDir: v['state-dir'] ?? c.stateDir,
    dirs,
    discoverUsers: v['no-users'] ? false : cache.discoverUsers,
    passwd: v.passwd,
    keep,
    maxBytes,
    full: v.full,
    skopeo: v.skopeo ?? c.checks.skopeo.binaries[0] ?? 'skopeo',
  };
}

// Asks the skopeo binary through the skopeo check itself (the daemon reads the same details).
async function installedSkopeo(
  binary: string,
): Promise<{ version: string | null; format: CacheFormatByName | null; note: string | null }> {
  // Loaded here, not at the top: only this path of the verb asks skopeo.
  const { buildSkopeoOf, createSkopeoCheck } = await import('../../checks/skopeo.ts');
  const check = createSkopeoCheck({ binaries: [binary], minVersion: null, deny: [], timeoutSeconds: 10 });
  const result = await check.run({ signal: AbortSignal.timeout(15_000), now: () => new Date() });
  const used = buildSkopeoOf(result.details);
  return { version: used.version, format: used.cacheFormat, note: used.version === null ? used.error : null };
}

export async function run(args: string[]): Promise<number> {
  const opts = parseOptions(args);
  if (opts instanceof Error) {
    return usageError(null, `buildfleet-agent cache quarantine: ${opts.message}\n\n${help}`);
  }
  const skopeo = await installedSkopeo(opts.skopeo);
  if (skopeo.note)
    process.stderr.write(`note: installed skopeo unknown (${skopeo.note}); every cache format counts as in use\n`);
  const report = await runQuarantine({
    files: opts.files,
    dryRun: opts.dryRun,
    actor: 'cli',
    stateDir: opts.stateDir,
    dirs: opts.dirs,
    discoverUsers: opts.discoverUsers,
    passwdPath: opts.passwd,
    keep: opts.keep,
    maxQuarantineBytes: opts.maxBytes,
    verify: verifyCacheFile,
    verifyOptions: { full: opts.full },
    skopeoVersion: skopeo.version,
    cacheFormatInUse: skopeo.format,
  });
  for (const a of report.audit)
    process.stderr.write(`audit: ${a.action} ${a.path}${a.newPath ? ` -> ${a.newPath}` : ''}\n`);
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report));
  return report.exitCode;
}

function renderTable(report: QuarantineReport): string {
  const rows: [string, string, string][] = [
    ...report.interrupted.map((i): [string, string, string] => [i.path, `interrupted:${i.result}`, i.message]),
    ...report.results.map((r): [string, string, string] => [r.path, r.result, r.message]),
  ];
  if (rows.length === 0) return 'no blob-info caches found\n';
  const w0 = Math.max(4, ...rows.map((r) => r[0].length));
  const w1 = Math.max(6, ...rows.map((r) => r[1].length));
  const line = (r: [string, string, string]): string => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}\n`;
  return (
    line(['PATH', 'RESULT', 'DETAIL']) +
    rows.map(line).join('') +
    (report.dryRun ? '(dry run: nothing was changed)\n' : '')
  );
}
