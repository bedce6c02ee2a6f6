// Which cache directories the shipped unit cannot make writable by itself, and the drop-in that
// does. The unit (deploy/systemd/buildfleet-agent.service) runs with ProtectSystem=strict: the
// whole tree is read-only except its ReadWritePaths=, which are /home and root's cache. A build
// user whose home is elsewhere (Jenkins' /var/lib/jenkins, homes under /opt or /srv) or a
// configured cache directory elsewhere would have its corrupt cache found and never moved
// (rename fails with EROFS). systemd has no globs, so the directories are listed one by one.
import path from 'node:path';

// The unit's own ReadWritePaths= (test/deploy/systemd-dropin.test.ts keeps the two equal).
export const unitWritablePaths = ['/var/lib/containers/cache', '/home'] as const;

export const dropInPath = '/etc/systemd/system/buildfleet-agent.service.d/60-cache-dirs.conf';

export function coveredByUnit(dir: string, writable: readonly string[] = unitWritablePaths): boolean {
  const d = path.resolve(dir);
  return writable.some((w) => d === w || d.startsWith(`${w}/`));
}

// The drop-in text for the given cache directories (already filtered to existing ones outside
// the unit's paths). '-': a directory removed later does not stop the agent from starting.
export function renderDropIn(dirs: readonly string[], source: { passwd: string; config: string }): string {
  const unique = [...new Set(dirs.map((d) => path.resolve(d)))].sort();
  const lines = [
    `# ${dropInPath}`,
    `# Written by \`buildfleet-agent systemd-dropin\` from ${source.passwd} and ${source.config}; do not edit:`,
    '# it is regenerated on every RPM install and upgrade. The unit already makes /home and',
    '# /var/lib/containers/cache writable; these are the cache directories outside them, which the',
    '# agent must be able to write to move a corrupt cache aside. A directory is listed only when it',
    "# exists: after a build user's first skopeo run, regenerate this file and restart the agent.",
    '[Service]',
  ];
  if (unique.length === 0) lines.push('# (no cache directory outside /home and /var/lib/containers/cache)');
  for (const d of unique) lines.push(`ReadWritePaths=-${d}`);
  return `${lines.join('\n')}\n`;
}
