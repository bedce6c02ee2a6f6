// The WWW-Authenticate challenge a distribution registry answers `GET /v2/` with when it wants
// credentials (RFC 7235): `Bearer realm="https://auth.example/token",service="registry"` or
// `Basic realm="..."`. Pure. Registries send one challenge; we read the first.

export interface AuthChallenge {
  scheme: string; // lower-cased: 'bearer', 'basic', ...
  params: Record<string, string>;
}

const schemeAndRest = /^\s*([A-Za-z][\w!#$%&'*+.^`|~-]*)\s*(.*)$/s;
const param = /\s*([\w!#$%&'*+.^`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/gy;

export function parseAuthChallenge(header: string | undefined): AuthChallenge | null {
  if (header === undefined) return null;
  const head = schemeAndRest.exec(header);
  if (!head) return null;
  const params: Record<string, string> = {};
  param.lastIndex = 0;
  const rest = head[2];
  let match: RegExpExecArray | null;
  while (param.lastIndex < rest.length && (match = param.exec(rest)) !== null) {
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
    params[match[1].toLowerCase()] = value;
    if (match[0] === '') break;
  }
  return { scheme: head[1].toLowerCase(), params };
}
