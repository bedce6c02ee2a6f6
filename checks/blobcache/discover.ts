// Where blob-info caches live on this host (docs/formats.md §2d): root's system cache, each local
// user's rootless cache, and configured extra directories; the bolt and the SQLite file side by
// side (skopeo >= 1.14 writes .sqlite and never migrates or deletes the old .boltdb, §2c).
// Discovery only reads metadata. It follows a symbolic link only when root could be the only
// one to have planted it (lib/trusted-path.ts: the link and every directory above it root's and
// writable by no one else); any other link on the way is never followed with root's rights,
// and a cache behind it is refused (reported as not verified), so nothing downstream
// (verification, the root-run quarantine) is ever pointed through a link a user could plant.
import { execFile } from 'node:child_process';
import { lstat, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { reachableWithRightsOf, resolveTrustedDir } from '../../lib/trusted-path.ts';
import path from 'node:path';

const execFileAsync = promisify(execFile);

export const cacheFileNames = {
  boltdb: 'blob-info-cache-v1.boltdb',
  sqlite: 'blob-info-cache-v1.sqlite',
} as const;

export type CacheFormatByName = keyof typeof cacheFileNames;

export const systemCacheDir = '/var/lib/containers/cache';
// $XDG_DATA_HOME of another user is not knowable from here; skopeo's fallback is what we check.
export const rootlessCacheSubdir = '.local/share/containers/cache';

export interface CacheOwner {
  uid: number;
  name: string | null; // from the passwd database; null when the uid has no entry
}

// configured: a directory from the config (root's system cache is one of them by default).
// user: a rootless cache under a home directory from the passwd database.
export type CacheDirSource = 'configured' | 'user';

export type DiscoveryRefusalCode =
  'symlink-on-path' | 'symlink' | 'not-a-directory' | 'not-a-regular-file' | 'stat-failed';

export interface DiscoveredCache {
  path: string; // the cache file; for a refused directory, the directory itself
  dir: string; // its real directory: trusted links resolved (lib/trusted-path.ts)
  // The directory as configured or derived from a home, when trusted links lead elsewhere
  // (`/var/lib/containers/cache` for `/data/containers/cache`); null when it is `dir` itself.
  listedDir: string | null;
  fileName: string | null; // null only when the directory itself was refused
  formatByName: CacheFormatByName | null;
  source: CacheDirSource;
  // Whose cache this is: the passwd user for a rootless cache, the directory's own owner for a
  // configured one. The quarantine acts only when the directory is owned by this uid.
  owner: CacheOwner;
  dirUid: number | null; // the directory's actual owner
  dirDev: string | null; // the directory's identity when discovered (bigint as string)
  dirIno: string | null;
  // The directory's times when discovery looked into it (ns, decimal), before it looked at the
  // files: a file added or removed since moves them (discovery-reuse.ts). Absent: not known.
  dirTimes?: { mtimeNs: string; ctimeNs: string } | null;
  fileUid: number | null;
  sizeBytes: number | null;
  companions: string[]; // SQLite companion files present beside it (-journal, -wal, -shm)
  // Whether the installed skopeo uses this format; false = an orphan old-format file
  // (reported, not a fault); null = installed skopeo unknown.
  inUse: boolean | null;
  refused: { code: DiscoveryRefusalCode; message: string } | null;
}

export interface DiscoverOptions {
  dirs: readonly string[];
  discoverUsers: boolean;
  cacheFormatInUse: CacheFormatByName | null;
  passwdPath?: string; // a passwd file; default: NSS (getent passwd), /etc/passwd without getent
  // The user database when the caller reuses a listing (user-list.ts); default: read it now.
  users?: () => Promise<PasswdEntry[]>;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  home: string;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    // '+'/'-' lines are NIS compat markers, not users.
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const fields = line.split(':');
    if (fields.length < 7) continue;
    const uid = Number(fields[2]);
    if (!Number.isInteger(uid) || uid < 0) continue;
    entries.push({ name: fields[0], uid, home: fields[5] });
  }
  return entries;
}

