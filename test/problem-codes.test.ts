// The one table of problem and reason codes (lib/problem-codes.ts) against the code that emits
// them and the pages that document them.
//
// Why this proves that every code the agent can emit is in the table:
// 1. The compiler. Every field that carries a code is typed with the table's keys, so an
//    emitting site with any other string fails `tsc --noEmit` (part of `npm test`). The
//    expect-error lines below keep that true: if one of those fields is widened back to
//    `string`, the directive is unused and the typecheck fails.
// 2. What the compiler cannot see: a new field declared `code: string`, or a cast. The source
//    scan below fails on both, outside the few listed places that read back what this agent
//    wrote (state file, event history, its verification child) or show another agent's answer.
// 3. Evidence at run time: the verifiers' verdicts on the committed fixtures, a few hundred
//    seeded mutations of them and a set of damaged SQLite files carry only codes of the table,
//    and each code's `implies` column agrees with the verdict it came in.
// No entry is dead: each code must be written as a literal somewhere in the sources its group
// names (`emittedBy`), outside the table itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  codeFields,
  codeGroups,
  problemCodes,
  type CacheProblemCode,
  type CheckReasonCode,
  type CodeGroupName,
  type CodeIn,
} from '../lib/problem-codes.ts';
import { headingAnchor, problemCodesDocPath, problemCodesMarkdown } from '../lib/problem-codes-doc.ts';
import type { CheckReason, CheckStatus } from '../checks/types.ts';
import type { CacheProblem, CacheVerdict, CacheVerdictKind } from '../checks/blobcache/verdict.ts';
import type { CacheQuarantineDetail, UnverifiedCause } from '../checks/blobcache/check.ts';
import type { QuarantineResult, RemediationOutcome } from '../checks/blobcache/remediation.ts';
import type { SnapshotOutcome } from '../checks/blobcache/sqlite/snapshot.ts';
import type { SkopeoBinaryReport } from '../checks/skopeo.ts';
import type { DiskPathReport } from '../checks/disk.ts';
import { problemCodeOf, type RegistryFailureReason, type RegistryProblemCode } from '../checks/registry.ts';
import type { QuarantineOutcome } from '../agent/remediation/quarantine.ts';
import type { Preflight } from '../agent/core-types.ts';
import type { ApiError } from '../agent/http/respond.ts';
import type { BodyResult } from '../agent/http/request-body.ts';
import type { TokenFileProblem } from '../agent/http/auth.ts';
import type { AskErrorCode } from '../agent/fleet/ask-agent.ts';
import type { FleetState } from '../agent/fleet/fleet-report.ts';
import { help as fleetStatusHelp } from '../agent/cli/fleet-status.ts';
import { verifyBoltSource } from '../checks/blobcache/bolt/verify.ts';
import { bufferReadAt } from '../checks/blobcache/file-source.ts';
import { verifyCacheFile } from '../checks/blobcache/verify.ts';
import { seededRandom } from './support/bolt-damage.ts';
import { createCacheFixture } from './fixtures/sqlite/blob-info-cache.ts';

const root = path.resolve(import.meta.dirname, '..');
const groupNames = Object.keys(codeGroups) as CodeGroupName[];
const codesOf = (g: CodeGroupName): string[] => Object.keys(problemCodes[g]);

