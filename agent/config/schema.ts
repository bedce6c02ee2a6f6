// The config file's schema: every key, its default and its rule, in one place. Unknown keys are
// errors (a typo must never silently fall back to a default). Defaults follow
// docs/conventions.md; where they differ, docs/config.md says why.
//
// Valibot, not zod: measured in the esbuild bundle, zod adds 9.3 MiB of resident memory to the
// daemon just by being loaded (56.2 vs 46.8 MiB for a trivial schema), valibot about nothing
// (5.8 KB of bundled code, tree-shaken); the daemon has an 80 MB RSS budget.
//
// How problems combine is part of the contract (test/agent/config.test.ts): a rule on a mapping or
// a list (warnFree >= criticalFree, no duplicates) still runs when a value inside only broke a
// rule (a relative path, a bad cron expression, an unknown key), but not when a value inside has
// the wrong type or could not be parsed; valibot's `typed` flag says exactly that, so every
// raw check below looks at it first.
import * as v from 'valibot';
import { isValidCron } from '../cron.ts';
import semver from 'semver';
import { parseListenAddress } from '../../lib/listen-address.ts';
import { logLevels } from '../log.ts';
import { parseByteSize, parseFreeThreshold, warnAtLeastCritical, type FreeThreshold } from '../../lib/byte-size.ts';
import { closestKey, describeValue, expectedButGot } from './messages.ts';

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// Marks the issues of unknown keys: the only problem that does not stop a registry target from
// being named by its host (see registryTargets).
const unknownKeyExpected = 'a known key';

function isUnknownKeyIssue(issue: v.BaseIssue<unknown>): boolean {
  return issue.expected === unknownKeyExpected;
}