// The user database as the host resolves it: NSS through `getent passwd` (local files, SSSD,
// LDAP, NIS: build users often live only there), /etc/passwd when getent is missing or fails.
// Bounded in time and size so a hung directory service cannot stall the check.
export async function readUsers(passwdPath: string | undefined): Promise<PasswdEntry[]> {
  if (passwdPath !== undefined) return readPasswd(passwdPath);
  try {
    const { stdout } = await execFileAsync('getent', ['passwd'], {
      timeout: 10_000,
      maxBuffer: 32 * 1024 * 1024,
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', LC_ALL: 'C' },
    });
    const users = parsePasswd(stdout);
    if (users.length > 0) return users;
  } catch {
    // no getent, or it failed: the local file below
  }
  return readPasswd('/etc/passwd');
}

async function readPasswd(passwdPath: string): Promise<PasswdEntry[]> {
  try {
    return parsePasswd(await readFile(passwdPath, 'utf8'));
  } catch {
    return [];
  }
}

interface CandidateDir {
  dir: string;
  source: CacheDirSource;
  user: PasswdEntry | null;
}

// root's cache is the system directory (skopeo as uid 0 never uses a home-relative one), and
// homes that are not absolute or are `/` cannot hold a rootless cache worth checking.
function userCandidateDirs(users: readonly PasswdEntry[]): CandidateDir[] {
  return users
    .filter((u) => u.uid !== 0 && path.isAbsolute(u.home) && path.resolve(u.home) !== '/')
    .map((u) => ({ dir: path.join(path.resolve(u.home), rootlessCacheSubdir), source: 'user' as const, user: u }));
}

type DirWalk =
  | { kind: 'ok'; real: string; uid: number; dev: string; ino: string; mtimeNs: string; ctimeNs: string }
  | { kind: 'absent' }
  | { kind: 'refused'; code: DiscoveryRefusalCode; message: string };

// Trusted links are followed (lib/trusted-path.ts); a directory that does not exist is no
// cache and no warning, behind a link or not. Behind a link root cannot trust, whether a cache
// file is reachable is asked with the link owner's rights, and a cache there is refused
// (reported as not verified).
async function walkDir(dir: string): Promise<DirWalk> {
  const r = await resolveTrustedDir(dir);
  switch (r.kind) {
    case 'ok':
      return r;
    case 'absent':
      return r;
    case 'untrusted-link': {
      const reachable = reachableWithRightsOf(dir, Object.values(cacheFileNames), r.linkUid, r.linkGid);
      if (reachable === false) return { kind: 'absent' };
      return { kind: 'refused', code: 'symlink-on-path', message: r.message };
    }
    case 'not-a-directory':
      // A home of /dev/null (Rocky's tss user) or a file where a directory would be: skopeo
      // could not keep a cache there, so there is none.
      return { kind: 'absent' };
    default:
      return { kind: 'refused', code: 'stat-failed', message: r.message };
  }
}

function candidateDirs(opts: DiscoverOptions, users: readonly PasswdEntry[]): CandidateDir[] {
  return [
    ...opts.dirs
      .filter((d) => path.isAbsolute(d))
      .map((d) => ({ dir: path.resolve(d), source: 'configured' as const, user: null })),
    ...(opts.discoverUsers ? userCandidateDirs(users) : []),
  ];
}

// Every directory in scope, whether or not it exists or holds a cache (the quarantine's
// "inside a cache directory" rule is checked against this list).
// A directory behind trusted links is in scope by both names.
export async function cacheDirsInScope(opts: DiscoverOptions): Promise<string[]> {
  const users = await readUsers(opts.passwdPath);
  const dirs = new Set<string>();
  for (const c of candidateDirs(opts, users)) {
    dirs.add(c.dir);
    const r = await resolveTrustedDir(c.dir);
    if (r.kind === 'ok') dirs.add(r.real);
  }
  return [...dirs];
}

