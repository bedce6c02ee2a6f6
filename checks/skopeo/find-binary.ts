// Where a configured skopeo lives: a name is looked up on PATH the way a shell would, a name
// with a slash is taken as a path. Done before spawning so "missing" and "not executable" are
// told apart and the report names the file that was actually run.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export type FoundBinary =
  | { found: true; path: string }
  | { found: false; code: 'skopeo-missing' | 'skopeo-not-executable'; path: string | null; message: string };

function judgeFile(path: string): FoundBinary | null {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    return null;
  }
  if (!isFile) return { found: false, code: 'skopeo-not-executable', path, message: `${path} is not a regular file` };
  try {
    accessSync(path, constants.X_OK);
    return { found: true, path };
  } catch {
    return { found: false, code: 'skopeo-not-executable', path, message: `${path} is not executable` };
  }
}

export function findBinary(binary: string, searchPath: string = process.env.PATH ?? ''): FoundBinary {
  if (binary.includes('/')) {
    const path = isAbsolute(binary) ? binary : resolve(binary);
    return judgeFile(path) ?? { found: false, code: 'skopeo-missing', path, message: `${path} does not exist` };
  }
  let notExecutable: FoundBinary | null = null;
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue;
    const judged = judgeFile(join(dir, binary));
    if (judged?.found) return judged;
    notExecutable ??= judged;
  }
  return (
    notExecutable ?? { found: false, code: 'skopeo-missing', path: null, message: `"${binary}" not found on PATH` }
  );
}
