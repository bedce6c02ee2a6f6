// The config file's schema: every key, its default and its rule, in one place. Unknown keys are
// errors (a typo must never silently fall back to a default). Defaults follow
// docs/conventions.md; where they differ, docs/config.md says why.
import { z } from 'zod';
import { isValidCron } from '../cron.ts';
import semver from 'semver';
import { parseListenAddress } from '../http/listen-address.ts';
import { logLevels, type LogLevel } from '../log.ts';
import { parseByteSize, parseFreeThreshold, warnAtLeastCritical, type FreeThreshold } from './byte-size.ts';

const absolutePath = z.string().min(1, 'must not be empty').refine((p) => p.startsWith('/'), 'must be an absolute path');

const cronExpression = z.string().superRefine((text, ctx) => {
  if (!isValidCron(text)) ctx.addIssue({ code: 'custom', message: `"${text}" is not a valid cron expression` });
});

const positiveSeconds = z.number().positive('must be more than 0').finite();
const nonNegativeSeconds = z.number().min(0, 'must not be negative').finite();

const freeThreshold = z.union([z.string(), z.number()]).transform((value, ctx): FreeThreshold => {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) ctx.addIssue({ code: 'custom', message: `${value} is not a number of bytes` });
    return { bytes: value };
  }
  const parsed = parseFreeThreshold(value);
  if (parsed instanceof Error) {
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return { bytes: 0 };
  }
  return parsed;
});

const byteSize = z.union([z.string(), z.number()]).transform((value, ctx): number => {
  const parsed = typeof value === 'number' ? value : parseByteSize(value);
  if (parsed instanceof Error || !Number.isSafeInteger(parsed) || parsed < 0) {
    ctx.addIssue({ code: 'custom', message: parsed instanceof Error ? parsed.message : `${value} is not a number of bytes` });
    return 0;
  }
  return parsed;
});

interface RunDefaults {
  schedule: string;
  jitterSeconds: number;
  timeoutSeconds: number;
  failuresBeforeCritical: number;
}

// The keys every check section shares.
function checkRunKeys(d: RunDefaults) {
  return {
    enabled: z.boolean().default(true),
    schedule: cronExpression.default(d.schedule),
    jitterSeconds: nonNegativeSeconds.default(d.jitterSeconds),
    timeoutSeconds: positiveSeconds.default(d.timeoutSeconds),
    failuresBeforeCritical: z.number().int('must be a whole number').min(1, 'must be at least 1').default(d.failuresBeforeCritical),
  };
}

// Reports every repeated value of `key` in a list, at the repeated entry.
function noDuplicates<T>(key: keyof T & string) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      if (seen.has(item[key])) {
        ctx.addIssue({ code: 'custom', path: [i, key], message: `duplicate ${key} ${JSON.stringify(item[key])}` });
      }
      seen.add(item[key]);
    });
  };
}

const skopeo = z.strictObject({
  ...checkRunKeys({ schedule: '*/5 * * * *', jitterSeconds: 30, timeoutSeconds: 10, failuresBeforeCritical: 1 }),
  binaries: z.array(z.string().min(1, 'must not be empty')).min(1, 'needs at least one binary').default(['skopeo']),
  minVersion: z.string().refine((v) => semver.valid(v) !== null, 'must be a version such as "1.14.0"').default('1.14.0'),
  deny: z.array(z.string().refine((r) => semver.validRange(r) !== null, 'is not a semver range')).default([]),
});

const blobinfocache = z.strictObject({
  ...checkRunKeys({ schedule: '* * * * *', jitterSeconds: 10, timeoutSeconds: 300, failuresBeforeCritical: 1 }),
  dirs: z.array(absolutePath).default(['/var/lib/containers/cache']),
  discoverUsers: z.boolean().default(true),
  autoQuarantine: z.boolean().default(false),
  keep: z.number().int('must be a whole number').min(0, 'must not be negative').default(3),
  maxQuarantineBytes: byteSize.default(1024 ** 3),
  fullSchedule: cronExpression.nullable().default('17 3 * * *'),
  fullTimeoutSeconds: positiveSeconds.default(1800),
});

const diskPath = z
  .strictObject({
    path: absolutePath,
    warnFree: freeThreshold.prefault('20%'),
    criticalFree: freeThreshold.prefault('10%'),
  })
  .superRefine((p, ctx) => {
    if (warnAtLeastCritical(p.warnFree, p.criticalFree) === false) {
      ctx.addIssue({ code: 'custom', path: ['warnFree'], message: 'must ask for at least as much free space as criticalFree' });
    }
  });

const disk = z.strictObject({
  ...checkRunKeys({ schedule: '* * * * *', jitterSeconds: 10, timeoutSeconds: 10, failuresBeforeCritical: 1 }),
  paths: z
    .array(diskPath)
    .default([
      { path: '/var/lib/containers', warnFree: { percent: 20 }, criticalFree: { percent: 10 } },
      { path: '/tmp', warnFree: { bytes: 5 * 1024 ** 3 }, criticalFree: { bytes: 1024 ** 3 } },
    ])
    .superRefine(noDuplicates('path')),
});

const registryUrl = z.string().superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a URL` });
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    ctx.addIssue({ code: 'custom', message: `"${text}" must start with https:// or http://` });
  }
});

// Registry names become metric label values and reason texts: short, no spaces.
const registryName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits, ".", "_", ":" or "-"');

const registryTarget = z
  .strictObject({
    name: registryName.optional(),
    url: registryUrl,
    caFile: absolutePath.nullable().default(null),
    insecure: z.boolean().default(false),
    timeoutSeconds: positiveSeconds.default(5),
    authFile: absolutePath.nullable().default(null),
  })
  // Without a name the registry is called by its host[:port], which is what people say anyway.
  .transform((t) => ({ ...t, name: t.name ?? new URL(t.url).host }));

const registries = z.strictObject({
  ...checkRunKeys({ schedule: '* * * * *', jitterSeconds: 10, timeoutSeconds: 30, failuresBeforeCritical: 2 }),
  targets: z.array(registryTarget).default([]).superRefine(noDuplicates('name')),
});

const listen = z.string().transform((text, ctx) => {
  const parsed = parseListenAddress(text);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return { host: undefined, port: 0 };
  }
  return parsed.address;
});

export const configSchema = z.strictObject({
  listen: listen.prefault(':20580'),
  stateDir: absolutePath.default('/var/lib/buildfleet-agent'),
  logLevel: z.enum(logLevels as [LogLevel, ...LogLevel[]]).default('info'),
  auth: z.strictObject({ tokenFile: absolutePath.nullable().default(null) }).prefault({}),
  tls: z.strictObject({ certFile: absolutePath, keyFile: absolutePath }).nullable().default(null),
  checks: z
    .strictObject({
      skopeo: skopeo.prefault({}),
      blobinfocache: blobinfocache.prefault({}),
      disk: disk.prefault({}),
      registries: registries.prefault({}),
    })
    .prefault({}),
});

export type ParsedConfig = z.output<typeof configSchema>;
