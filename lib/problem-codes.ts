// The one table of the stable kebab-case codes the agent emits: check and admission reasons,
// problems in cache verdicts, why a cache was not verified, quarantine outcomes, registry
// failure classes, HTTP errors, token-file problems and `fleet status` errors. Dashboards,
// alert rules, schedulers and scripts match on these strings, so they are written once, here.
//
// The types below are the keys of this table, and the fields that carry a code are typed with
// them (CheckReason.code, CacheProblem.code, QuarantineOutcome.code, ...): a code not in the
// table fails `tsc --noEmit`. docs/problem-codes.md is generated from it (`npm run docs:codes`,
// lib/problem-codes-doc.ts); test/problem-codes.test.ts ties the two and finds unused entries.
//
// A group is one place codes appear. The same string may mean different things in different
// groups (`not-found` is a missing file in a verdict and an unknown path over HTTP), never in
// two groups of one type. `implies` is what the code alone makes of the thing it is about (a
// check's status, a verdict, a quarantine result, an HTTP status); `action` what a person does.

export interface CodeEntry {
  implies: string;
  meaning: string;
  action: string;
}

export interface CodeGroup {
  title: string;
  where: string; // where the code appears (field, endpoint, verb)
  implies: string; // the heading of the `implies` column
  emittedBy: readonly string[]; // path prefixes of the sources that emit the group's codes
}

const quarantine =
  'Move it aside: `buildfleet-agent cache quarantine` (or `autoQuarantine: true`); skopeo starts a new cache on its next run.';
const nextRun = 'Nothing at once: the next run reads it again. If it stays, find the writer that never lets go.';
const agentFault = "A fault of the agent, not of the host: report it with the message and the agent's log.";
const readable = 'Make the file readable to root as a regular file (or remove it); the next run verifies it.';
const nothing = 'Nothing: the cache stays healthy.';

export const codeGroups = {
  skopeoReason: {
    title: 'skopeo check reasons',
    where: '`reasons[].code` of the `skopeo` check (also `details.binaries[].code`), in `/v1/preflight` and `check`',
    implies: 'status',
    emittedBy: ['checks/skopeo'],
  },
  diskReason: {
    title: 'disk check reasons',
    where: '`reasons[].code` of the `disk` check (also `details.paths[].code`)',
    implies: 'status',
    emittedBy: ['checks/disk'],
  },
  registryReason: {
    title: 'registry check reasons',
    where: '`reasons[].code` of the `registry` check (scope `shared`: critical degrades, never refuses)',
    implies: 'status',
    emittedBy: ['checks/registry'],
  },
  cacheReason: {
    title: 'blobinfocache check reasons',
    where: '`reasons[].code` of the `blobinfocache` check (docs/quarantine.md)',
    implies: 'status',
    emittedBy: ['checks/blobcache/'],
  },
  runnerReason: {
    title: 'Reasons the runner adds',
    where:
      '`reasons[].code` of any check the runner could not get a result from (agent/runner.ts, agent/check-state.ts)',
    implies: 'status',
    emittedBy: ['agent/'],
  },
  admissionReason: {
    title: 'Reasons admission adds',
    where: '`reasons[].code` of `/v1/preflight` and `check` (agent/admission.ts, docs/admission.md)',
    implies: 'effect',
    emittedBy: ['agent/'],
  },
  cacheFileProblem: {
    title: 'Cache verdict problems, any format',
    where: '`problems[]`/`warnings[]` of `cache check --json` and of `details.caches[]` of the blobinfocache check',
    implies: 'verdict',
    emittedBy: ['checks/blobcache/'],
  },
  boltProblem: {
    title: 'Cache verdict problems, bbolt',
    where: 'as above, for bolt files (docs/bolt-verifier.md)',
    implies: 'verdict',
    emittedBy: ['checks/blobcache/bolt/'],
  },
  sqliteProblem: {
    title: 'Cache verdict problems, SQLite',
    where: 'as above, for SQLite files (docs/sqlite-verifier.md)',
    implies: 'verdict',
    emittedBy: ['checks/blobcache/sqlite/'],
  },
  verifierProblem: {
    title: "Cache verdict problems from the daemon's verification child",
    where: '`problems[]` of `details.caches[]` (agent/cache-verify-child.ts); never from `cache check`',
    implies: 'verdict',
    emittedBy: ['agent/'],
  },
  unverifiedCause: {
    title: 'Why a cache was not verified',
    where: '`details.caches[].unverifiedCause` of the blobinfocache check; the status page',
    implies: 'reason',
    emittedBy: ['checks/blobcache/'],
  },
  quarantineOutcome: {
    title: 'Quarantine outcomes',
    where:
      '`results[].code` of `cache quarantine --json` and `POST /v1/caches/quarantine`; `details.caches[].quarantine.code`',
    implies: 'result',
    emittedBy: ['agent/remediation/'],
  },
  registryFailure: {
    title: 'Registry failure classes',
    where:
      '`details.registries[].reason` of the registry check; the `reason` label of `buildfleet_registry_probe_failure_info`',
    implies: 'reason code',
    emittedBy: ['checks/registry'],
  },
  httpError: {
    title: 'HTTP error codes',
    where: 'every HTTP error body, `{"error": {"code": "...", "message": "..."}}` (docs/http-api.md)',
    implies: 'HTTP status',
    emittedBy: ['agent/http/'],
  },
  tokenFileProblem: {
    title: 'Token file problems',
    where:
      "the result of reading `auth.tokenFile` (agent/http/auth.ts); people see the message, on stderr or in the reload's log line",
    implies: 'effect',
    emittedBy: ['agent/http/'],
  },
  fleetError: {
    title: '`fleet status` errors',
    where: '`agents[].error` of `fleet status --json`, the `PROBLEM` column of its table (docs/scheduler.md)',
    implies: 'fleet state',
    emittedBy: ['agent/fleet/'],
  },
} as const satisfies Record<string, CodeGroup>;

