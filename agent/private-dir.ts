// The state directory holds verdicts, maintenance notes and the audit log of quarantines: root's
// business only. The unit makes it 0700 (StateDirectoryMode=, UMask=0077), but the agent is also
// started by hand (`npm start`, `buildfleet-agent serve` under a umask of 022), so the modes are
// set here, whichever way it started.
import { chmodSync, mkdirSync, statSync } from 'node:fs';

export const privateDirMode = 0o700;
export const privateFileMode = 0o600;

// Creates `dir` (and missing parents) 0700. A directory that already exists with group or other
// bits, made by an older agent that created it 0755, is tightened, but only when this process
// owns it and it is not a shared sticky directory such as /tmp (a misconfigured stateDir must
// not change the mode of a directory the agent does not own).
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: privateDirMode });
  const st = statSync(dir);
  const ownedByUs = process.geteuid === undefined || st.uid === process.geteuid();
  if ((st.mode & 0o077) !== 0 && ownedByUs && (st.mode & 0o1000) === 0) chmodSync(dir, privateDirMode);
}
