// The effective config written back as the YAML a person would write, for `config check`:
// thresholds as "20%"/"5GiB", the listen address as text. Loading the output gives the same
// config again (the config test checks that).
import { stringify } from 'yaml';
import { formatListenAddress } from '../../lib/listen-address.ts';
import { formatByteSize, formatFreeThreshold } from '../../lib/byte-size.ts';
import type { AgentConfig } from './types.ts';

export function configAsDocument(config: AgentConfig): Record<string, unknown> {
  const { skopeo, blobinfocache, disk, registries } = config.checks;
  return {
    listen: formatListenAddress(config.listen),
    stateDir: config.stateDir,
    logLevel: config.logLevel,
    auth: { tokenFile: config.auth.tokenFile },
    tls: config.tls === null ? null : { ...config.tls },
    checks: {
      skopeo: { ...skopeo, binaries: [...skopeo.binaries], deny: [...skopeo.deny] },
      blobinfocache: {
        ...blobinfocache,
        dirs: [...blobinfocache.dirs],
        maxQuarantineBytes: formatByteSize(blobinfocache.maxQuarantineBytes),
      },
      disk: {
        ...disk,
        paths: disk.paths.map((p) => ({
          path: p.path,
          warnFree: formatFreeThreshold(p.warnFree),
          criticalFree: formatFreeThreshold(p.criticalFree),
        })),
      },
      registries: { ...registries, targets: registries.targets.map((t) => ({ ...t })) },
    },
  };
}

export function renderConfigYaml(config: AgentConfig): string {
  return stringify(configAsDocument(config), { lineWidth: 0 });
}
