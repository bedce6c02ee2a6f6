// Parses the `listen` setting (":20580", "127.0.0.1:0", "[::1]:20580", "localhost:8080") into
// what net.Server#listen takes. An empty host means every interface, as Prometheus exporters do.

export interface ListenAddress {
  host: string | undefined; // undefined: all interfaces
  port: number;
}

export type ParsedListenAddress = { ok: true; address: ListenAddress } | { ok: false; error: string };

export function parseListenAddress(text: string): ParsedListenAddress {
  const bad = (why: string): ParsedListenAddress => ({
    ok: false,
    error: `listen address "${text}": ${why} (expected HOST:PORT, :PORT or [IPv6]:PORT)`,
  });
  const trimmed = text.trim();
  let host: string;
  let portText: string;
  if (trimmed.startsWith('[')) {
    const close = trimmed.indexOf(']');
    if (close < 0 || trimmed[close + 1] !== ':') return bad('unclosed IPv6 bracket or missing port');
    host = trimmed.slice(1, close);
    portText = trimmed.slice(close + 2);
  } else {
    const colon = trimmed.lastIndexOf(':');
    if (colon < 0) return bad('missing port');
    host = trimmed.slice(0, colon);
    portText = trimmed.slice(colon + 1);
    if (host.includes(':')) return bad('IPv6 hosts need brackets');
  }
  if (!/^\d{1,5}$/.test(portText)) return bad('port is not a number');
  const port = Number(portText);
  if (port > 65535) return bad('port is above 65535');
  if (/[\s/]/.test(host)) return bad('host contains spaces or slashes');
  return { ok: true, address: { host: host === '' ? undefined : host, port } };
}

// For logs and the status page: how a person would type the address back.
export function formatListenAddress(a: { host: string | undefined; port: number }): string {
  if (a.host === undefined) return `:${a.port}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