export async function discoverCaches(opts: DiscoverOptions): Promise<DiscoveredCache[]> {
  const users = opts.users ? await opts.users() : await readUsers(opts.passwdPath);
  const nameOf = (uid: number): string | null => users.find((u) => u.uid === uid)?.name ?? null;
  const candidates = candidateDirs(opts, users);
  const seen = new Set<string>();
  const found: DiscoveredCache[] = [];
  for (const c of candidates) {
    if (seen.has(c.dir)) continue; // a configured dir that is also a user's, or a shared home
    seen.add(c.dir);
    const walk = await walkDir(c.dir);
    if (walk.kind === 'absent') continue;
    const base = {
      dir: c.dir,
      source: c.source,
      companions: [] as string[],
      fileUid: null,
      sizeBytes: null,
    };
    if (walk.kind === 'refused') {
      const owner = c.user ? { uid: c.user.uid, name: c.user.name } : { uid: -1, name: null };
      found.push({
        ...base,
        listedDir: null,
        path: c.dir,
        fileName: null,
        formatByName: null,
        owner,
        dirUid: null,
        dirDev: null,
        dirIno: null,
        dirTimes: null,
        inUse: null,
        refused: { code: walk.code, message: walk.message },
      });
      continue;
    }
    // Behind trusted links the cache is known, verified and moved by its real directory.
    if (walk.real !== c.dir) {
      if (seen.has(walk.real)) continue;
      seen.add(walk.real);
    }
    const owner: CacheOwner = c.user
      ? { uid: c.user.uid, name: c.user.name }
      : { uid: walk.uid, name: nameOf(walk.uid) };
    for (const format of ['sqlite', 'boltdb'] as const) {
      const fileName = cacheFileNames[format];
      const filePath = path.join(walk.real, fileName);
      const entry = await describeFile(filePath);
      if (entry === null) continue;
      found.push({
        ...base,
        dir: walk.real,
        listedDir: walk.real === c.dir ? null : c.dir,
        path: filePath,
        fileName,
        formatByName: format,
        owner,
        dirUid: walk.uid,
        dirDev: walk.dev,
        dirIno: walk.ino,
        dirTimes: { mtimeNs: walk.mtimeNs, ctimeNs: walk.ctimeNs },
        fileUid: entry.uid,
        sizeBytes: entry.size,
        companions: entry.kind === 'file' ? await presentCompanions(filePath) : [],
        inUse: opts.cacheFormatInUse === null ? null : opts.cacheFormatInUse === format,
        refused: entry.refused,
      });
    }
  }
  return found;
}

async function describeFile(filePath: string): Promise<{
  kind: 'file' | 'other';
  uid: number | null;
  size: number | null;
  refused: DiscoveredCache['refused'];
} | null> {
  let st;
  try {
    st = await lstat(filePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return {
      kind: 'other',
      uid: null,
      size: null,
      refused: { code: 'stat-failed', message: `${filePath}: ${(err as Error).message}` },
    };
  }
  if (st.isSymbolicLink()) {
    return {
      kind: 'other',
      uid: st.uid,
      size: null,
      refused: { code: 'symlink', message: `${filePath} is a symbolic link; not following it` },
    };
  }
  if (!st.isFile()) {
    return {
      kind: 'other',
      uid: st.uid,
      size: null,
      refused: { code: 'not-a-regular-file', message: `${filePath} is not a regular file` },
    };
  }
  return { kind: 'file', uid: st.uid, size: st.size, refused: null };
}

async function presentCompanions(filePath: string): Promise<string[]> {
  const present: string[] = [];
  for (const suffix of ['-journal', '-wal', '-shm']) {
    try {
      await lstat(`${filePath}${suffix}`);
      present.push(`${path.basename(filePath)}${suffix}`);
    } catch {
      // absent
    }
  }
  return present;
}
