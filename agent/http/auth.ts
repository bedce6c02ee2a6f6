// Bearer-token authentication for the mutating endpoints. The token lives in a file only the
// agent's user may read; the agent refuses to start when group or others can read or write it,
// because a leaked token lets anyone drain or quarantine the host.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { CodeIn } from '../../lib/problem-codes.ts';

// The token is kept only as its SHA-256: comparing fixed-length digests with timingSafeEqual
// takes the same time whatever the presented token's length or content.
export interface BearerToken {
  digest: Buffer;
  file: string;
}

export type LoadedToken = { ok: true; token: BearerToken } | { ok: false; code: TokenFileProblem; error: string };

export type TokenFileProblem = CodeIn<'tokenFileProblem'>;

// Group/other read or write bits. Execute alone leaks nothing.
const groupOtherAccess = 0o066;

export function loadBearerToken(file: string): LoadedToken {
  let mode: number;
  let isFile: boolean;
  try {
    const st = statSync(file);
    mode = st.mode;
    isFile = st.isFile();
  } catch (err) {
    return { ok: false, code: 'token-file-unreadable', error: `auth.tokenFile ${file}: ${(err as Error).message}` };
  }
  if (!isFile)
    return { ok: false, code: 'token-file-not-regular', error: `auth.tokenFile ${file}: not a regular file` };
  if ((mode & groupOtherAccess) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(3, '0');
    return {
      ok: false,
      code: 'token-file-permissions',
      error: `auth.tokenFile ${file}: mode ${octal} lets group or others read or write the token; run: chmod 600 ${file}`,
    };
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, code: 'token-file-unreadable', error: `auth.tokenFile ${file}: ${(err as Error).message}` };
  }
  // One line; a trailing newline from `echo token > file` is not part of the token.
  const token = text.trim();
  if (token === '' || /\s/.test(token)) {
    return {
      ok: false,
      code: 'token-file-empty',
      error: `auth.tokenFile ${file}: must hold one non-empty token without spaces`,
    };
  }
  return { ok: true, token: { digest: sha256(token), file } };
}

export type AuthOutcome = 'ok' | 'missing' | 'invalid';

// Checks an Authorization header against the token. Never short-circuits on content.
export function checkBearer(header: string | undefined, token: BearerToken): AuthOutcome {
  if (header === undefined) return 'missing';
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!match) return 'missing';
  return timingSafeEqual(sha256(match[1]), token.digest) ? 'ok' : 'invalid';
}

export function bearerChallenge(outcome: Exclude<AuthOutcome, 'ok'>): string {
  return outcome === 'invalid'
    ? 'Bearer realm="buildfleet-agent", error="invalid_token"'
    : 'Bearer realm="buildfleet-agent"';
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
