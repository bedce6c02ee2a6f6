// Usage and config errors of the verbs: what is wrong on stderr, one line each, and the usage
// exit code (lib/exit-codes.ts: nothing was asked).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { exitCodes } from '../../lib/exit-codes.ts';

export type UsageExit = typeof exitCodes.usage;

// `verb` prefixes each line; null for lines that name their own source (config errors start
// with the file and key).
export function usageError(verb: string | null, ...lines: string[]): UsageExit {
  for (const line of lines) process.stderr.write(verb === null ? `${line}\n` : `${verb}: ${line}\n`);
  return exitCodes.usage;
}

// node:util's parseArgs, with an unknown or malformed option as a usage error of `verb`.
export function parseVerbArgs<T extends ParseArgsConfig>(
  verb: string,
  config: T,
): ReturnType<typeof parseArgs<T>> | UsageExit {
  try {
    return parseArgs(config);
  } catch (err) {
    return usageError(verb, (err as Error).message);
  }
}
