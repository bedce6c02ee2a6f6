// Reads and validates the agent's config once, at the entrance: YAML text -> schema (defaults
// filled, thresholds parsed, unknown keys rejected) -> a deeply frozen AgentConfig. Every
// problem comes back as one line naming the key path; nothing here throws.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { LineCounter, parseDocument, isNode } from 'yaml';
import * as v from 'valibot';
import { configSchema } from './config/schema.ts';
import { formatIssue, type KeyPath } from './config/messages.ts';
import type { AgentConfig } from './config/types.ts';

export type * from './config/types.ts';
export { renderConfigYaml, configAsDocument } from './config/render.ts';
export { formatKeyPath } from './config/messages.ts';

export const defaultConfigPath = '/etc/buildfleet-agent/config.yaml';

export type LoadedConfig = { config: AgentConfig } | { errors: string[] };

export function isConfigError(loaded: LoadedConfig): loaded is { errors: string[] } {
  return 'errors' in loaded;
}

// `path` null: the default path, and built-in defaults when no file is there. A path given
// explicitly (--config) must exist: a typo in a unit file must not silently run on defaults.
// (`defaultPath` is for tests; the daemon always uses defaultConfigPath.)
export function loadConfig(path: string | null, defaultPath: string = defaultConfigPath): LoadedConfig {
  const file = path ?? defaultPath;
  let text: string;
  try {
    text = readBoundedText(file, maxConfigBytes + 1);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (path === null && code === 'ENOENT') return parseConfigText('', '(built-in defaults)');
    return { errors: [`${file}: cannot read the config file: ${(err as Error).message}`] };
  }
  return parseConfigText(text, file);
}

// At most `limit` bytes of a file: /dev/zero or a huge file named as the config must not be
// read whole (parseConfigText then refuses the text as too large).
function readBoundedText(file: string, limit: number): string {
  const fd = openSync(file, 'r');
  try {
    if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    const buf = Buffer.alloc(limit);
    let size = 0;
    while (size < limit) {
      const n = readSync(fd, buf, size, limit - size, null);
      if (n === 0) break;
      size += n;
    }
    return buf.subarray(0, size).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function defaultConfig(): AgentConfig {
  const loaded = parseConfigText('', '(built-in defaults)');
  if (isConfigError(loaded)) throw new Error(`built-in defaults are invalid: ${loaded.errors.join('; ')}`);
  return loaded.config;
}

// A config is a page of YAML; anything near this size is a mistake or an attack, and the
// parser's memory grows with it.
export const maxConfigBytes = 1024 * 1024;
// YAML aliases can expand exponentially ("billion laughs"); a real config needs none, so a few
// are allowed and more is an error rather than gigabytes of expanded lists.
export const maxConfigAliases = 32;

// `source` only names the text in messages about YAML syntax. Never throws: whatever the parser
// or the schema throws on hostile input (an alias bomb, nesting deep enough to overflow the
// stack) becomes one line, so `serve` and `config check` exit 2 with it instead of a stack.
export function parseConfigText(text: string, source: string): LoadedConfig {
  if (Buffer.byteLength(text) > maxConfigBytes) {
    return { errors: [`${source}: the config file is larger than ${maxConfigBytes} bytes`] };
  }
  try {
    return parseConfigTextUnguarded(text, source);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { errors: [`${source}: YAML: ${message.split('\n')[0]}`] };
  }
}

function parseConfigTextUnguarded(text: string, source: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        // The pretty message repeats the position and quotes the source; the position is
        // already in front, and one line per error is the contract.
        const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return `${source}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML: ${message}`;
      }),
    };
  }
  // An empty file (or one with only comments) means "all defaults".
  const data: unknown = doc.toJS({ maxAliasCount: maxConfigAliases }) ?? {};
  const parsed = v.safeParse(configSchema, data);
  if (!parsed.success) {
    const lineOf = (keyPath: KeyPath): number | null => {
      const node = doc.getIn(keyPath as unknown[], true);
      if (!isNode(node) || !node.range) return null;
      return lineCounter.linePos(node.range[0]).line;
    };
    return { errors: parsed.issues.map((issue) => `${source}: ${formatIssue(issue, lineOf)}`) };
  }
  const config: AgentConfig = parsed.output;
  return { config: deepFreeze(config) };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