export type CodeGroupName = keyof typeof codeGroups;

export const problemCodes = {
  skopeoReason: {
    'skopeo-missing': {
      implies: 'critical',
      meaning: 'The configured name is not on PATH, or the configured path does not exist.',
      action: 'Install skopeo, or correct `checks.skopeo.binaries`.',
    },
    'skopeo-not-executable': {
      implies: 'critical',
      meaning: 'The file exists but is not an executable regular file.',
      action: 'Fix the file (`chmod 755`) or the configured path.',
    },
    'skopeo-hung': {
      implies: 'critical',
      meaning: '`skopeo --version` did not finish within `timeoutSeconds` (it was killed), or the run was aborted.',
      action: 'Run `skopeo --version` on the host and find what it waits for (a hung mount, a broken library).',
    },
    'skopeo-failed': {
      implies: 'critical',
      meaning:
        '`skopeo --version` could not start, exited non-zero or died of a signal (its stderr is in the message).',
      action: 'Run `skopeo --version` on the host; reinstall skopeo if it is broken.',
    },
    'skopeo-unparseable': {
      implies: 'critical',
      meaning: 'The output is not a `skopeo version ...` line with a semantic version.',
      action: 'Check that the configured binary is skopeo.',
    },
    'skopeo-below-minimum': {
      implies: 'critical',
      meaning: "The version is below the configured `minVersion` (the operator's fleet policy).",
      action: 'Upgrade skopeo on the host, or lower `minVersion`.',
    },
    'skopeo-below-recommended': {
      implies: 'warning',
      meaning: 'The version is below `recommendedVersion` (the SQLite cache); the host still accepts.',
      action: 'Upgrade skopeo when convenient.',
    },
    'skopeo-denied': {
      implies: 'critical',
      meaning: 'The version is in a configured `deny` range.',
      action: 'Upgrade or downgrade skopeo out of the range.',
    },
  },
  diskReason: {
    'disk-free-low': {
      implies: 'warning',
      meaning: 'Available space is below `warnFree`.',
      action: 'Free space (old images, build caches) before it reaches `criticalFree`.',
    },
    'disk-free-critical': {
      implies: 'critical',
      meaning: 'Available space is below `criticalFree`.',
      action: 'Free space now (e.g. `podman system prune`); the host refuses builds until then.',
    },
    'disk-inodes-exhausted': {
      implies: 'critical',
      meaning: 'No free inodes are left: writes fail whatever the free space.',
      action: 'Remove many small files (layer caches, temporary files).',
    },
    'disk-stat-timeout': {
      implies: 'critical',
      meaning: 'statfs did not answer within `timeoutSeconds` (a hung mount?), or the run was aborted.',
      action: 'Check the mount (`df PATH` hangs too); fix or unmount it.',
    },
    'disk-stat-failed': {
      implies: 'critical',
      meaning: 'The path cannot be measured (e.g. `ELOOP`, `EACCES`, `EIO`); the error is in the message.',
      action: 'Fix the path or the configured `checks.disk.paths`.',
    },
  },
  registryReason: {
    'registry-unreachable': {
      implies: 'critical',
      meaning:
        'The registry could not be reached: its name does not resolve, the connection fails, or no answer in time (`dns`, `connect`, `timeout`).',
      action: "Check the registry and the network path to it; one host's view rarely differs from the fleet's.",
    },
    'registry-tls-failed': {
      implies: 'critical',
      meaning:
        'The TLS handshake or verification failed (unknown CA, wrong name, expired certificate), or `caFile` is unreadable.',
      action: "Renew the registry's certificate or configure `caFile`.",
    },
    'registry-unexpected-status': {
      implies: 'critical',
      meaning: '`/v2/` answered something other than 200 or 401 with a challenge.',
      action: 'Check the registry (and any proxy in front of it).',
    },
    'registry-auth-failed': {
      implies: 'critical',
      meaning: 'Credentials are configured but refused, the token server is unusable, or `authFile` is unreadable.',
      action: 'Renew the credentials in `authFile`.',
    },
  },
  cacheReason: {
    'cache-corrupt': {
      implies: 'critical',
      meaning:
        'A cache in use (or with skopeo unknown) is corrupt after any quarantine attempt, or was corrupt when last read and is busy now.',
      action: quarantine,
    },
    'cache-corrupt-orphan': {
      implies: 'warning',
      meaning: 'A corrupt cache of a format the installed skopeo no longer uses (never moved automatically).',
      action: 'Remove or quarantine it when convenient; builds do not read it.',
    },
    'cache-unverified': {
      implies: 'unknown',
      meaning:
        'A cache in use (or with skopeo unknown) was not verified; the message gives the cause (`details.caches[].unverifiedCause`).',
      action: 'See the cause: make the file readable, fix the path, or look at the agent if the verifier failed.',
    },
    'cache-unverified-orphan': {
      implies: 'warning',
      meaning: 'As `cache-unverified`, for a format the installed skopeo no longer uses.',
      action: 'Remove it when convenient; builds do not read it.',
    },
    'cache-busy': {
      implies: 'warning',
      meaning: 'No consistent read this run; the last read verdict (healthy) stands for up to 3 runs.',
      action: nextRun,
    },
    'user-cache-corrupt': {
      implies: 'warning',
      meaning: 'A corrupt cache of a user who is not in `buildUsers` (it never refuses the host).',
      action: 'Quarantine it if that user builds; otherwise tell the user.',
    },
    'user-cache-unverified': {
      implies: 'warning',
      meaning: 'An unverified cache of a user who is not in `buildUsers` (it never refuses the host).',
      action: 'As for `cache-unverified`, when that user builds.',
    },
    'quarantine-blocked': {
      implies: 'warning',
      meaning:
        'autoQuarantine could not move a corrupt cache (refused, busy, changed or failed); comes with `cache-corrupt`; the message says why.',
      action: 'Read the message; `buildfleet-agent cache quarantine --dry-run` shows what stands in the way.',
    },
    'quarantine-incomplete': {
      implies: 'warning',
      meaning: 'An interrupted quarantine is pending (no autoQuarantine, busy) or needs a person.',
      action: 'Run `buildfleet-agent cache quarantine`; its output says what is left (docs/quarantine.md).',
    },
    'cache-quarantined': {
      implies: 'ok',
      meaning: 'A corrupt cache was moved aside this run and its path now checks fine.',
      action: 'Nothing; the moved file is kept for inspection (`keep`).',
    },
  },
  runnerReason: {
    'check-error': {
      implies: 'unknown',
      meaning: 'The check threw, or returned something that is not a check result.',
      action: agentFault,
    },
    'check-timeout': {
      implies: 'unknown',
      meaning: 'The run did not finish by its deadline (`timeoutSeconds`).',
      action:
        'Look for what the check waits on (a hung mount, a slow registry); raise the timeout only if it is legitimately slow.',
    },
    'check-stuck': {
      implies: 'unknown',
      meaning: 'A previous run abandoned at its deadline has still not finished; the check was not started again.',
      action: 'As for `check-timeout`; a restart of the agent clears it if the cause is gone.',
    },
  },
  admissionReason: {
    maintenance: {
      implies: 'refuse',
      meaning: 'The host is in maintenance (`check` is `agent`); it expires at `expiresAt`.',
      action: 'End it when done: `DELETE /v1/maintenance`.',
    },
    'not-yet-checked': {
      implies: 'refuse',
      meaning: 'The check has not run since the agent started.',
      action: 'Wait for the first run, or run the checks now: `POST /v1/checks/run`.',
    },
    'unknown-check': {
      implies: 'refuse',
      meaning: 'A check asked for by name (`check --only`, or `?checks=` racing a config reload) is not configured.',
      action: 'Ask for configured checks only (`buildfleet-agent config check` lists them).',
    },
    'check-critical': {
      implies: 'critical',
      meaning: 'A check is critical but gave no reason of its own.',
      action: "Read the check's summary and details.",
    },
    'check-unknown': {
      implies: 'unknown',
      meaning: 'A check is unknown but gave no reason of its own.',
      action: "Read the check's summary and details.",
    },
  },
  cacheFileProblem: {
    'not-found': {
      implies: 'unreadable',
      meaning: 'The file does not exist.',
      action: 'Pass an existing path.',
    },
    'permission-denied': {
      implies: 'unreadable',
      meaning: 'The file cannot be opened: permission denied.',
      action: readable,
    },
    'not-a-file': {
      implies: 'unreadable',
      meaning: 'The path is a directory or another non-regular file.',
      action: 'Pass a cache file.',
    },
    symlink: {
      implies: 'unreadable',
      meaning: 'The path is a symbolic link; the agent runs as root and never follows it.',
      action: 'Pass the real path.',
    },
    'io-error': {
      implies: 'unreadable',
      meaning: 'A read failed (I/O error); the message gives the error.',
      action: 'Check the disk and the kernel log; the next run tries again.',
    },
    'not-a-cache': {
      implies: 'corrupt',
      meaning:
        "Neither a bolt nor an SQLite file (`format: unknown`), or a valid SQLite database without containers/image's tables or with other columns.",
      action: quarantine,
    },
    'empty-file': {
      implies: 'healthy',
      meaning: 'A zero-length file: bbolt and SQLite initialise it on the next write.',
      action: nothing,
    },
  },
  boltProblem: {
    'file-too-small': {
      implies: 'corrupt',
      meaning: 'Shorter than bbolt can open.',
      action: quarantine,
    },
    'no-valid-meta': {
      implies: 'corrupt',
      meaning: 'Both meta pages fail magic, version or checksum: bbolt refuses to open the file.',
      action: quarantine,
    },
    'meta-page-size-invalid': {
      implies: 'corrupt',
      meaning: 'The meta page names an impossible page size.',
      action: quarantine,
    },
    'meta-page-size-mismatch': {
      implies: 'corrupt',
      meaning: 'The two meta pages name different page sizes.',
      action: quarantine,
    },
    'meta-hwm-invalid': {
      implies: 'corrupt',
      meaning: 'The meta page names an absurd high-water mark.',
      action: quarantine,
    },
    'page-out-of-bounds': {
      implies: 'corrupt',
      meaning: 'A page reference at or beyond the high-water mark.',
      action: quarantine,
    },
    'page-beyond-eof': {
      implies: 'corrupt',
      meaning: 'A page reference past the end of the file: bbolt faults (SIGBUS).',
      action: quarantine,
    },
    'page-id-wraps': {
      implies: 'corrupt',
      meaning: 'A page id beyond the high-water mark that bbolt 1.3.6 wraps onto another page (bbolt 1.3.7+ panics).',
      action: quarantine,
    },
    'file-truncated': {
      implies: 'corrupt',
      meaning: 'Pages between the end of the file and the high-water mark that are not free.',
      action: quarantine,
    },
    'node-too-large': {
      implies: 'corrupt',
      meaning: 'A node spanning more pages than containers/image ever writes (a damaged overflow count).',
      action: quarantine,
    },
    'page-type-invalid': {
      implies: 'corrupt',
      meaning: "A reference to a page that is not a branch or leaf: skopeo's `invalid page type: N: 10` panic.",
      action: quarantine,
    },
    'page-flags-ambiguous': {
      implies: 'corrupt',
      meaning: 'A node type bit plus other bits: bbolt 1.3.6 reads it, 1.3.7+ panics.',
      action: quarantine,
    },
    'page-id-mismatch': {
      implies: 'corrupt',
      meaning: 'The page header names another id (an overwritten or misplaced page).',
      action: quarantine,
    },
    'page-multiply-referenced': {
      implies: 'corrupt',
      meaning: 'A page reached twice (a cycle, a shared child).',
      action: quarantine,
    },
    'page-reachable-freed': {
      implies: 'corrupt',
      meaning: 'A reachable page also in the freelist: the next write overwrites it.',
      action: quarantine,
    },
    'page-unreachable-unfreed': {
      implies: 'corrupt',
      meaning: 'A page neither reachable nor free.',
      action: quarantine,
    },
    'branch-empty': {
      implies: 'corrupt',
      meaning: 'A branch page with no elements; bbolt reads past its end.',
      action: quarantine,
    },
    'element-count-invalid': {
      implies: 'corrupt',
      meaning: 'More elements than the page holds.',
      action: quarantine,
    },
    'element-out-of-page': {
      implies: 'corrupt',
      meaning: 'Key or value bytes outside the page.',
      action: quarantine,
    },
    'key-order': {
      implies: 'corrupt',
      meaning: 'Keys of a leaf page not strictly increasing.',
      action: quarantine,
    },
    'branch-key-order': {
      implies: 'corrupt',
      meaning: 'Separator keys of a branch page not strictly increasing (bbolt 1.4 checks it, 1.3.6 does not).',
      action: quarantine,
    },
    'key-out-of-range': {
      implies: 'corrupt',
      meaning: 'Keys outside the range their branch separators give.',
      action: quarantine,
    },
    'bucket-value-invalid': {
      implies: 'corrupt',
      meaning: 'A sub-bucket value shorter than a bucket header.',
      action: quarantine,
    },
    'inline-bucket-invalid': {
      implies: 'corrupt',
      meaning: "An inline bucket's page is not a leaf or is too short.",
      action: quarantine,
    },
    'bucket-nesting-too-deep': {
      implies: 'corrupt',
      meaning: 'Buckets nested past the depth bound.',
      action: quarantine,
    },
    'tree-too-deep': {
      implies: 'corrupt',
      meaning: 'More branch levels than the depth bound.',
      action: quarantine,
    },
    'freelist-page-invalid': {
      implies: 'corrupt',
      meaning: "The meta's freelist page is not a freelist.",
      action: quarantine,
    },
    'freelist-count-invalid': {
      implies: 'corrupt',
      meaning: 'The freelist claims more ids than its pages hold.',
      action: quarantine,
    },
    'freelist-duplicate': {
      implies: 'corrupt',
      meaning: 'A page id listed twice in the freelist.',
      action: quarantine,
    },
    'freelist-entry-out-of-range': {
      implies: 'corrupt',
      meaning: 'Freelist ids outside `[2, hwm)`.',
      action: quarantine,
    },
    'more-problems': {
      implies: 'corrupt',
      meaning: 'The count of problems past the listing cap.',
      action: quarantine,
    },
    'meta-torn': {
      implies: 'healthy',
      meaning:
        "One meta page is invalid beside a valid one: bbolt's designed torn-commit state, repaired by the next write.",
      action: nothing,
    },
    'freelist-not-persisted': {
      implies: 'healthy',
      meaning: 'The file was written without a persisted freelist (bbolt rebuilds it on open).',
      action: nothing,
    },
    'file-shorter-than-hwm': {
      implies: 'healthy',
      meaning: 'The file ends before the high-water mark, and the missing pages are all free.',
      action: nothing,
    },
    'concurrent-writes': {
      implies: 'busy',
      meaning: 'Writers committed during every attempt: no consistent read.',
      action: nextRun,
    },
    'time-limit': {
      implies: 'busy',
      meaning: 'Verification stopped at its time limit before the walk finished.',
      action:
        'Nothing at once; a cache that always needs longer than the limit is far larger than containers/image writes.',
    },
  },
  sqliteProblem: {
    'sqlite-malformed': {
      implies: 'corrupt',
      meaning:
        'B-tree, freelist or record damage reported by quick_check/integrity_check (`page` when SQLite names one), or SQLite aborted with "database disk image is malformed".',
      action: quarantine,
    },
    'index-mismatch': {
      implies: 'corrupt',
      meaning:
        'An index disagrees with its table (`wrong # of entries in index`, `row N missing from index`, `non-unique entry`).',
      action: quarantine,
    },
    truncated: {
      implies: 'corrupt',
      meaning: 'A partial last page, or fewer pages than the header records (`page` = the first missing page).',
      action: quarantine,
    },
    'header-invalid': {
      implies: 'corrupt',
      meaning:
        'The 100-byte header is unusable (page size, format bytes, payload fractions); SQLite says "file is not a database".',
      action: quarantine,
    },
    'schema-malformed': {
      implies: 'corrupt',
      meaning: "The schema's SQL text in `sqlite_schema` no longer parses: SQLite refuses every statement.",
      action: quarantine,
    },
    'schema-incomplete': {
      implies: 'corrupt',
      meaning: "Some of containers/image's tables are missing beside others.",
      action: quarantine,
    },
    'stale-journal': {
      implies: 'corrupt',
      meaning: 'The hot `-journal` belongs to another database; recovery would roll its pages in.',
      action: 'Move the database and its journal aside together: `buildfleet-agent cache quarantine`.',
    },
    'stale-wal': {
      implies: 'corrupt',
      meaning: 'The `-wal` belongs to another database; recovery would replay its pages in.',
      action: 'Move the database and its WAL aside together: `buildfleet-agent cache quarantine`.',
    },
    'journal-invalid': {
      implies: 'corrupt',
      meaning: 'A hot journal with a header SQLite refuses: every writer fails and skopeo drops to a memory cache.',
      action: quarantine,
    },
    'lock-timeout': {
      implies: 'busy',
      meaning: 'A writer held the lock longer than `busyTimeoutMs`.',
      action: nextRun,
    },
    'changed-during-copy': {
      implies: 'busy',
      meaning: 'Writers kept committing through every copy attempt.',
      action: nextRun,
    },
    'companion-refused': {
      implies: 'unreadable',
      meaning: 'The `-journal` or `-wal` is a symlink or not a regular file; the agent never follows or opens it.',
      action: 'Remove the odd companion file (after checking where it points).',
    },
    'snapshot-failed': {
      implies: 'unreadable',
      meaning: 'The private copy could not be made or opened (temporary space, I/O).',
      action: 'Check the snapshot directory (`$TMPDIR`) and the disk.',
    },
    'snapshot-no-space': {
      implies: 'unreadable',
      meaning: 'The snapshot directory has less free space than the copy can take.',
      action: 'Free space in the snapshot directory (`$TMPDIR`).',
    },
    'companion-too-large': {
      implies: 'unreadable',
      meaning:
        "A `-journal` or `-wal` over 64 MiB (containers/image's hold one small transaction); not read into memory.",
      action: 'Find the writer that left it; quarantine the cache if nothing is writing.',
    },
    'internal-error': {
      implies: 'unreadable',
      meaning:
        'A fault of the agent (a bug in the verifier, the wrong runtime), never a verdict on the file; the blobinfocache check counts it as `cache-unverified`, cause `agent-fault`.',
      action: agentFault,
    },
    'hot-journal-recovered': {
      implies: 'healthy',
      meaning:
        "A crashed writer's journal that belongs to the database; the verdict is on the rolled-back state the next writer will see.",
      action: nothing,
    },
    'wal-recovered': {
      implies: 'healthy',
      meaning: 'Committed WAL frames not yet checkpointed; included in the verdict.',
      action: nothing,
    },
    'wal-ignored': {
      implies: 'healthy',
      meaning: 'A `-wal` SQLite will not replay (bad header checksum, no committed frame).',
      action: nothing,
    },
    'journal-discarded': {
      implies: 'healthy',
      meaning: 'A hot `-journal` without a valid header; SQLite deletes it without rolling back.',
      action: nothing,
    },
    'schema-empty': {
      implies: 'healthy',
      meaning: 'A valid database with no tables yet (skopeo creates them on its next run).',
      action: nothing,
    },
  },
  verifierProblem: {
    'verify-timeout': {
      implies: 'unreadable',
      meaning:
        "One file's verification outlived its check's deadline (or the backstop bound); its child's process group was killed. Cause `verifier-timeout`.",
      action:
        'Look at the file size and the host load; raise the check timeout only if the cache is legitimately large.',
    },
    'verify-process-failed': {
      implies: 'unreadable',
      meaning:
        'The verification child could not start, was killed by a signal, or printed no verdict (the message ends with its last stderr line); or the agent is stopping. Cause `verifier-failed`.',
      action: agentFault,
    },
  },
  unverifiedCause: {
    unreadable: {
      implies: 'cache-unverified',
      meaning: 'The file could not be read (permission, I/O error, an odd companion).',
      action: readable,
    },
    refused: {
      implies: 'cache-unverified',
      meaning: 'An unsafe path: a link not trusted, a non-regular file, a directory replaced after discovery.',
      action: 'Fix the path (docs/quarantine.md, "Discovery"); the agent never follows untrusted links as root.',
    },
    'verifier-timeout': {
      implies: 'cache-unverified',
      meaning: 'The verification timed out (`verify-timeout`).',
      action: 'As for `verify-timeout`.',
    },
    'verifier-failed': {
      implies: 'cache-unverified',
      meaning: 'The verification child failed (`verify-process-failed`).',
      action: agentFault,
    },
    'agent-fault': {
      implies: 'cache-unverified',
      meaning: 'A fault of the agent, not of the file (`internal-error`).',
      action: agentFault,
    },
    busy: {
      implies: 'cache-unverified',
      meaning: 'Busy for more than 3 runs in a row: writers never let a consistent read through.',
      action: 'Find the writer that never lets go (`fuser` on the cache).',
    },
  },
  quarantineOutcome: {
    quarantined: {
      implies: 'quarantined',
      meaning: 'Moved aside, with its companions.',
      action: 'Nothing; skopeo starts a new cache.',
    },
    corrupt: {
      implies: 'would-quarantine',
      meaning: 'A dry run (or the planner) found it corrupt and movable.',
      action: 'Run without `--dry-run` to move it.',
    },
    healthy: {
      implies: 'not-corrupt',
      meaning: 'Healthy; left in place.',
      action: 'Nothing.',
    },
    'verdict-unreadable': {
      implies: 'not-corrupt',
      meaning: 'Could not be read, so not judged; left in place (it may be corrupt: nobody knows).',
      action: readable,
    },
    'verdict-busy': {
      implies: 'not-corrupt',
      meaning: 'No consistent read, so not judged; left in place.',
      action: 'Try again later.',
    },
    gone: {
      implies: 'gone',
      meaning: 'No longer exists.',
      action: 'Nothing.',
    },
    'file-open': {
      implies: 'busy',
      meaning: 'A process has the file or a companion open; the next run tries again.',
      action: 'Wait, or stop the process named in the message.',
    },
    'file-changed': {
      implies: 'changed',
      meaning: 'Not the same inode, size or mtime as verified; the next run tries again.',
      action: 'Nothing at once; the next run verifies it again.',
    },
    'io-error': {
      implies: 'failed',
      meaning:
        'An I/O error while moving (the intent is kept and resumed next run), or the directory could not be opened.',
      action: 'Check the disk; the move resumes on the next run.',
    },
    'swapped-at-rename': {
      implies: 'failed',
      meaning: 'The file was replaced during the rename and was put back.',
      action: 'Find who replaces cache files; the next run tries again.',
    },
    'outside-cache-dirs': {
      implies: 'refused',
      meaning: "Not inside root's, a user's or a configured cache directory.",
      action: 'Pass a discovered cache file, or add its directory to `checks.blobinfocache.dirs`.',
    },
    'not-a-cache-name': {
      implies: 'refused',
      meaning: 'Not named `blob-info-cache-v1.boltdb` or `.sqlite`.',
      action: 'Pass a cache file.',
    },
    'not-found': {
      implies: 'refused',
      meaning: 'A FILE that does not exist.',
      action: 'Pass an existing path.',
    },
    symlink: {
      implies: 'refused',
      meaning: 'The file or a companion is a symbolic link.',
      action: 'Remove the link after checking where it points; root never moves through it.',
    },
    'symlink-on-path': {
      implies: 'refused',
      meaning: 'A directory on the way is a symbolic link that is not trusted.',
      action: 'Use the real path, or make the link root-owned in root-owned directories.',
    },
    'not-a-directory': {
      implies: 'refused',
      meaning: 'A component of the directory path is not a directory.',
      action: 'Fix the path.',
    },
    'not-a-regular-file': {
      implies: 'refused',
      meaning: 'The cache name is a directory, device, FIFO...',
      action: 'Remove what is at the cache name.',
    },
    'directory-changed': {
      implies: 'refused',
      meaning: 'The directory is no longer the one discovery found.',
      action: 'Nothing at once; the next run discovers it again.',
    },
    'directory-owner-mismatch': {
      implies: 'refused',
      meaning: "The directory is not owned by the cache's owner.",
      action: 'Fix the ownership, or move the file by hand.',
    },
    'file-owner-mismatch': {
      implies: 'refused',
      meaning: "The file or a companion is not owned by the directory's owner.",
      action: 'Fix the ownership, or move the file by hand.',
    },
    'hard-linked': {
      implies: 'refused',
      meaning: 'The file has more than one hard link.',
      action: 'Find the other link; move the file by hand.',
    },
    'target-exists': {
      implies: 'refused',
      meaning: 'All 100 quarantine names for this second are taken.',
      action: 'Try again; remove old quarantined copies.',
    },
  },
  registryFailure: {
    dns: {
      implies: 'registry-unreachable',
      meaning: 'The name does not resolve.',
      action: 'Check DNS (or `/etc/hosts`) on the host.',
    },
    connect: {
      implies: 'registry-unreachable',
      meaning: 'Refused, unreachable, reset before an answer, or the URL is unusable.',
      action: 'Check the registry and the network path (firewall, proxy).',
    },
    tls: {
      implies: 'registry-tls-failed',
      meaning: 'The handshake or verification failed (unknown CA, wrong name, expired), or `caFile` is unreadable.',
      action: "Renew the registry's certificate or configure `caFile`.",
    },
    timeout: {
      implies: 'registry-unreachable',
      meaning: 'No complete answer within `timeoutSeconds` (at any phase).',
      action: 'Check the registry load and the network path.',
    },
    http_status: {
      implies: 'registry-unexpected-status',
      meaning: '`/v2/` answered something other than 200 or 401 with a challenge (also 401 without a challenge).',
      action: 'Check the registry (and any proxy in front of it).',
    },
    auth: {
      implies: 'registry-auth-failed',
      meaning:
        'Credentials configured but refused (token server or registry), the token server unusable, or `authFile` unreadable.',
      action: 'Renew the credentials in `authFile`.',
    },
  },
  httpError: {
    'not-found': {
      implies: '404',
      meaning: 'No such endpoint (including every authenticated endpoint when no token file is configured).',
      action: 'Check the path; configure `auth.tokenFile` to enable the POST endpoints.',
    },
    'method-not-allowed': {
      implies: '405',
      meaning: 'The path exists, the method does not; `Allow` lists the methods.',
      action: 'Use a listed method.',
    },
    'token-missing': {
      implies: '401',
      meaning: 'No `Authorization: Bearer ...` header (or another scheme).',
      action: 'Send the token.',
    },
    'token-invalid': {
      implies: '401',
      meaning: 'A bearer token that is not the configured one.',
      action: 'Send the token from `auth.tokenFile`.',
    },
    'unknown-parameter': {
      implies: '400',
      meaning:
        'A query parameter the endpoint does not know (`/v1/preflight`: `max_age`, `checks`, `user`; `/v1/events`: `since`, `limit`).',
      action: 'Drop the parameter.',
    },
    'invalid-user': {
      implies: '400',
      meaning: '`?user=` is not a user name, or was given twice.',
      action: 'Pass one user name.',
    },
    'invalid-max-age': {
      implies: '400',
      meaning: '`max_age` is not a non-negative number, or was given twice.',
      action: 'Pass one number of seconds.',
    },
    'invalid-since': {
      implies: '400',
      meaning: '`/v1/events?since=` is not an event id or an ISO 8601 time, or was given twice.',
      action: 'Pass one event id or time.',
    },
    'invalid-limit': {
      implies: '400',
      meaning: '`/v1/events?limit=` is not a whole number from 1 to the number of events kept, or was given twice.',
      action: 'Pass one number in range.',
    },
    'unknown-check': {
      implies: '400',
      meaning: '`checks` (query or `POST /v1/checks/run` body) names a check that is not configured, or is empty.',
      action: 'Name configured checks only.',
    },
    'invalid-body': {
      implies: '400',
      meaning: 'The `POST /v1/checks/run` body is not `{"checks": [names]}`.',
      action: 'Send that shape, or no body.',
    },
    'invalid-maintenance': {
      implies: '400',
      meaning:
        'The `POST /v1/maintenance` body: a missing or bad `reason`, no expiry or both kinds, in the past, more than 30 days ahead, or an unknown key.',
      action: 'Fix the body (docs/admission.md).',
    },
    'invalid-json': {
      implies: '400',
      meaning: 'The body is not valid JSON.',
      action: 'Send JSON.',
    },
    'body-unreadable': {
      implies: '400',
      meaning: 'The body could not be read (the client went away).',
      action: 'Send it again.',
    },
    'unsupported-media-type': {
      implies: '415',
      meaning: "The body's Content-Type is not JSON.",
      action: 'Send `Content-Type: application/json`.',
    },
    'body-too-large': {
      implies: '413',
      meaning: 'The body is larger than 64 KiB.',
      action: 'Send a smaller body.',
    },
    'state-write-failed': {
      implies: '507 / 503',
      meaning:
        'The state file could not record the maintenance change, so nothing changed (507: disk or quota full; 503: another write error).',
      action: 'Free space in the state directory, then send the request again.',
    },
    'quarantine-unavailable': {
      implies: '500',
      meaning:
        '`POST /v1/caches/quarantine` could not run at all (the message says why); a pass that ran is a 200 even when it refused a move.',
      action: agentFault,
    },
    'internal-error': {
      implies: '500',
      meaning: 'The agent failed to answer (logged as `http-handler-failed`); the server keeps serving.',
      action: agentFault,
    },
  },
  tokenFileProblem: {
    'token-file-permissions': {
      implies: 'serve exits 2; a reload is refused',
      meaning: 'Group or others may read or write the token file.',
      action: '`chmod 600` the token file.',
    },
    'token-file-unreadable': {
      implies: 'serve exits 2; a reload is refused',
      meaning: 'The token file is missing or cannot be read.',
      action: 'Create it, or correct `auth.tokenFile`.',
    },
    'token-file-empty': {
      implies: 'serve exits 2; a reload is refused',
      meaning: 'The file holds no token, or a token with whitespace in it.',
      action: 'Write one token without whitespace.',
    },
    'token-file-not-regular': {
      implies: 'serve exits 2; a reload is refused',
      meaning: 'The path is a directory or another non-regular file.',
      action: 'Point `auth.tokenFile` at a regular file.',
    },
  },
  fleetError: {
    unreachable: {
      implies: 'no-answer',
      meaning: 'No connection: refused, no route, or the name did not resolve.',
      action: 'Check that the agent runs (`systemctl status buildfleet-agent`) and the network path.',
    },
    'connection-lost': {
      implies: 'no-answer',
      meaning: 'Connected, but the connection closed or reset before a complete answer.',
      action: "Check the agent's log for a restart or a crash.",
    },
    timeout: {
      implies: 'no-answer',
      meaning: 'No complete answer (connect, headers and body) within `--timeout`.',
      action: 'Check the host load and the network; raise `--timeout` if the agent is legitimately slow.',
    },
    'bad-json': {
      implies: 'no-answer',
      meaning: 'HTTP 200/429/503 with a body that is not JSON.',
      action: 'Check that the target is an agent (not a proxy page).',
    },
    'bad-answer': {
      implies: 'no-answer',
      meaning:
        'Not a preflight answer: not HTTP, JSON without a valid `decision`/`reasons`/`checks`, a `decision` that does not match the HTTP status, or a body over 4 MiB.',
      action: 'Check that the target is an agent of a compatible version.',
    },
    'unexpected-status': {
      implies: 'no-answer',
      meaning:
        "Any HTTP status other than 200, 429 and 503 (the agent's error code, e.g. `invalid-max-age`, is in the message).",
      action: 'Read the message; fix the request or the target.',
    },
  },
} as const satisfies { [G in CodeGroupName]: Record<string, CodeEntry> };

