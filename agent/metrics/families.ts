// Every buildfleet_ metric family, created in one registry. The agent keeps two registries
// (Prometheus text and OpenMetrics) with a family set each, because prom-client renames counter
// objects in place when it renders OpenMetrics; sharing one object between both formats would
// drop `_total` from the text format after the first OpenMetrics scrape.
import { Counter, Gauge, type Registry, type RegistryContentType } from 'prom-client';

export const metricPrefix = 'buildfleet_';

// The two kinds of family, named with the prefix and registered in one registry.
function familyMakers(registry: Registry<RegistryContentType>) {
  const registers = [registry];
  return {
    gauge: <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Gauge<L>({ name: metricPrefix + name, help, labelNames, registers }),
    counter: <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name: metricPrefix + name, help, labelNames, registers }),
  };
}

type FamilyMakers = ReturnType<typeof familyMakers>;

// Families are created, and so rendered on /metrics, in the order written here.
export function createMetricFamilies(registry: Registry<RegistryContentType>) {
  const m = familyMakers(registry);
  return {
    ...agentFamilies(m),
    ...checkFamilies(m),
    ...skopeoFamilies(m),
    ...blobCacheFamilies(m),
    ...diskFamilies(m),
    ...registryFamilies(m),
    events: m.counter(
      'events_total',
      'Events recorded in the event history (GET /v1/events) since the agent started, by type.',
      ['type'],
    ),
    registryFailureInfo: m.gauge(
      'registry_probe_failure_info',
      '1 while the registry probe fails, labelled with the failure class.',
      ['registry', 'reason'],
    ),
  };
}

// The agent itself: its version, the admission decision, maintenance and the config.
function agentFamilies({ gauge }: FamilyMakers) {
  return {
    buildInfo: gauge('build_info', 'Always 1; the agent and Node.js versions as labels.', [
      'version',
      'nodejs_version',
    ]),
    admissionState: gauge(
      'admission_state',
      'The admission decision: 1 on the current state (accepting, degraded, refusing), 0 on the others.',
      ['state'],
    ),
    maintenanceEnabled: gauge('maintenance_enabled', '1 while the host is in maintenance (out of rotation), else 0.'),
    configReloadSuccess: gauge(
      'config_reload_success',
      '1 if the last configuration (re)load succeeded, 0 if it failed and the last good config is still in use.',
    ),
    configLastReloadSuccess: gauge(
      'config_last_reload_success_timestamp_seconds',
      'When the configuration was last loaded successfully (Unix seconds).',
    ),
  };
}

// Every check, whatever it checks (buildfleet_check_*).
function checkFamilies({ gauge, counter }: FamilyMakers) {
  return {
    checkStatus: gauge(
      'check_status',
      'The damped status of each check: 1 on the current status (ok, warning, critical, unknown), 0 on the others.',
      ['check', 'status'],
    ),
    checkLastRun: gauge('check_last_run_timestamp_seconds', 'When each check last finished (Unix seconds).', ['check']),
    checkDuration: gauge('check_duration_seconds', 'How long the last run of each check took.', ['check']),
    checkRuns: counter('check_runs_total', 'Check runs since the agent started.', ['check']),
    checkFailures: counter('check_failures_total', 'Check runs that did not end ok, since the agent started.', [
      'check',
    ]),
    checkTimeouts: counter('check_timeouts_total', 'Check runs stopped by their timeout, since the agent started.', [
      'check',
    ]),
    checkStatusChanges: counter(
      'check_status_changes_total',
      'Changes of the damped status of each check, since the agent started.',
      ['check'],
    ),
  };
}

// The skopeo check's details.
function skopeoFamilies({ gauge }: FamilyMakers) {
  return {
    skopeoInfo: gauge(
      'skopeo_info',
      'Always 1 per installed skopeo version; the blob-info cache format that version writes.',
      ['version', 'blobinfocache_format'],
    ),
    skopeoPolicySatisfied: gauge(
      'skopeo_version_policy_satisfied',
      '1 if every configured skopeo binary meets the version policy, else 0.',
    ),
  };
}

