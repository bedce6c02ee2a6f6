// A tiny token server on 127.0.0.1 for docker-registry's token auth (distribution's "token"
// auth: a JWT signed by a key whose certificate the registry trusts via rootcertbundle; the
// chain travels in the JWT's x5c header). GET /token with basic auth answers {token}; wrong
// credentials answer 401.
import { createServer } from 'node:http';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { makeSigningCert } from './tls.ts';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  // The certificate the registry must trust (its auth.token.rootcertbundle).
  certFile: string;
  // How many tokens were handed out, and how many requests were refused.
  issued: () => number;
  refused: () => number;
  stop: () => Promise<void>;
}

export interface TokenServerOptions {
  dir: string;
  users: Record<string, string>;
  service?: string;
  issuer?: string;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

// "repository:library/alpine:pull,push" -> the access claim entry distribution expects.
function accessOf(scope: string | null): { type: string; name: string; actions: string[] }[] {
  if (scope === null) return [];
  return scope.split(' ').map((s) => {
    const [type, ...rest] = s.split(':');
    const actions = rest.pop() ?? '';
    return { type, name: rest.join(':'), actions: actions.split(',').filter((a) => a !== '') };
  });
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const service = opts.service ?? 'buildfleet-test-registry';
  const issuer = opts.issuer ?? 'buildfleet-test-token-server';
  const { certFile, keyFile } = makeSigningCert(opts.dir, 'token-signer');
  const key = createPrivateKey(readFileSync(keyFile));
  const certDer = readFileSync(certFile, 'utf8')
    .replace(/-----[^-]+-----/g, '')
    .replace(/\s+/g, '');
  let issued = 0;
  let refused = 0;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [user, password] = basic === undefined ? [] : Buffer.from(basic, 'base64').toString().split(/:(.*)/s);
    if (url.pathname !== '/token' || user === undefined || opts.users[user] !== password) {
      refused += 1;
      res.writeHead(401, {
        'WWW-Authenticate': 'Basic realm="buildfleet test token server"',
        'Content-Type': 'application/json',
      });
      res.end('{"details":"incorrect username or password"}');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer] };
    const claims = {
      iss: issuer,
      sub: user,
      aud: url.searchParams.get('service') ?? service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access: accessOf(url.searchParams.get('scope')),
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const token = `${signingInput}.${base64url(sign('sha256', Buffer.from(signingInput), key))}`;
    issued += 1;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    issued: () => issued,
    refused: () => refused,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
