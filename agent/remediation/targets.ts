// Which discovered caches a `cache quarantine FILE...` request names. A FILE must be one of the
// cache files discovery found (root's, a user's, a configured directory's); anything else is
// refused with one line that says why, and is never opened.
import path from 'node:path';
import { cacheFileNames, type DiscoveredCache } from '../../checks/blobcache/discover.ts';
import type { Refusal } from './preconditions.ts';

export interface RequestedTarget {
  requested: string;
  cache: DiscoveredCache | null;
  refusal: Refusal | null;
}

// `cacheDirs`: every cache directory in scope (configured and users'), with or without files.
export function matchRequestedFiles(
  files: readonly string[],
  discovered: readonly DiscoveredCache[],
  cacheDirs: readonly string[],
  cwd = process.cwd(),
): RequestedTarget[] {
  const knownNames = new Set<string>(Object.values(cacheFileNames));
  return files.map((requested) => {
    // Lexical only (no realpath): only discovery resolves links, and only trusted ones.
    const abs = path.resolve(cwd, requested);
    // By its real path, or by the path it was listed under (behind trusted links).
    const cache = discovered.find(
      (c) =>
        c.fileName !== null && (c.path === abs || (c.listedDir !== null && path.join(c.listedDir, c.fileName) === abs)),
    );
    if (cache) return { requested, cache, refusal: null };
    const dir = path.dirname(abs);
    const refusedDir = discovered.find((c) => c.fileName === null && (abs === c.dir || abs.startsWith(`${c.dir}/`)));
    if (refusedDir)
      return {
        requested,
        cache: null,
        refusal: {
          code: 'symlink-on-path',
          message: `refused: ${refusedDir.refused?.message ?? `${refusedDir.dir} was refused`}`,
        },
      };
    if (!cacheDirs.includes(dir)) {
      return {
        requested,
        cache: null,
        refusal: {
          code: 'outside-cache-dirs',
          message: `refused: ${abs} is not inside root's, a user's or a configured cache directory`,
        },
      };
    }
    if (!knownNames.has(path.basename(abs))) {
      return {
        requested,
        cache: null,
        refusal: {
          code: 'not-a-cache-name',
          message: `refused: ${abs} is not a blob-info cache file (${[...knownNames].join(' or ')})`,
        },
      };
    }
    return { requested, cache: null, refusal: { code: 'not-found', message: `refused: ${abs} does not exist` } };
  });
}