// The codes of one group, or of several (a union of groups: `CodeIn<'boltProblem' | 'sqliteProblem'>`).
export type CodeIn<G extends CodeGroupName> = G extends CodeGroupName ? keyof (typeof problemCodes)[G] & string : never;

// `reasons[].code` of check results and /v1/preflight.
export type CheckReasonCode = CodeIn<
  'skopeoReason' | 'diskReason' | 'registryReason' | 'cacheReason' | 'runnerReason' | 'admissionReason'
>;
// `problems[].code` and `warnings[].code` of a cache verdict.
export type CacheProblemCode = CodeIn<'cacheFileProblem' | 'boltProblem' | 'sqliteProblem' | 'verifierProblem'>;
// `code` of a quarantine outcome (`cache quarantine`, POST /v1/caches/quarantine, the check's details).
export type QuarantineCode = CodeIn<'quarantineOutcome'>;
// `error.code` of every HTTP error body.
export type HttpErrorCode = CodeIn<'httpError'>;
// The other groups have a type each, next to the field: UnverifiedCause (checks/blobcache/check.ts),
// RegistryFailureReason (checks/registry/probe.ts), TokenFileProblem (agent/http/auth.ts),
// AskErrorCode (agent/fleet/ask-agent.ts).

// The groups whose codes share one field, and so one type: a string may be a key of only one
// group of a field (test/problem-codes.test.ts), so a code has one meaning wherever it is read.
export const codeFields = [
  ['skopeoReason', 'diskReason', 'registryReason', 'cacheReason', 'runnerReason', 'admissionReason'],
  ['cacheFileProblem', 'boltProblem', 'sqliteProblem', 'verifierProblem'],
  ['unverifiedCause'],
  ['quarantineOutcome'],
  ['registryFailure'],
  ['httpError'],
  ['tokenFileProblem'],
  ['fleetError'],
] as const satisfies readonly (readonly CodeGroupName[])[];
