// Reads a small JSON request body with a hard cap, so a client cannot make the agent buffer
// megabytes. Errors come back as values carrying the HTTP status to answer with.
import type { IncomingMessage } from 'node:http';
import type { ApiError } from './respond.ts';

export const maxBodyBytes = 64 * 1024;

export type BodyResult =
  | { ok: true; value: unknown } // undefined when the body was empty
  | { ok: false; status: 400 | 413 | 415; code: ApiError['code']; message: string };

export function readJsonBody(req: IncomingMessage, limit = maxBodyBytes): Promise<BodyResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.resolve(tooLarge(limit)); // not read: the error answer closes the connection
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult): void => {
      if (done) return;
      done = true;
      resolve(r);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        finish(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () =>
      finish({ ok: false, status: 400, code: 'body-unreadable', message: 'request body could not be read' }),
    );
    req.on('end', () => {
      if (done) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return finish({ ok: true, value: undefined });
      const type = String(req.headers['content-type'] ?? 'application/json')
        .split(';')[0]
        .trim()
        .toLowerCase();
      if (type !== 'application/json' && !type.endsWith('+json')) {
        return finish({
          ok: false,
          status: 415,
          code: 'unsupported-media-type',
          message: `body must be application/json, got ${type}`,
        });
      }
      try {
        finish({ ok: true, value: JSON.parse(text) });
      } catch (err) {
        finish({
          ok: false,
          status: 400,
          code: 'invalid-json',
          message: `body is not valid JSON: ${(err as Error).message}`,
        });
      }
    });
  });
}

function tooLarge(limit: number): BodyResult {
  return { ok: false, status: 413, code: 'body-too-large', message: `request body exceeds ${limit} bytes` };
}
