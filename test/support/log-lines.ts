// The agent logs one JSON object a line on stderr: tests that start it as a child collect
// those lines here, parsed, with anything that is not JSON kept as { raw }.
import type { Readable } from 'node:stream';

export type LogLine = Record<string, unknown>;

// Appends each complete line of `stream` to the returned array as it arrives; `onLine` runs
// after each one (tests waiting for a line re-check then).
export function collectLogLines(stream: Readable | null, onLine?: (line: LogLine) => void): LogLine[] {
  const logs: LogLine[] = [];
  let partial = '';
  stream?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const text = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { raw: text };
      }
      logs.push(line);
      onLine?.(line);
    }
  });
  return logs;
}
