// The first bytes of a file in the verifier's own snapshot directory, and its size.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

// `length` bytes from offset 0, fewer when the file is shorter.
export function readHead(path: string, length: number): { bytes: Buffer; size: number } {
  const fd = openSync(path, 'r');
  try {
    const bytes = Buffer.alloc(length);
    const n = readSync(fd, bytes, 0, length, 0);
    return { bytes: bytes.subarray(0, n), size: fstatSync(fd).size };
  } finally {
    closeSync(fd);
  }
}