// A mapping with these keys. Every unknown key is its own problem, reported after the problems of
// the known keys; v.strictObject reports only the first, and v.object would drop them silently.
// (A YAML list is not a mapping, though valibot's object schemas accept arrays.)
function mapping<const E extends v.ObjectEntries>(entries: E) {
  const known = v.pipe(
    v.custom<Record<string, unknown>>(isMapping, (issue) => expectedButGot('a mapping', issue.input)),
    v.object(entries),
  );
  const knownKeys = Object.keys(entries);
  const reportUnknownKeys = (input: Record<string, unknown>) =>
    v.rawCheck<unknown>(({ addIssue }) => {
      for (const key of Object.keys(input)) {
        if (Object.hasOwn(entries, key)) continue;
        const suggestion = closestKey(key, knownKeys);
        addIssue({
          expected: unknownKeyExpected,
          received: `"${key}"`,
          message: `unknown key${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
          path: [{ type: 'object', origin: 'key', input, key, value: input[key] }],
        });
      }
    });
  // The wrapper only sees the input before v.object drops the unknown keys from it.
  const schema: typeof known = {
    ...known,
    '~run'(dataset, config) {
      const input = dataset.value;
      const result = known['~run'](dataset, config);
      if (isMapping(input)) reportUnknownKeys(input)['~run'](result, config);
      return result;
    },
  };
  return schema;
}

// zod's number, which the messages were written against: NaN and the infinities are the wrong type.
const finiteNumber = v.custom<number>(
  (value) => typeof value === 'number' && Number.isFinite(value),
  (issue) => expectedButGot('a number', issue.input),
);

const absolutePath = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty'),
  v.check((p) => p.startsWith('/'), 'must be an absolute path'),
);

const cronExpression = v.pipe(
  v.string(),
  v.check(isValidCron, (issue) => `"${String(issue.input)}" is not a valid cron expression`),
);

// Every number has an upper bound too. Durations become Node timers, which take at most
// 2^31-1 ms (about 24.8 days) and turn anything larger into 1 ms: a timeout of 1e7 seconds
// would time every run out at once. A day is far beyond any sane check or probe.
export const maxSeconds = 86_400;
export const maxJitterSeconds = 3_600;
const positiveSeconds = v.pipe(
  finiteNumber,
  v.check((n) => n > 0, 'must be more than 0'),
  v.check((n) => n <= maxSeconds, `must be at most ${maxSeconds} (a day)`),
);
const nonNegativeSeconds = v.pipe(
  finiteNumber,
  v.minValue(0, 'must not be negative'),
  v.maxValue(maxJitterSeconds, `must be at most ${maxJitterSeconds} (an hour)`),
);

// A whole number from `min` to `max`. A fraction is the one problem reported alone.
function wholeNumber(min: number, tooSmall: string, max: number) {
  return v.pipe(
    finiteNumber,
    v.rawCheck<number>(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const n = dataset.value;
      if (!Number.isInteger(n)) {
        addIssue({ message: expectedButGot('int', n) });
        return;
      }
      if (!Number.isSafeInteger(n)) addIssue({ message: 'must be a whole number' });
      if (n < min) addIssue({ message: tooSmall });
      else if (n > max) addIssue({ message: `must be at most ${max}` });
    }),
  );
}

const freeThreshold = v.pipe(
  v.union([v.string(), finiteNumber]),
  v.rawTransform<string | number, FreeThreshold>(({ dataset, addIssue, NEVER }) => {
    const value = dataset.value;
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value) || value < 0) addIssue({ message: `${value} is not a number of bytes` });
      return { bytes: value };
    }
    const parsed = parseFreeThreshold(value);
    if (parsed instanceof Error) {
      addIssue({ message: parsed.message });
      return NEVER;
    }
    return parsed;
  }),
);

const byteSize = v.pipe(
  v.union([v.string(), finiteNumber]),
  v.rawTransform<string | number, number>(({ dataset, addIssue, NEVER }) => {
    const value = dataset.value;
    const parsed = typeof value === 'number' ? value : parseByteSize(value);
    if (parsed instanceof Error || !Number.isSafeInteger(parsed) || parsed < 0) {
      addIssue({ message: parsed instanceof Error ? parsed.message : `${value} is not a number of bytes` });
      return NEVER;
    }
    return parsed;
  }),
);

interface RunDefaults {
  schedule: string;
  jitterSeconds: number;
  timeoutSeconds: number;
  failuresBeforeCritical: number;
}

// The keys every check section shares.
function checkRunKeys(d: RunDefaults) {
  return {
    enabled: v.optional(v.boolean(), true),
    schedule: v.optional(cronExpression, d.schedule),
    jitterSeconds: v.optional(nonNegativeSeconds, d.jitterSeconds),
    timeoutSeconds: v.optional(positiveSeconds, d.timeoutSeconds),
    failuresBeforeCritical: v.optional(wholeNumber(1, 'must be at least 1', 1000), d.failuresBeforeCritical),
  };
}

type AddIssue = (info: { message: string; path: [v.ArrayPathItem, v.ObjectPathItem] }) => void;

// Reports every repeated value of `key` in a list, at the repeated entry. `valueOf` is the value
// the entry stands for (undefined included: two entries that both lack it are a repeat too).
function reportDuplicates<T extends Record<string, unknown>>(
  items: T[],
  key: string,
  valueOf: (item: T, index: number) => unknown,
  addIssue: AddIssue,
): void {
  const seen = new Set<unknown>();
  items.forEach((item, i) => {
    const value = valueOf(item, i);
    if (seen.has(value)) {
      addIssue({
        message: `duplicate ${key} ${JSON.stringify(value)}`,
        path: [
          { type: 'array', origin: 'value', input: items, key: i, value: item },
          { type: 'object', origin: 'value', input: item, key, value: item[key] },
        ],
      });
    }
    seen.add(value);
  });
}

const skopeo = mapping({
  ...checkRunKeys({ schedule: '*/5 * * * *', jitterSeconds: 30, timeoutSeconds: 10, failuresBeforeCritical: 1 }),
  binaries: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1, 'must not be empty'))),
      v.minLength(1, 'needs at least one binary'),
    ),
    ['skopeo'],
  ),
  // Advice by default; refusing (minVersion, deny) is the operator's fleet policy.
  recommendedVersion: v.optional(
    v.nullable(
      v.pipe(
        v.string(),
        v.check((s) => semver.valid(s) !== null, 'must be a version such as "1.14.0"'),
      ),
    ),
    '1.14.0',
  ),
  minVersion: v.optional(
    v.nullable(
      v.pipe(
        v.string(),
        v.check((s) => semver.valid(s) !== null, 'must be a version such as "1.14.0"'),
      ),
    ),
    null,
  ),
  deny: v.optional(
    v.array(
      v.pipe(
        v.string(),
        v.check((r) => semver.validRange(r) !== null, 'is not a semver range'),
      ),
    ),
    [],
  ),
});

const blobinfocache = mapping({
  ...checkRunKeys({ schedule: '* * * * *', jitterSeconds: 10, timeoutSeconds: 300, failuresBeforeCritical: 1 }),
  dirs: v.optional(v.array(absolutePath), ['/var/lib/containers/cache']),
  discoverUsers: v.optional(v.boolean(), true),
  buildUsers: v.optional(
    v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/, 'must be a user name'))),
    [],
  ),
  autoQuarantine: v.optional(v.boolean(), false),
  keep: v.optional(wholeNumber(0, 'must not be negative', 1000), 3),
  maxQuarantineBytes: v.optional(byteSize, 1024 ** 3),
  fullSchedule: v.optional(v.nullable(cronExpression), '17 3 * * *'),
  fullTimeoutSeconds: v.optional(positiveSeconds, 1800),
});

const diskPath = v.pipe(
  mapping({
    path: absolutePath,
    warnFree: v.optional(freeThreshold, '20%'),
    criticalFree: v.optional(freeThreshold, '10%'),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const p = dataset.value;
    if (warnAtLeastCritical(p.warnFree, p.criticalFree) === false) {
      addIssue({
        message: 'must ask for at least as much free space as criticalFree',
        path: [{ type: 'object', origin: 'value', input: p, key: 'warnFree', value: p.warnFree }],
      });
    }
  }),
);

const disk = mapping({
  ...checkRunKeys({ schedule: '* * * * *', jitterSeconds: 10, timeoutSeconds: 10, failuresBeforeCritical: 1 }),
  // Defaults are parsed like the file's values: these are the thresholds as a person writes them.
  paths: v.optional(
    v.pipe(
      v.array(diskPath),
      v.rawCheck(({ dataset, addIssue }) => {
        if (dataset.typed) reportDuplicates(dataset.value, 'path', (p) => p.path, addIssue);
      }),
    ),
    [
      { path: '/var/lib/containers', warnFree: '20%', criticalFree: '10%' },
      { path: '/tmp', warnFree: 5 * 1024 ** 3, criticalFree: 1024 ** 3 },
    ],
  ),
});

const registryUrl = v.pipe(
  v.string(),
  v.rawCheck<string>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const text = dataset.value;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      addIssue({ message: `"${text}" is not a URL` });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      addIssue({ message: `"${text}" must start with https:// or http://` });
    }
  }),
);

// Registry names become metric label values and reason texts: short, no spaces.
const registryName = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits, ".", "_", ":" or "-"'),
);

const registryTarget = mapping({
  name: v.optional(registryName),
  url: registryUrl,
  caFile: v.optional(v.nullable(absolutePath), null),
  insecure: v.optional(v.boolean(), false),
  timeoutSeconds: v.optional(positiveSeconds, 5),
  authFile: v.optional(v.nullable(absolutePath), null),
});

// Without a name the registry is called by its host[:port], which is what people say anyway. A
// target with a problem (other than an unknown key) gets no derived name, so the duplicate check
// sees only what it can trust.
const registryTargets = v.pipe(
  v.array(registryTarget),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const broken = new Set(
      dataset.issues?.filter((issue) => !isUnknownKeyIssue(issue)).map((issue) => issue.path?.[0]?.key),
    );
    const nameOf = (t: v.InferOutput<typeof registryTarget>, i: number) =>
      t.name ?? (broken.has(i) ? undefined : new URL(t.url).host);
    reportDuplicates(dataset.value, 'name', nameOf, addIssue);
  }),
  v.transform((targets) => targets.map((t) => ({ ...t, name: t.name ?? new URL(t.url).host }))),
);