// ---- 1. The compiler: every code field rejects a string that is not in the table. ----------
const only = <T>(v: T): T => v;
export const rejected = () => [
  // @ts-expect-error not in the table
  only<CheckReason['code']>('no-such-code'),
  // @ts-expect-error not in the table
  only<Preflight['reasons'][number]['code']>('no-such-code'),
  // @ts-expect-error not in the table
  only<CacheProblem['code']>('no-such-code'),
  // @ts-expect-error not in the table
  only<Extract<SnapshotOutcome, { kind: 'busy' }>['code']>('no-such-code'),
  // @ts-expect-error not in the table
  only<NonNullable<SkopeoBinaryReport['code']>>('no-such-code'),
  // @ts-expect-error not in the table
  only<NonNullable<DiskPathReport['code']>>('no-such-code'),
  // @ts-expect-error not in the table
  only<RegistryFailureReason>('no-such-code'),
  // @ts-expect-error not in the table
  only<UnverifiedCause>('no-such-code'),
  // @ts-expect-error not in the table
  only<QuarantineOutcome['code']>('no-such-code'),
  // @ts-expect-error not in the table
  only<RemediationOutcome['code']>('no-such-code'),
  // @ts-expect-error not in the table
  only<CacheQuarantineDetail['code']>('no-such-code'),
  // @ts-expect-error not in the table
  only<ApiError['code']>('no-such-code'),
  // @ts-expect-error not in the table
  only<Extract<BodyResult, { ok: false }>['code']>('no-such-code'),
  // @ts-expect-error not in the table
  only<TokenFileProblem>('no-such-code'),
  // @ts-expect-error not in the table
  only<AskErrorCode>('no-such-code'),
];

// The `implies` column names real statuses, verdicts and results: each group's values must be
// assignable to the type of what they describe.
type ImpliesOf<G extends CodeGroupName> = G extends CodeGroupName
  ? (typeof problemCodes)[G][keyof (typeof problemCodes)[G]] extends { implies: infer I }
    ? I
    : never
  : never;
export const implied = (
  reasons: ImpliesOf<'skopeoReason' | 'diskReason' | 'registryReason' | 'cacheReason' | 'runnerReason'>,
  admission: ImpliesOf<'admissionReason'>,
  verdicts: ImpliesOf<'cacheFileProblem' | 'boltProblem' | 'sqliteProblem' | 'verifierProblem'>,
  causes: ImpliesOf<'unverifiedCause'>,
  results: ImpliesOf<'quarantineOutcome'>,
  failures: ImpliesOf<'registryFailure'>,
  fleet: ImpliesOf<'fleetError'>,
) => [
  only<CheckStatus>(reasons),
  only<CheckStatus | 'refuse'>(admission),
  only<CacheVerdictKind>(verdicts),
  only<CheckReasonCode>(causes),
  only<QuarantineResult>(results),
  only<RegistryProblemCode>(failures),
  only<FleetState>(fleet),
];

// ---- The table itself. -----------------------------------------------------------------------
test('every code is kebab-case (registry failure classes are Prometheus label values) and fully described', () => {
  for (const g of groupNames) {
    for (const [code, e] of Object.entries(problemCodes[g])) {
      const shape = g === 'registryFailure' ? /^[a-z]+(_[a-z]+)*$/ : /^[a-z0-9]+(-[a-z0-9]+)*$/;
      assert.match(code, shape, `${g}: ${code}`);
      for (const field of ['implies', 'meaning', 'action'] as const)
        assert.ok(e[field].trim().length > 0, `${g}: ${code} has no ${field}`);
    }
  }
});

test('codes that share a field have one meaning: no code is in two groups of one field', () => {
  assert.deepEqual(new Set(codeFields.flat()), new Set(groupNames), 'every group belongs to exactly one field');
  for (const groups of codeFields) {
    const seen = new Map<string, string>();
    for (const g of groups) {
      for (const code of codesOf(g)) {
        assert.equal(seen.get(code), undefined, `${code} is in ${seen.get(code)} and ${g}`);
        seen.set(code, g);
      }
    }
  }
});

test('a registry failure class implies the reason code the registry check gives for it', () => {
  const table = problemCodes.registryFailure;
  assert.deepEqual(Object.keys(table).sort(), Object.keys(problemCodeOf).sort());
  for (const [reason, e] of Object.entries(table))
    assert.equal(problemCodeOf[reason as RegistryFailureReason], e.implies, reason);
});

// ---- 2. The sources: no field widened to string, no cast to a code, no dead entry. ----------
function sources(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const dir of ['agent', 'checks', 'lib']) {
    for (const f of readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })) {
      if (!/\.(ts|mjs)$/.test(f)) continue;
      const file = path.join(dir, f);
      out.push({ file, text: readFileSync(path.join(root, file), 'utf8') });
    }
  }
  return out;
}
const tableFiles = new Set([path.join('lib', 'problem-codes.ts'), path.join('lib', 'problem-codes-doc.ts')]);

