// Which agents `fleet status` asks: HOST[:PORT] words from the command line, or a targets file
// that is either one host[:port] per line or a Prometheus file_sd document (JSON or YAML), so
// the very file Prometheus scrapes from can be handed to the CLI. Pure: the caller reads the file.
import { parse as parseYaml } from 'yaml';

export const defaultAgentPort = 20580;

export interface FleetTarget {
  host: string; // a name or an IP address; IPv6 without brackets
  port: number;
  address: string; // host:port as shown and written to file_sd ([v6]:port for IPv6)
  labels: Record<string, string>; // from a file_sd group; empty otherwise
}

export type TargetsResult = { ok: true; targets: FleetTarget[] } | { ok: false; errors: string[] };

const hostName = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const ipv6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

// One "host", "host:port", "[v6]" or "[v6]:port"; an http:// prefix (and a trailing /) is
// tolerated because people paste URLs. Anything else is a message naming the text.
export function parseTarget(text: string): { ok: true; target: FleetTarget } | { ok: false; error: string } {
  let rest = text.trim();
  const bad = (why: string) => ({ ok: false as const, error: `"${text}": ${why}` });
  if (/^https:\/\//i.test(rest))
    return bad('HTTPS agents are not supported by fleet status; give host[:port] of a plain-HTTP agent');
  rest = rest.replace(/^http:\/\//i, '').replace(/\/$/, '');
  if (rest === '') return bad('empty target');
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return bad('"[" without "]"');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return bad('expected ":PORT" after "]"');
    portText = after === '' ? undefined : after.slice(1);
    if (!ipv6.test(host) || !host.includes(':')) return bad('not an IPv6 address in brackets');
  } else {
    const colons = rest.split(':').length - 1;
    if (colons > 1) return bad('an IPv6 address needs brackets: [ADDRESS]:PORT');
    [host, portText] = colons === 1 ? (rest.split(':') as [string, string]) : [rest, undefined];
    if (!hostName.test(host)) return bad('not a host name or address');
  }
  let port = defaultAgentPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
      return bad('the port must be 1-65535');
    port = Number(portText);
  }
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { ok: true, target: { host, port, address, labels: {} } };
}

// Parses every text; collects every error rather than stopping at the first, so a long file
// is fixed in one go. The same address twice is kept once (first labels win).
export function parseTargetList(
  texts: { text: string; where: string; labels?: Record<string, string> }[],
): TargetsResult {
  const errors: string[] = [];
  const byAddress = new Map<string, FleetTarget>();
  for (const { text, where, labels } of texts) {
    const parsed = parseTarget(text);
    if (!parsed.ok) {
      errors.push(`${where}: ${parsed.error}`);
      continue;
    }
    if (!byAddress.has(parsed.target.address))
      byAddress.set(parsed.target.address, { ...parsed.target, labels: { ...(labels ?? {}) } });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, targets: [...byAddress.values()] };
}

// A targets file: file_sd (a JSON or YAML list of {targets, labels}) when it looks like one,
// else one host[:port] per line with # comments.
export function parseTargetsFile(content: string, fileName: string): TargetsResult {
  const trimmed = content.trim();
  const looksStructured = trimmed.startsWith('[') || trimmed.startsWith('-') || trimmed.startsWith('{');
  if (!looksStructured) return parseTargetList(linesOf(content, fileName));
  let doc: unknown;
  try {
    doc = parseYaml(content); // YAML is a superset of JSON: one parser for both file_sd flavours
  } catch (err) {
    return { ok: false, errors: [`${fileName}: not valid JSON or YAML: ${(err as Error).message.split('\n')[0]}`] };
  }
  return parseFileSd(doc, fileName);
}

function linesOf(content: string, fileName: string): { text: string; where: string }[] {
  return content.split('\n').flatMap((line, i) => {
    const text = line.replace(/#.*$/, '').trim();
    return text === '' ? [] : [{ text, where: `${fileName}:${i + 1}` }];
  });
}

// Prometheus' file_sd format: a list of groups, each with `targets` (strings) and optional
// `labels` (string values). Labels are kept so a written file_sd keeps the operator's site/pool.
export function parseFileSd(doc: unknown, fileName: string): TargetsResult {
  if (!Array.isArray(doc))
    return { ok: false, errors: [`${fileName}: a file_sd file is a list of {targets, labels} groups`] };
  const errors: string[] = [];
  const texts: { text: string; where: string; labels: Record<string, string> }[] = [];
  doc.forEach((group: unknown, i) => {
    const where = `${fileName}: group ${i + 1}`;
    if (typeof group !== 'object' || group === null || Array.isArray(group)) {
      errors.push(`${where}: not a {targets, labels} object`);
      return;
    }
    const { targets, labels, ...unknownKeys } = group as Record<string, unknown>;
    for (const key of Object.keys(unknownKeys)) errors.push(`${where}: unknown key "${key}"`);
    if (!Array.isArray(targets) || targets.some((t) => typeof t !== 'string')) {
      errors.push(`${where}: "targets" must be a list of host:port strings`);
      return;
    }
    const labelSet: Record<string, string> = {};
    if (labels !== undefined && labels !== null) {
      if (typeof labels !== 'object' || Array.isArray(labels)) {
        errors.push(`${where}: "labels" must be a map of names to strings`);
        return;
      }
      for (const [name, value] of Object.entries(labels)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
          errors.push(`${where}: label name "${name}" is not a Prometheus label name`);
        else if (typeof value !== 'string') errors.push(`${where}: label "${name}" must be a string`);
        else labelSet[name] = value;
      }
    }
    for (const t of targets as string[]) texts.push({ text: t, where, labels: labelSet });
  });
  if (errors.length > 0) return { ok: false, errors };
  return parseTargetList(texts);
}
