// The user database for discovery, read again only when it may have changed. Reading it is a
// process (`getent passwd`): forking it from the daemon cost ~6 ms of CPU, most of what an
// unchanged `?max_age=0` cost (docs/benchmarks.md, "Change-driven verification"). So a listing
// is reused for at most `userListMaxAgeMs`, and read again at once when the local passwd file
// changes (useradd, vipw: a new local user is seen by the next run). A user who exists only in a
// directory service (SSSD, LDAP, NIS) is seen by the first run that starts more than
// `userListMaxAgeMs` after the listing before was read. Homes are walked on every run whatever
// the listing's age, so a new cache in a known home is found by the next run.
import { statSync } from 'node:fs';
import { readUsers, type PasswdEntry } from './discover.ts';

export const userListMaxAgeMs = 60_000;

export interface UserListOptions {
  passwdPath?: string; // as DiscoverOptions.passwdPath
  maxAgeMs?: number;
  // The reader (tests wrap the real one to count its reads).
  read?: (passwdPath: string | undefined) => Promise<PasswdEntry[]>;
}

// `nowMs` is the check's clock, so a fake clock ages the listing in tests.
export type UserList = (nowMs: number) => Promise<PasswdEntry[]>;

export function createUserList(opts: UserListOptions = {}): UserList {
  const maxAgeMs = opts.maxAgeMs ?? userListMaxAgeMs;
  const read = opts.read ?? readUsers;
  const localFile = opts.passwdPath ?? '/etc/passwd';
  let last: { atMs: number; fileKey: string; users: PasswdEntry[] } | null = null;
  let reading: Promise<PasswdEntry[]> | null = null;
  return (nowMs) => {
    // Stated before the read: a change during it moves the key, so the next run reads again.
    const key = fileKey(localFile);
    const age = last === null ? Infinity : nowMs - last.atMs;
    // A clock that went backwards (age < 0) proves nothing about the listing's age.
    if (last !== null && last.fileKey === key && age >= 0 && age < maxAgeMs) return Promise.resolve(last.users);
    reading ??= read(opts.passwdPath)
      .then((users) => {
        last = { atMs: nowMs, fileKey: key, users };
        return users;
      })
      .finally(() => {
        reading = null;
      });
    return reading;
  };
}

function fileKey(file: string): string {
  try {
    const st = statSync(file, { bigint: true, throwIfNoEntry: false });
    return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : 'absent';
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code}`;
  }
}
