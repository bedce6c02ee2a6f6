// A usage or config error: what is wrong on stderr, one line each, and the usage exit code
// (lib/exit-codes.ts: nothing was asked). `verb` prefixes each line; null for lines that name
// their own source (config errors start with the file and key).
import { exitCodes } from '../../lib/exit-codes.ts';

export function usageError(verb: string | null, ...lines: string[]): typeof exitCodes.usage {
  for (const line of lines) process.stderr.write(verb === null ? `${line}\n` : `${verb}: ${line}\n`);
  return exitCodes.usage;
}
