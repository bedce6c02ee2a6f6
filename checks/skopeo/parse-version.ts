// Reads the one line `skopeo --version` prints, in every known era (../../docs/checks.md):
// urfave/cli 0.1.x and cobra 1.x both print `skopeo version <ver>`, optionally followed by
// ` commit: <hex>` when built from a git checkout; development builds carry a `-dev` suffix.
import semver from 'semver';

export interface SkopeoVersion {
  // As printed (e.g. `1.22.0-dev`), so people see what the binary says about itself.
  version: string;
  // The same version as strict semver, for comparisons (`0.1.40`, `1.22.0-dev`).
  semver: string;
  commit: string | null;
}

export type SkopeoCacheFormat = 'boltdb' | 'sqlite';

const versionLine = /^skopeo version (\S+?)(?: commit: ([0-9a-f]+))?$/;

// Returns an Error (a value, not thrown) when the output is not a skopeo version line.
export function parseSkopeoVersion(stdout: string): SkopeoVersion | Error {
  const line = stdout.trim().split('\n')[0]?.trim() ?? '';
  const match = versionLine.exec(line);
  if (!match) return new Error(`not a skopeo version line: ${JSON.stringify(stdout.slice(0, 120))}`);
  const printed = match[1];
  const strict = semver.valid(printed) ?? semver.coerce(printed)?.version ?? null;
  if (strict === null) return new Error(`version "${printed}" is not a semantic version`);
  return { version: printed, semver: strict, commit: match[2] ?? null };
}

// containers/image switched the blob-info cache from BoltDB to SQLite in the release that
// skopeo 1.14.0 ships. Comparison is strict semver: a `1.14.0-dev` build sorts before 1.14.0
// and is reported as boltdb (its source tree may predate the switch).
export const firstSqliteSkopeo = '1.14.0';

export function skopeoCacheFormat(version: string): SkopeoCacheFormat {
  const strict = semver.valid(version) ?? semver.coerce(version)?.version ?? '0.0.0';
  return semver.gte(strict, firstSqliteSkopeo) ? 'sqlite' : 'boltdb';
}
