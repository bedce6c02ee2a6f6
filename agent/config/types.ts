// The agent's configuration after validation: every default filled in, thresholds and the
// listen address parsed, deeply frozen. Code downstream reads it as is and never re-defaults.
import type { LogLevel } from '../log.ts';
import type { FreeThreshold } from '../../lib/byte-size.ts';

export type { FreeThreshold } from '../../lib/byte-size.ts';

// Same shape as lib/listen-address.ts' ListenAddress (host undefined: all interfaces).
export interface ListenConfig {
  readonly host: string | undefined;
  readonly port: number;
}

// What every check's section has besides its own settings.
export interface CheckRunConfig {
  readonly enabled: boolean;
  readonly schedule: string; // cron expression, 5 fields or 6 with seconds first (agent/cron.ts)
  readonly jitterSeconds: number; // each scheduled run waits a random 0..jitterSeconds first
  readonly timeoutSeconds: number;
  readonly failuresBeforeCritical: number; // damping: consecutive failures before `critical`
}

export interface SkopeoConfig extends CheckRunConfig {
  readonly binaries: readonly string[];
  readonly recommendedVersion: string | null; // below it: a warning (skopeo-below-recommended)
  readonly minVersion: string | null; // below it: refuse; null: no minimum (the default)
  readonly deny: readonly string[];
}

export interface BlobCacheConfig extends CheckRunConfig {
  readonly dirs: readonly string[];
  readonly discoverUsers: boolean;
  // When non-empty, only root's (configured directories') and these users' caches decide admission.
  readonly buildUsers: readonly string[];
  readonly autoQuarantine: boolean;
  readonly keep: number;
  readonly maxQuarantineBytes: number;
  readonly fullSchedule: string | null; // deep verification; null: never
  readonly fullTimeoutSeconds: number;
}

export interface DiskPathConfig {
  readonly path: string;
  readonly warnFree: FreeThreshold;
  readonly criticalFree: FreeThreshold;
}

export interface DiskConfig extends CheckRunConfig {
  readonly paths: readonly DiskPathConfig[];
}

export interface RegistryTargetConfig {
  readonly name: string;
  readonly url: string;
  readonly caFile: string | null;
  readonly insecure: boolean;
  readonly timeoutSeconds: number;
  readonly authFile: string | null;
}

export interface RegistriesConfig extends CheckRunConfig {
  readonly targets: readonly RegistryTargetConfig[];
}

export interface AgentConfig {
  readonly listen: ListenConfig;
  readonly stateDir: string;
  readonly logLevel: LogLevel;
  readonly auth: { readonly tokenFile: string | null };
  // clientCAFile: clients must present a certificate this CA bundle signed (node_exporter's
  // client_ca_file with RequireAndVerifyClientCert); null: any client, server auth only.
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly clientCAFile: string | null } | null;
  readonly checks: {
    readonly skopeo: SkopeoConfig;
    readonly blobinfocache: BlobCacheConfig;
    readonly disk: DiskConfig;
    readonly registries: RegistriesConfig;
  };
}

export type CheckConfigName = keyof AgentConfig['checks'];
