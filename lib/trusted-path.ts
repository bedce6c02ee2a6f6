// Symbolic links followed by trust, not by kind: the rule sudo and OpenSSH apply to paths. A link
// is followed only when it and every directory above it are owned by root and writable by no one
// else (no group or other write bit), so nobody but root could have planted or swapped it; the
// resolved path is then walked again under the same rule. `/var/lib/containers ->
// /data/containers`, `/home -> /export/home` and `/bin -> usr/bin` resolve; a link a user owns,
// or one inside a directory a user can write, is never followed with root's rights.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';

// Bounded like the kernel's own symlink limit.
const maxLinks = 40;

export type TrustedPath =
  // The directory exists; `real` is its path with every trusted link resolved. Its times (ns,
  // decimal) say when an entry in it was last added, removed or renamed.
  | { kind: 'ok'; real: string; uid: number; dev: string; ino: string; mtimeNs: string; ctimeNs: string }
  | { kind: 'absent' }
  // A link on the way that is not trusted: never followed here. `link` is the link itself.
  | { kind: 'untrusted-link'; link: string; linkUid: number; linkGid: number; message: string }
  // Something on the way is not a directory (a home of /dev/null): no directory, so no cache.
  | { kind: 'not-a-directory'; message: string }
  | { kind: 'stat-failed'; message: string };

function writableByOthers(mode: bigint): boolean {
  return (mode & 0o022n) !== 0n;
}

// Walks `dir` from `/` with lstat, following only trusted links.
export async function resolveTrustedDir(dir: string): Promise<TrustedPath> {
  let pending = dir.split('/').filter((c) => c !== '');
  let walked = '';
  let trusted = true; // every directory walked so far is root's and writable by no one else
  let links = 0;
  while (pending.length > 0) {
    const component = pending.shift()!;
    if (component === '.') continue;
    if (component === '..') {
      // Lexical, like the kernel after a resolved link: the parent of what was walked.
      walked = path.dirname(walked === '' ? '/' : walked);
      if (walked === '/') walked = '';
      continue;
    }
    const next = `${walked}/${component}`;
    let st;
    try {
      st = await lstat(next, { bigint: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
      return { kind: 'stat-failed', message: `${next}: ${(err as Error).message}` };
    }
    if (st.isSymbolicLink()) {
      if (!trusted || st.uid !== 0n) {
        const why =
          st.uid !== 0n
            ? `the link is owned by uid ${st.uid}`
            : 'it sits in a directory someone other than root can write';
        // Named with its target, so the message does not name the link as its own target.
        const target = await readlink(next).catch(() => null);
        const what = `${next} is a symbolic link${target === null ? '' : ` to ${target}`}`;
        return {
          kind: 'untrusted-link',
          link: next,
          linkUid: Number(st.uid),
          linkGid: Number(st.gid),
          message: `${what}; not following it${next === dir ? '' : ` on the way to ${dir}`} (${why})`,
        };
      }
      if (++links > maxLinks) return { kind: 'stat-failed', message: `${dir}: more than ${maxLinks} symbolic links` };
      const target = await readlink(next);
      // Resolved against the link's directory, then walked again from `/` under the same rule.
      const resolved = path.resolve(walked === '' ? '/' : walked, target);
      pending = [...resolved.split('/').filter((c) => c !== ''), ...pending];
      walked = '';
      trusted = true;
      continue;
    }
    if (!st.isDirectory())
      return { kind: 'not-a-directory', message: `${next} is not a directory (on the way to ${dir})` };
    walked = next;
    if (st.uid !== 0n || writableByOthers(st.mode)) trusted = false;
  }
  const st = await lstat(walked === '' ? '/' : walked, { bigint: true });
  return {
    kind: 'ok',
    real: walked === '' ? '/' : walked,
    uid: Number(st.uid),
    dev: st.dev.toString(),
    ino: st.ino.toString(),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
  };
}

// Whether any of `names` in `dir` is reachable with the rights of `uid`/`gid` (a link they own
// is followed as they would follow it, never as root). As non-root the agent has no rights to
// lend, and asks itself. Only existence is learnt; nothing is opened or read. What that user
// cannot reach (EACCES) does not exist for them: their skopeo could not use a cache there either.
export function reachableWithRightsOf(
  dir: string,
  names: readonly string[],
  uid: number,
  gid: number,
): boolean | 'unknown' {
  const paths = names.map((n) => path.join(dir, n));
  if (process.getuid?.() !== 0) {
    let unknown = false;
    for (const p of paths) {
      try {
        statSync(p);
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EACCES') unknown = true;
      }
    }
    return unknown ? 'unknown' : false;
  }
  const script =
    "let u=false;for(const p of process.argv.slice(1)){try{require('node:fs').statSync(p);process.exit(0)}catch(e){if(!['ENOENT','ENOTDIR','EACCES'].includes(e.code))u=true}}process.exit(u?4:3)";
  const r = spawnSync(process.execPath, ['-e', script, ...paths], {
    uid,
    gid,
    stdio: 'ignore',
    timeout: 5000,
    env: {},
  });
  return r.status === 0 ? true : r.status === 3 ? false : 'unknown';
}
