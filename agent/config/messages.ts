// Turns schema and YAML problems into one line each that names the key path and the problem,
// e.g. `checks.disk.paths[0].warnFre: unknown key (did you mean warnFree?) (line 7)`.
import type { z } from 'zod';

export type KeyPath = readonly PropertyKey[];

export function formatKeyPath(path: KeyPath): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text === '' ? '(top level)' : text;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${value}"`;
  return String(value);
}

const typeWords: Record<string, string> = {
  object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false',
};

// The problem half of one issue, in the words of a YAML file rather than of JavaScript.
function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `expected ${typeWords[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(issue.input)}`;
    case 'invalid_union':
      return `has the wrong type (got ${describeValue(issue.input)})`;
    case 'too_small':
    case 'too_big':
    case 'invalid_format':
    case 'not_multiple_of':
    case 'custom':
    default:
      return issue.message;
  }
}

// Edit distance, for suggesting the key a typo meant.
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

export function closestKey(key: string, known: readonly string[]): string | null {
  // `timeout` for `timeoutSeconds`: a prefix is a likelier meaning than any near spelling.
  const prefixed = known.find((k) => key.length >= 4 && k.toLowerCase().startsWith(key.toLowerCase()));
  if (prefixed) return prefixed;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

// Follows a key path through the schema (through defaults, nullables, transforms and lists) to
// the mapping there, and returns its keys.
export function knownKeysAt(schema: z.core.$ZodType, path: KeyPath): string[] {
  let node: z.core.$ZodType | undefined = schema;
  let remaining = [...path];
  for (let guard = 0; node && guard < 100; guard++) {
    const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'default' || def.type === 'prefault' || def.type === 'nullable' || def.type === 'optional') {
      node = def.innerType as z.core.$ZodType;
    } else if (def.type === 'pipe') {
      node = def.in as z.core.$ZodType;
    } else if (def.type === 'array') {
      if (remaining.length === 0) return [];
      remaining = remaining.slice(1);
      node = def.element as z.core.$ZodType;
    } else if (def.type === 'object') {
      const shape = def.shape as Record<string, z.core.$ZodType>;
      if (remaining.length === 0) return Object.keys(shape);
      node = shape[String(remaining[0])];
      remaining = remaining.slice(1);
    } else {
      return [];
    }
  }
  return [];
}

export function formatIssue(issue: z.core.$ZodIssue, schema: z.core.$ZodType, lineOf: (path: KeyPath) => number | null): string[] {
  const where = (path: KeyPath) => {
    const line = lineOf(path);
    return line === null ? '' : ` (line ${line})`;
  };
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(schema, issue.path);
    return issue.keys.map((key) => {
      const suggestion = closestKey(key, known);
      const hint = suggestion ? ` (did you mean ${suggestion}?)` : '';
      const path = [...issue.path, key];
      return `${formatKeyPath(path)}: unknown key${hint}${where(path)}`;
    });
  }
  return [`${formatKeyPath(issue.path)}: ${describeIssue(issue)}${where(issue.path)}`];
}
