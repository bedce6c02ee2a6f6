// The only place cache verification touches the filesystem: open a file the safe way and
// hand out positional reads. Format readers receive a ReadAt and never see a path.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

// Positional read of up to `length` bytes at `offset`; a short result means end of file.
// Returns an Error value instead of throwing, so readers can turn it into a problem.
export type ReadAt = (offset: number, length: number) => Uint8Array | Error;

export interface OpenedCacheFile {
  fd: number;
  stat: Stats;
  readAt: ReadAt;
  // The size now (a live file grows while we read it); falls back to the size at open.
  currentSize: () => number;
  close: () => void;
}

export interface OpenFailure {
  code: 'not-found' | 'permission-denied' | 'not-a-file' | 'symlink' | 'io-error';
  message: string;
}

// Opens read-only, never follows a symlink in the last component (the agent runs as root and
// a user could plant one), never blocks on a FIFO, and refuses anything but a regular file.
export function openCacheFile(path: string): OpenedCacheFile | OpenFailure {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return openErrorToFailure(path, err as NodeJS.ErrnoException);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    return { code: 'not-a-file', message: `${path} is not a regular file` };
  }
  const readAt: ReadAt = (offset, length) => readInto(fd, Buffer.allocUnsafe(length), offset, length);
  const currentSize = (): number => {
    try {
      return fstatSync(fd).size;
    } catch {
      return stat.size;
    }
  };
  return { fd, stat, readAt, currentSize, close: () => closeSync(fd) };
}

function openErrorToFailure(path: string, err: NodeJS.ErrnoException): OpenFailure {
  switch (err.code) {
    case 'ENOENT':
      return { code: 'not-found', message: `${path} does not exist` };
    case 'EACCES':
    case 'EPERM':
      return { code: 'permission-denied', message: `${path}: permission denied` };
    case 'ELOOP':
      return { code: 'symlink', message: `${path} is a symbolic link; refusing to follow it (pass the real path)` };
    case 'EISDIR':
      return { code: 'not-a-file', message: `${path} is a directory` };
    default:
      return { code: 'io-error', message: `${path}: ${err.message}` };
  }
}

export function isOpenFailure(x: OpenedCacheFile | OpenFailure): x is OpenFailure {
  return 'code' in x && !('fd' in x);
}

// A ReadAt over bytes in memory: what tests and the fuzzer hand to the pure readers.
export function bufferReadAt(bytes: Uint8Array): ReadAt {
  return (offset, length) => {
    if (offset >= bytes.length) return new Uint8Array(0);
    return bytes.subarray(offset, Math.min(bytes.length, offset + length));
  };
}

// A ReadAt for the page walker: every read lands in one reused buffer, so walking a large tree
// allocates nothing per page. The bytes it returns stay valid only until the next call:
// callers that keep bytes across calls copy them. (A block cache was measured and lost: bbolt
// trees are not laid out in walk order, so larger reads only multiplied the bytes read.)
export function scratchReadAt(fd: number): ReadAt {
  let scratch = Buffer.allocUnsafe(64 * 1024);
  return (offset, length) => {
    if (scratch.length < length) scratch = Buffer.allocUnsafe(length);
    return readInto(fd, scratch, offset, length);
  };
}

// Reads up to `length` bytes at `offset` into the start of `buf` (short only at end of file).
function readInto(fd: number, buf: Buffer, offset: number, length: number): Buffer | Error {
  let got = 0;
  try {
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
  } catch (err) {
    return new Error(`read of ${length} bytes at offset ${offset} failed: ${(err as Error).message}`);
  }
  return buf.subarray(0, got);
}