// The blob-info cache check's details, one series per cache file.
function blobCacheFamilies({ gauge, counter }: FamilyMakers) {
  return {
    cacheHealthy: gauge(
      'blobinfocache_healthy',
      '1 if the blob-info cache file counts as healthy, else 0 (corrupt, or not verified).',
      ['path', 'format'],
    ),
    cacheVerdict: gauge(
      'blobinfocache_verdict',
      'What each blob-info cache counts as for admission: 1 on its verdict (healthy, corrupt, unverified), 0 on the others.',
      ['path', 'format', 'verdict'],
    ),
    cacheProblems: gauge(
      'blobinfocache_problems',
      'Problems found in the blob-info cache file by the last verification.',
      ['path', 'format'],
    ),
    cacheSize: gauge('blobinfocache_size_bytes', 'Size of the blob-info cache file.', ['path', 'format']),
    cacheVerifyDuration: gauge(
      'blobinfocache_verify_duration_seconds',
      'How long the last verification of the cache file took.',
      ['path', 'format'],
    ),
    cacheInUse: gauge('blobinfocache_in_use', '1 if the cache format is the one the installed skopeo uses, else 0.', [
      'path',
      'format',
    ]),
    cacheLastVerified: gauge(
      'blobinfocache_last_verified_timestamp_seconds',
      'When the verdict of the cache file was last proven by a verification (Unix seconds); an unchanged cache keeps its healthy verdict and this time.',
      ['path', 'format'],
    ),
    cacheLastChanged: gauge(
      'blobinfocache_last_changed_timestamp_seconds',
      'When the cache file or its -wal/-journal was last written, its newest ctime (Unix seconds).',
      ['path', 'format'],
    ),
    cacheVerifications: counter(
      'blobinfocache_verifications_total',
      'Cache file verifications since the agent started, by what started the check run: schedule, write (seen in the cache directory), request, full (the deep run).',
      ['trigger'],
    ),
    cacheVerificationsSkipped: counter(
      'blobinfocache_verifications_skipped_total',
      'Cache file verifications skipped since the agent started because the file had not changed since it was verified healthy.',
    ),
    cacheQuarantined: counter(
      'blobinfocache_quarantined_total',
      'Corrupt cache files moved aside since the agent started.',
      ['format'],
    ),
  };
}

// The disk check's details, one series per configured path.
function diskFamilies({ gauge }: FamilyMakers) {
  return {
    diskAvail: gauge(
      'disk_avail_bytes',
      'Bytes available to unprivileged users on the filesystem holding each configured path.',
      ['path', 'mountpoint'],
    ),
    diskSize: gauge('disk_size_bytes', 'Size of the filesystem holding each configured path.', ['path', 'mountpoint']),
    diskFilesFree: gauge('disk_files_free', 'Free inodes on the filesystem holding each configured path.', [
      'path',
      'mountpoint',
    ]),
    diskFiles: gauge(
      'disk_files',
      'Inodes on the filesystem holding each configured path (0: no fixed inode table, e.g. btrfs).',
      ['path', 'mountpoint'],
    ),
  };
}

// The registry check's details, one series per registry.
function registryFamilies({ gauge }: FamilyMakers) {
  return {
    registrySuccess: gauge(
      'registry_probe_success',
      '1 if the last GET /v2/ probe of the registry succeeded, else 0.',
      ['registry'],
    ),
    registryDuration: gauge('registry_probe_duration_seconds', 'Time of each phase of the last registry probe.', [
      'registry',
      'phase',
    ]),
    registryHttpStatus: gauge(
      'registry_http_status_code',
      'HTTP status of the last registry probe (absent when no response arrived).',
      ['registry'],
    ),
    registryCertExpiry: gauge(
      'registry_tls_cert_expiry_timestamp_seconds',
      "When the registry's TLS certificate expires (Unix seconds).",
      ['registry'],
    ),
  };
}

export type MetricFamilies = ReturnType<typeof createMetricFamilies>;
