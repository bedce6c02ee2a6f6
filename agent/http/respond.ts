// The few ways the agent answers: JSON (every API answer and error), text (/metrics) and HTML
// (the status page). Every answer says its content type and that it must not be cached.
import type { ServerResponse } from 'node:http';

export interface ApiError {
  code: string; // stable kebab-case, docs/http-api.md
  message: string;
}

export const jsonContentType = 'application/json; charset=utf-8';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  send(res, status, jsonContentType, `${JSON.stringify(body)}\n`, headers);
}

export function sendError(res: ServerResponse, status: number, error: ApiError, headers: Record<string, string | number> = {}): void {
  // After an oversized body the rest of it may still be arriving: close instead of reading it.
  const extra: Record<string, string> = status === 413 ? { Connection: 'close' } : {};
  sendJson(res, status, { error }, { ...extra, ...headers });
}

export function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string | number> = {}): void {
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