// Where a cast or a `string` code is right: reading back what this agent wrote (it was a key
// when written; passed through as written) and showing another agent's answer.
const trustBoundaries = new Map([
  ['restore-details.ts', 'the state file: last details, as written'],
  ['state-store.ts', 'the state file: last reasons, as written'],
  ['event-from-json.ts', 'the event history, as written'],
  ['cache-verify-child.ts', "the verdict this agent's own verification child printed"],
  ['ask-agent.ts', "another agent's /v1/preflight answer (its version's codes)"],
  ['fleet-report.ts', "another agent's reasons, shown as they came"],
]);

test('no code field is declared wider than the table, and codes are cast only where this agent reads back its own files', () => {
  const widened: string[] = [];
  const casts: string[] = [];
  const castToCode =
    /\bas\s+(?:CheckReason|CacheProblem|QuarantineOutcome|Preflight|CacheVerdict)\b|\bas\s+\w+\['code'\]|\bas\s+\w*(?:Code|Cause|Problem)\b|\bis\s+(?:CheckReason|CacheProblem|CacheVerdict)\b/;
  for (const { file, text } of sources()) {
    if (tableFiles.has(file)) continue;
    const allowed = trustBoundaries.has(path.basename(file));
    text.split('\n').forEach((line, i) => {
      if (/^\s*\/\//.test(line)) return;
      if (/\bcode\??\s*:\s*string\b/.test(line) && !allowed) widened.push(`${file}:${i + 1}: ${line.trim()}`);
      if (castToCode.test(line) && !allowed) casts.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(widened, [], 'type these with the table (lib/problem-codes.ts)');
  assert.deepEqual(casts, [], 'emit codes through typed fields, not casts');
});

test('every table entry is emitted: its code is a literal in the sources its group names', () => {
  const all = sources().filter((s) => !tableFiles.has(s.file));
  const unused: string[] = [];
  for (const g of groupNames) {
    const texts = all.filter((s) => codeGroups[g].emittedBy.some((p) => s.file.startsWith(path.normalize(p))));
    assert.ok(texts.length > 0, `${g}: no source file under ${codeGroups[g].emittedBy.join(', ')}`);
    for (const code of codesOf(g)) {
      const literal = new RegExp(`['"\`]${code}['"\`]`);
      if (!texts.some((s) => literal.test(s.text))) unused.push(`${g}: ${code}`);
    }
  }
  assert.deepEqual(unused, [], 'dead entries: remove them from lib/problem-codes.ts, or fix emittedBy');
});

// ---- 3. Run time: what the verifiers emit on real and damaged files. ------------------------
const cacheProblemImplies = new Map<string, string>(
  (['cacheFileProblem', 'boltProblem', 'sqliteProblem', 'verifierProblem'] as const).flatMap((g) =>
    Object.entries(problemCodes[g]).map(([code, e]): [string, string] => [code, e.implies]),
  ),
);

function checkVerdict(
  v: Pick<CacheVerdict, 'verdict' | 'problems' | 'warnings'>,
  what: string,
  seen: Set<string>,
): void {
  for (const p of v.problems) {
    assert.ok(cacheProblemImplies.has(p.code), `${what}: problem ${p.code} is not in the table`);
    assert.equal(cacheProblemImplies.get(p.code), v.verdict, `${what}: problem ${p.code} in a ${v.verdict} verdict`);
    seen.add(p.code);
  }
  for (const w of v.warnings) {
    assert.ok(cacheProblemImplies.has(w.code), `${what}: warning ${w.code} is not in the table`);
    assert.ok(
      ['healthy', v.verdict].includes(cacheProblemImplies.get(w.code)!),
      `${what}: warning ${w.code} (${cacheProblemImplies.get(w.code)}) in a ${v.verdict} verdict`,
    );
    seen.add(w.code);
  }
}

// A few kinds of byte damage (the fuzz test has more); enough to reach most bolt codes.
function mutate(src: Buffer, rng: () => number): Buffer {
  const int = (n: number): number => Math.floor(rng() * n);
  const pageSize = 4096;
  const b = Buffer.from(src);
  const pages = Math.max(1, Math.floor(b.length / pageSize));
  switch (int(4)) {
    case 0:
      for (let i = 0, n = 1 + int(8); i < n; i++) b[int(b.length)] ^= 1 << int(8);
      return b;
    case 1:
      return b.subarray(0, int(b.length + 1));
    case 2: {
      const at = int(pages) * pageSize + [0, 8, 10, 12][int(4)];
      if (at + 8 <= b.length) b.writeUInt32LE([0, 1, 2, 0x10, 0xffff, int(1 << 20)][int(6)], at);
      return b;
    }
    default: {
      const at = int(pages) * pageSize + 16 + int(8) * 16 + 4 * int(4);
      if (at + 4 <= b.length) b.writeUInt32LE([0, 1, 0x7fffffff, 0xffffffff, pageSize][int(5)], at);
      return b;
    }
  }
}

test('bolt verdicts on the fixtures and 400 mutations carry only table codes, each implying its verdict', () => {
  const dir = path.join(root, 'test/fixtures/bolt');
  const fixtures = readdirSync(dir)
    .filter((f) => f.endsWith('.boltdb'))
    .map((f) => ({ name: f, bytes: readFileSync(path.join(dir, f)) }));
  assert.ok(fixtures.length > 5);
  const seen = new Set<string>();
  for (const f of fixtures)
    checkVerdict(verifyBoltSource(bufferReadAt(f.bytes), f.bytes.length, { maxAttempts: 1 }), f.name, seen);
  const rng = seededRandom(16_04);
  for (let i = 0; i < 400; i++) {
    const f = fixtures[i % fixtures.length];
    const bytes = mutate(f.bytes, rng);
    checkVerdict(verifyBoltSource(bufferReadAt(bytes), bytes.length, { maxAttempts: 1 }), `${f.name} #${i}`, seen);
  }
  console.log(`bolt: ${seen.size} distinct codes seen: ${[...seen].sort().join(' ')}`);
  assert.ok(seen.size >= 10, 'the sweep reaches many codes');
});

test('SQLite and open-failure verdicts on damaged files carry only table codes, each implying its verdict', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bfa-codes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const at = (name: string) => path.join(dir, name);
  const base = at('base.sqlite');
  createCacheFixture(base, { rows: 400 });
  const variant = (name: string, damage: (p: string) => void): string => {
    copyFileSync(base, at(name));
    damage(at(name));
    return at(name);
  };
  const size = readFileSync(base).length;
  const pokeAt = (offset: number, bytes: number[]) => (p: string) => {
    const b = readFileSync(p);
    Buffer.from(bytes).copy(b, offset);
    writeFileSync(p, b);
  };
  const empty = at('empty-schema.sqlite'); // a valid database with no tables
  const blank = new DatabaseSync(empty);
  blank.exec('PRAGMA user_version = 1');
  blank.close();
  const other = at('other.sqlite');
  const db = new DatabaseSync(other);
  db.exec('CREATE TABLE t(x)');
  db.close();
  const older = at('older.sqlite');
  createCacheFixture(older, { rows: 10, olderSchema: true });
  const wal = at('wal.sqlite');
  createCacheFixture(wal, { rows: 10, wal: true });
  mkdirSync(at('a-directory'));
  symlinkSync(base, at('link.sqlite'));
  writeFileSync(at('zero.sqlite'), '');
  writeFileSync(at('text.sqlite'), 'SQLite format 3\0 but nothing after it');
  const files = [
    base,
    older,
    wal,
    empty,
    other,
    variant('whole-pages-cut.sqlite', (p) => truncateSync(p, size - 3 * 4096)),
    variant('partial-page.sqlite', (p) => truncateSync(p, size - 100)),
    variant('header.sqlite', pokeAt(16, [0x12, 0x34])),
    variant('page-2.sqlite', pokeAt(4096, [0x0d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
    variant('page-3.sqlite', pokeAt(2 * 4096 + 8, Array(64).fill(0x41))),
    at('zero.sqlite'),
    at('text.sqlite'),
    at('absent.sqlite'),
    at('a-directory'),
    at('link.sqlite'),
  ];
  const seen = new Set<string>();
  for (const f of files) checkVerdict(await verifyCacheFile(f, { full: true }), path.basename(f), seen);
  console.log(`sqlite and open failures: ${seen.size} distinct codes seen: ${[...seen].sort().join(' ')}`);
  for (const code of ['not-found', 'not-a-file', 'symlink', 'empty-file', 'truncated', 'header-invalid'])
    assert.ok(seen.has(code), `${code} was seen`);
});

// ---- The pages: generated, linked, and quoting only codes of the table. ----------------------
test('docs/problem-codes.md is the page generated from the table (npm run docs:codes)', () => {
  assert.equal(readFileSync(problemCodesDocPath, 'utf8'), problemCodesMarkdown());
});

const docs = (): { file: string; text: string }[] =>
  [
    ...readdirSync(path.join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
    'README.md',
  ].map((file) => ({ file, text: readFileSync(path.join(root, file), 'utf8') }));

test('every link into docs/problem-codes.md names one of its sections', () => {
  const anchors = new Set(groupNames.map((g) => headingAnchor(codeGroups[g].title)));
  const links = docs().flatMap(({ file, text }) =>
    [...text.matchAll(/problem-codes\.md#([\w-]+)/g)].map((m) => ({ file, anchor: m[1] })),
  );
  assert.ok(links.length >= 7, 'the module pages link to their sections');
  for (const l of links) assert.ok(anchors.has(l.anchor), `${l.file}: problem-codes.md#${l.anchor}`);
});

test('the docs, the CLI help and the alert rules quote only codes that are in the table', () => {
  const any = new Set(groupNames.flatMap(codesOf));
  for (const { file, text } of docs()) {
    const quoted = [
      ...[...text.matchAll(/"code":\s*"([a-z][^"]*)"/g)].map((m) => m[1]),
      ...[...text.matchAll(/\b(?:code|reason|warning|cause)s? `([a-z][a-z0-9_-]*)`/g)].map((m) => m[1]),
    ];
    for (const code of quoted) assert.ok(any.has(code), `${file}: ${code}`);
  }
  // The reason label of buildfleet_registry_probe_failure_info, wherever its values are listed.
  const failures = codesOf('registryFailure').join(', ');
  const labelLists = [
    ['docs/conventions.md', /`reason` = ([a-z_, ]+) \|/],
    ['docs/metrics.md', /`reason` = ((?:`[a-z_]+`(?:, )?)+)/],
    ['deploy/prometheus/rules/buildfleet-agent.rules.yml', /gives the reason \(([a-z_, ]+)\)/],
  ] as const;
  for (const [file, pattern] of labelLists) {
    const m = readFileSync(path.join(root, file), 'utf8').match(pattern);
    assert.ok(m, `${file} lists the reason label's values`);
    assert.equal(m[1].replaceAll('`', ''), failures, file);
  }
  const listed = fleetStatusHelp.match(/error codes:\s*([a-z, -]+)\)/);
  assert.ok(listed, 'fleet status --help lists its error codes');
  assert.deepEqual(listed[1].split(/,\s*/), codesOf('fleetError'));
});

// Keeps the type-only exports above referenced (they exist for the compiler).
test('the compile-time checks are part of this file', () => {
  assert.equal(typeof rejected, 'function');
  assert.equal(typeof implied, 'function');
  const sample: CodeIn<'boltProblem'> = 'meta-torn';
  const problem: CacheProblemCode = sample;
  assert.equal(problem, 'meta-torn');
});
