// The /metrics exposition: the buildfleet_ families (filled from the core's check states at
// scrape time) and prom-client's default process_*/nodejs_* metrics, in the Prometheus text
// format or OpenMetrics, whichever the scraper asks for.
import { collectDefaultMetrics, Registry, type RegistryContentType } from 'prom-client';
import type { AgentCore, CheckState } from './core-types.ts';
import { agentVersion } from './version.ts';
import { createMetricFamilies, type MetricFamilies } from './metrics/families.ts';
import { fillFamilies } from './metrics/fill-families.ts';
import { quarantinedFormats } from './metrics/blobcache-metrics.ts';
import type { QuarantineReport } from './remediation/run-quarantine.ts';
import { chooseExpositionFormat, type ExpositionFormat } from './metrics/content-negotiation.ts';

export { chooseExpositionFormat, type ExpositionFormat } from './metrics/content-negotiation.ts';

export interface RenderedMetrics {
  contentType: string;
  body: Buffer; // encoded once, so a cached rendering is sent without re-encoding
}

export interface AgentMetrics {
  render(accept: string | undefined): Promise<RenderedMetrics>;
  // The daemon reports every (re)load of the config file; a failed reload keeps the last good one.
  recordConfigLoad(ok: boolean, at: Date): void;
  // Every new check state (core.onState), so no observation between two scrapes is missed when
  // counting quarantines. Scrapes look at the current states too; each observation counts once.
  observeState(state: CheckState): void;
  // The report of a quarantine run outside the check (POST /v1/caches/quarantine).
  recordQuarantineReport(report: QuarantineReport): void;
  // Something the metrics show changed (maintenance set or cleared): the next scrape renders anew.
  invalidate(): void;
}

export interface AgentMetricsOptions {
  // Scrapes within this many milliseconds of a previous render of the same format get that
  // render's bytes, unless a check state, the config or maintenance changed since. Rendering
  // costs about a millisecond (prom-client reads /proc and walks every series); the cache keeps
  // a burst of scrapers from costing one rendering each. 0 turns it off.
  renderCacheMs?: number;
  now?: () => Date;
}

interface FormatRegistry {
  registry: Registry<RegistryContentType>;
  families: MetricFamilies;
  cached: { at: number; rendered: Promise<RenderedMetrics> } | null;
}

export function createAgentMetrics(core: AgentCore, opts: AgentMetricsOptions = {}): AgentMetrics {
  const now = opts.now ?? (() => new Date());
  const renderCacheMs = opts.renderCacheMs ?? 0;
  const startedAt = now();
  // Each format's registry is made when a scraper first asks for that format: Prometheus asks
  // for OpenMetrics, curl and most tools for text, so an agent usually renders only one. Each
  // registry carries its own default metrics (an event-loop histogram of 360 KiB, a GC observer).
  const formats: Record<ExpositionFormat, FormatRegistry | null> = { text: null, openmetrics: null };
  const contentTypes: Record<ExpositionFormat, RegistryContentType> = {
    text: Registry.PROMETHEUS_CONTENT_TYPE,
    openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
  };
  const registryFor = (format: ExpositionFormat): FormatRegistry =>
    (formats[format] ??= makeRegistry(contentTypes[format]));
  let configReloadOk = true;
  let configLastGoodAt: Date | null = null;
  // Both cache formats start at 0, so increase() and alerts work from the first quarantine on.
  const quarantinedByFormat = new Map<string, number>([
    ['boltdb', 0],
    ['sqlite', 0],
  ]);
  const countedObservation = new Map<string, number>();

  const countQuarantined = (format: string): void => {
    quarantinedByFormat.set(format, (quarantinedByFormat.get(format) ?? 0) + 1);
  };

  // Quarantines done by the cache check are read from its details: each new observation (made
  // after this agent started) that lists moved-aside caches adds them to the counter once.
  function countObservation(s: CheckState): void {
    if (s.observedAt === null || s.observedAt.getTime() < startedAt.getTime()) return;
    const t = s.observedAt.getTime();
    if (countedObservation.get(s.name) === t) return;
    countedObservation.set(s.name, t);
    if (s.details.kind === 'blobinfocache')
      for (const format of quarantinedFormats(s.details)) countQuarantined(format);
  }

  function observeState(s: CheckState): void {
    invalidate();
    countObservation(s);
  }

  function invalidate(): void {
    for (const made of Object.values(formats)) if (made) made.cached = null;
  }

  async function renderFresh(target: FormatRegistry): Promise<RenderedMetrics> {
    const preflight = await core.preflight({});
    for (const s of core.states()) countObservation(s);
    fillFamilies(target.families, {
      agentVersion,
      nodeVersion: process.versions.node,
      decision: preflight.decision,
      maintenance: preflight.maintenance !== null,
      states: core.states(),
      configReloadOk,
      configLastGoodAt,
      quarantinedByFormat,
      eventCounts: core.eventCounts(),
    });
    return { contentType: target.registry.contentType, body: Buffer.from(await target.registry.metrics(), 'utf8') };
  }

  return {
    render(accept) {
      const target = registryFor(chooseExpositionFormat(accept));
      const t = Date.now();
      if (target.cached !== null && t - target.cached.at < renderCacheMs) return target.cached.rendered;
      const rendered = renderFresh(target);
      target.cached = renderCacheMs > 0 ? { at: t, rendered } : null;
      // A failed render must not be served from the cache.
      rendered.catch(() => {
        if (target.cached?.rendered === rendered) target.cached = null;
      });
      return rendered;
    },
    observeState,
    invalidate,
    recordQuarantineReport(report) {
      for (const r of report.results) {
        if (r.result === 'quarantined') countQuarantined(r.formatByName ?? r.verdict?.format ?? 'unknown');
      }
      invalidate();
    },
    recordConfigLoad(ok, at) {
      invalidate();
      configReloadOk = ok;
      if (ok) configLastGoodAt = at;
    },
  };
}

// The event-loop delay histogram's sampling timer (prom-client's default is 10 ms). Measured: at
// 10 ms the timer alone cost 0.40 CPU-s a minute (24 CPU-s an hour, nearly all of an idle
// daemon's 26), against 0.03 without it. At 100 ms it samples 10 times a second: a stall still
// delays the next sample by its length, but one shorter than 100 ms between two samples can go
// unseen. nodejs_eventloop_lag_* values include this period (bench/daemon-soak.ts subtracts it).
export const eventLoopMonitoringPrecisionMs = 100;

const lintFailingDefaults = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

function makeRegistry(contentType: RegistryContentType): FormatRegistry {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(contentType);
  // Default metrics keep their standard names (process_*, nodejs_*) so stock dashboards work.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: eventLoopMonitoringPrecisionMs });
  // prom-client's three *_total gauges break the naming rules promtool checks (a _total suffix
  // means counter); each is only the sum of its per-type sibling without the suffix.
  for (const name of lintFailingDefaults) registry.removeSingleMetric(name);
  return { registry, families: createMetricFamilies(registry), cached: null };
}
