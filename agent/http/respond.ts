// The few ways the agent answers: JSON (every API answer and error), text (/metrics) and HTML
// (the status page). Every answer says its content type and that it must not be cached.
import type { ServerResponse } from 'node:http';
import type { HttpErrorCode } from '../../lib/problem-codes.ts';

export interface ApiError {
  code: HttpErrorCode; // stable kebab-case, lib/problem-codes.ts (docs/http-api.md)
  message: string;
}

export const jsonContentType = 'application/json; charset=utf-8';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  send(res, status, jsonContentType, `${JSON.stringify(body)}\n`, headers);
}

export function sendError(
  res: ServerResponse,
  status: number,
  error: ApiError,
  headers: Record<string, string | number> = {},
): void {
  // The body of a refused request (401, 404, 405, 413, ...) may still be arriving, endlessly if
  // the client wishes: close the connection after the answer instead of reading it to the end.
  sendJson(res, status, { error }, { Connection: 'close', ...headers });
}

export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string | number> = {},
): void {
  if (res.headersSent) {
    res.destroy(); // a handler failed half-way; the client must not take a truncated body as whole
    return;
  }
  // One writeHead with every header: the cheapest way through node:http for small answers.
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

// What of the client's own input an error message may quote: a few names, each cut short, so
// a 400 cannot be made to echo kilobytes of query back (or into a log).
export function echoText(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function echoList(items: readonly string[], max = 5): string {
  const shown = items
    .slice(0, max)
    .map((i) => echoText(i))
    .join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}
