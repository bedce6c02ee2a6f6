// Turns schema and YAML problems into one line each that names the key path and the problem,
// e.g. `checks.disk.paths[0].warnFre: unknown key (did you mean warnFree?) (line 7)`.
import type * as v from 'valibot';

export type KeyPath = readonly PropertyKey[];

export function formatKeyPath(path: KeyPath): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text === '' ? '(top level)' : text;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${value}"`;
  return String(value);
}

// `expected a number, got "ten"`: the words of a YAML file rather than of JavaScript.
export function expectedButGot(expected: string, value: unknown): string {
  return `expected ${expected}, got ${describeValue(value)}`;
}

// valibot's type checks, named as a YAML file names them. The schema's own checks (and the
// schemas with their own words: mappings, numbers, log levels) bring their messages.
const typeWords: Record<string, string> = {
  array: 'a list',
  string: 'a string',
  boolean: 'true or false',
};

// The problem half of one issue.
function describeIssue(issue: v.BaseIssue<unknown>): string {
  if (issue.kind === 'schema') {
    if (issue.input === undefined) return 'is required';
    if (Object.hasOwn(typeWords, issue.type)) return expectedButGot(typeWords[issue.type], issue.input);
    if (issue.type === 'union') return `has the wrong type (got ${describeValue(issue.input)})`;
  }
  return issue.message;
}

// Edit distance, for suggesting the key a typo meant.
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(
        row[j] + 1,
        row[j - 1] + 1,
        previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1),
      );
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

export function formatIssue(issue: v.BaseIssue<unknown>, lineOf: (path: KeyPath) => number | null): string {
  const path: KeyPath = issue.path?.map((item) => item.key as PropertyKey) ?? [];
  const line = lineOf(path);
  return `${formatKeyPath(path)}: ${describeIssue(issue)}${line === null ? '' : ` (line ${line})`}`;
}
