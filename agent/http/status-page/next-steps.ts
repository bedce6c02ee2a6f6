// What a person on call can do about each reason code: the command to run on the host or the
// endpoint to call. Codes are the stable ones of lib/problem-codes.ts (docs/problem-codes.md).
import { codeFields, problemCodes, type CheckReasonCode, type CodeEntry } from '../../../lib/problem-codes.ts';
import { e } from './format.ts';

export interface PageContext {
  base: string; // http(s)://host:port the page was asked for, for copy-paste commands
}

const token = '"Authorization: Bearer $(sudo cat /etc/buildfleet-agent/token)"';

function cmd(text: string): string {
  return `<code class="cmd">${e(text)}</code>`;
}

export function nextStep(code: CheckReasonCode, ctx: PageContext): string {
  const post = (path: string) => cmd(`curl -X POST -H ${token} ${ctx.base}${path}`);
  if (code === 'cache-corrupt') {
    return `Move it aside: ${cmd('sudo buildfleet-agent cache quarantine')} on the host, or ${post('/v1/caches/quarantine')}. skopeo starts a fresh cache.`;
  }
  if (code === 'cache-corrupt-orphan')
    return `Not blocking: the installed skopeo no longer uses this format. Remove it when convenient: ${cmd('sudo buildfleet-agent cache quarantine PATH')}.`;
  if (code === 'cache-busy') return 'Nothing to do: a writer kept it busy; it is checked again on the next run.';
  if (code.startsWith('quarantine-'))
    return `See why the move did not happen: ${cmd('sudo buildfleet-agent cache quarantine --dry-run')}.`;
  if (code.startsWith('skopeo-'))
    return `Install a skopeo that meets the version policy (${cmd('skopeo --version')}; the policy is in the skopeo section below).`;
  if (code === 'disk-free-low' || code === 'disk-free-critical')
    return `Free space on that filesystem (${cmd('df -h PATH')}; e.g. ${cmd('podman system prune')}).`;
  if (code === 'disk-inodes-exhausted')
    return `Free inodes on that filesystem (${cmd('df -i PATH')}; many small files, e.g. old build trees).`;
  if (code.startsWith('disk-stat'))
    return `The filesystem does not answer (a hung network mount?): ${cmd('stat PATH')}, ${cmd('mount')}.`;
  if (code.startsWith('registry-'))
    return `Shared dependency: every host sees it, so this host only degrades. Check the registry: ${cmd('curl -v URL/v2/')}.`;
  if (code === 'not-yet-checked') return `Wait for the first run, or run the checks now: ${post('/v1/checks/run')}.`;
  if (code === 'maintenance')
    return `End maintenance: ${cmd(`curl -X DELETE -H ${token} ${ctx.base}/v1/maintenance`)}.`;
  if (code.startsWith('check-'))
    return `The check itself failed; see the agent's log: ${cmd('journalctl -u buildfleet-agent -n 50')}.`;
  return tableAction(code) ?? `See docs/problem-codes.md for ${cmd(code)}.`;
}

// The code's `action` from the table (the same words as docs/problem-codes.md), its `code`
// spans kept as code.
function tableAction(code: CheckReasonCode): string | undefined {
  for (const group of codeFields[0]) {
    const entry = (problemCodes[group] as Record<string, CodeEntry>)[code];
    if (entry) return e(entry.action).replace(/`([^`]+)`/g, '<code>$1</code>');
  }
  return undefined;
}
