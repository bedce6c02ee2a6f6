import { configAsDocument, defaultConfigPath, isConfigError, loadConfig, renderConfigYaml } from '../config.ts';
import { parseVerbArgs, usageError } from './usage-error.ts';
import { exitCodes } from '../../lib/exit-codes.ts';

export const help = `Usage: buildfleet-agent config check [--config FILE] [--json]

Validates a config file and prints the effective config: every key, with the built-in defaults
filled in for what the file leaves out. Without --config, ${defaultConfigPath} is read, and
when it does not exist the built-in defaults are shown.

Options:
  --config FILE   the config file to check (must exist)
  --json          print the effective config as one JSON document instead of YAML

Exit codes: 0 valid, 2 invalid (every problem on stderr, one per line) or a usage error.`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseVerbArgs('config check', {
    args,
    options: { config: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (typeof parsed === 'number') return parsed;
  const loaded = loadConfig(parsed.values.config ?? null);
  if (isConfigError(loaded)) {
    return usageError(null, ...loaded.errors);
  }
  process.stdout.write(
    parsed.values.json
      ? `${JSON.stringify(configAsDocument(loaded.config), null, 2)}\n`
      : renderConfigYaml(loaded.config),
  );
  return exitCodes.ok;
}
