// A directory opened without following any symlink on its path, and held open by descriptor.
// Node has no openat()/renameat(); `/proc/self/fd/<fd>/<name>` gives the same guarantee: the
// kernel resolves the magic link to the exact directory we opened, so a component swapped for a
// symlink after we checked it can never redirect a rename, unlink or read somewhere else.
import { closeSync, constants, fstatSync, lstatSync, readlinkSync, openSync, type BigIntStats } from 'node:fs';
import path from 'node:path';

export interface PinnedDir {
  path: string; // the absolute path as given (for messages and records only)
  fd: number;
  stat: BigIntStats;
  // A path that reaches `name` inside exactly this directory (single component only).
  at: (name: string) => string;
  // A path to the directory itself (for readdir).
  self: string;
  close: () => void;
}

export type PinnedDirRefusalCode = 'symlink-on-path' | 'not-a-directory' | 'not-found' | 'not-absolute' | 'io-error';

export interface PinnedDirRefusal {
  code: PinnedDirRefusalCode;
  message: string;
}

// (libuv opens every descriptor close-on-exec already.)
const dirFlags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

export function isPinnedDirRefusal(x: PinnedDir | PinnedDirRefusal): x is PinnedDirRefusal {
  return !('fd' in x);
}

// Walks `dirPath` from `/` one component at a time, each opened relative to its parent's
// descriptor with O_NOFOLLOW, so every directory on the way is checked and none is followed.
export function openPinnedDir(dirPath: string): PinnedDir | PinnedDirRefusal {
  if (!path.isAbsolute(dirPath)) return { code: 'not-absolute', message: `${dirPath} is not an absolute path` };
  const normal = path.resolve(dirPath);
  const components = normal.split('/').filter((c) => c !== '');
  let fd: number;
  try {
    fd = openSync('/', dirFlags);
  } catch (err) {
    return { code: 'io-error', message: `cannot open /: ${(err as Error).message}` };
  }
  let walked = '';
  for (const component of components) {
    walked += `/${component}`;
    let next: number;
    try {
      next = openSync(`/proc/self/fd/${fd}/${component}`, dirFlags);
    } catch (err) {
      closeSync(fd);
      return componentRefusal(walked, normal, err as NodeJS.ErrnoException);
    }
    closeSync(fd);
    fd = next;
  }
  const stat = fstatSync(fd, { bigint: true });
  const pinnedFd = fd;
  return {
    path: normal,
    fd: pinnedFd,
    stat,
    at: (name) => {
      if (name === '' || name === '.' || name === '..' || name.includes('/'))
        throw new Error(`not a single path component: ${name}`);
      return `/proc/self/fd/${pinnedFd}/${name}`;
    },
    self: `/proc/self/fd/${pinnedFd}`,
    close: () => closeSync(pinnedFd),
  };
}

function componentRefusal(walked: string, full: string, err: NodeJS.ErrnoException): PinnedDirRefusal {
  if (err.code === 'ENOENT') return { code: 'not-found', message: `${walked} does not exist` };
  if (err.code === 'ELOOP' || err.code === 'ENOTDIR') {
    // O_DIRECTORY|O_NOFOLLOW on a symlink gives ENOTDIR on Linux; lstat tells the two apart.
    // (This lstat is for the message only; the refusal does not depend on it.)
    let isLink = err.code === 'ELOOP';
    try {
      isLink = isLink || lstatSync(walked).isSymbolicLink();
    } catch {
      // gone meanwhile: still refused
    }
    return isLink
      ? {
          code: 'symlink-on-path',
          message: `${symlinkText(walked)}; refusing to follow it${walked === full ? '' : ` on the way to ${full}`}`,
        }
      : { code: 'not-a-directory', message: `${walked} is not a directory (on the way to ${full})` };
  }
  return { code: 'io-error', message: `cannot open ${walked}: ${err.message}` };
}

// Names the link and where it points, so the message says what was refused, not the same path
// twice. (For the message only: the link is never followed.)
function symlinkText(link: string): string {
  try {
    return `${link} is a symbolic link to ${readlinkSync(link)}`;
  } catch {
    return `${link} is a symbolic link`;
  }
}
