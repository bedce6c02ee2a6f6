// `buildfleet-agent systemd-dropin`: prints the drop-in that makes the cache directories outside
// the unit's ReadWritePaths= writable (agent/systemd-dropin.ts says why). The RPM's %post writes
// it to /etc/systemd/system/buildfleet-agent.service.d/60-cache-dirs.conf.
import { lstat, realpath } from 'node:fs/promises';
import { cacheDirsInScope } from '../../checks/blobcache/discover.ts';
import { defaultConfigPath, isConfigError, loadConfig } from '../config.ts';
import { coveredByUnit, dropInPath, renderDropIn } from '../systemd-dropin.ts';
import { parseVerbArgs, usageError } from './usage-error.ts';
import { exitCodes } from '../../lib/exit-codes.ts';

export const help = `Usage: buildfleet-agent systemd-dropin [--config FILE] [--passwd FILE]

Prints a systemd drop-in for ${dropInPath}
listing, as ReadWritePaths=, every blob-info cache directory the agent watches that exists and
lies outside the unit's own writable paths (/home, /var/lib/containers/cache): users whose home
is elsewhere (Jenkins' /var/lib/jenkins, /opt, /srv) and configured directories. Without it the
agent finds a corrupt cache there but cannot move it aside (read-only file system).

  buildfleet-agent systemd-dropin > ${dropInPath}
  systemctl daemon-reload && systemctl restart buildfleet-agent

Options:
  --config FILE   the agent's config (default ${defaultConfigPath}; built-in defaults if absent)
  --passwd FILE   the passwd file listing the users' home directories (default /etc/passwd)

Exit codes: 0 printed; 2 invalid config or a usage error.`;

// A directory that exists with no symbolic link on its path (the quarantine refuses those
// anyway, and systemd would bind the link's target).
async function existsWithoutLinks(dir: string): Promise<boolean> {
  try {
    return (await lstat(dir)).isDirectory() && (await realpath(dir)) === dir;
  } catch {
    return false;
  }
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseVerbArgs('systemd-dropin', {
    args,
    options: { config: { type: 'string' }, passwd: { type: 'string', default: '/etc/passwd' } },
  });
  if (typeof parsed === 'number') return parsed;
  const loaded = loadConfig(parsed.values.config ?? null);
  if (isConfigError(loaded)) {
    return usageError(null, ...loaded.errors);
  }
  const c = loaded.config.checks.blobinfocache;
  const inScope = await cacheDirsInScope({
    dirs: [...c.dirs],
    discoverUsers: c.discoverUsers,
    cacheFormatInUse: null,
    passwdPath: parsed.values.passwd,
  });
  const outside: string[] = [];
  for (const dir of inScope) {
    if (!coveredByUnit(dir) && (await existsWithoutLinks(dir))) outside.push(dir);
  }
  process.stdout.write(
    renderDropIn(outside, { passwd: parsed.values.passwd, config: parsed.values.config ?? defaultConfigPath }),
  );
  return exitCodes.ok;
}