const registries = mapping({
  ...checkRunKeys({ schedule: '* * * * *', jitterSeconds: 10, timeoutSeconds: 30, failuresBeforeCritical: 2 }),
  targets: v.optional(registryTargets, []),
});

const listen = v.pipe(
  v.string(),
  v.rawTransform<string, { host: string | undefined; port: number }>(({ dataset, addIssue, NEVER }) => {
    const parsed = parseListenAddress(dataset.value);
    if (!parsed.ok) {
      addIssue({ message: parsed.error });
      return NEVER;
    }
    return parsed.address;
  }),
);

const logLevel = v.picklist(
  logLevels,
  (issue) => `must be one of ${logLevels.map((l) => JSON.stringify(l)).join(', ')}, got ${describeValue(issue.input)}`,
);

export const configSchema = mapping({
  listen: v.optional(listen, ':20580'),
  stateDir: v.optional(absolutePath, '/var/lib/buildfleet-agent'),
  logLevel: v.optional(logLevel, 'info'),
  auth: v.optional(mapping({ tokenFile: v.optional(v.nullable(absolutePath), null) }), {}),
  tls: v.optional(
    v.nullable(
      mapping({
        certFile: absolutePath,
        keyFile: absolutePath,
        clientCAFile: v.optional(v.nullable(absolutePath), null),
      }),
    ),
    null,
  ),
  checks: v.optional(
    mapping({
      skopeo: v.optional(skopeo, {}),
      blobinfocache: v.optional(blobinfocache, {}),
      disk: v.optional(disk, {}),
      registries: v.optional(registries, {}),
    }),
    {},
  ),
});

export type ParsedConfig = v.InferOutput<typeof configSchema>;
