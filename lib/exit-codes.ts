// One table of exit codes for every verb and for the gate script (docs/conventions.md, "Exit
// codes"): a build script, a cron job or a CI step reads the same number the same way whichever
// of them it ran. Never "accept" for what was not verified: no answer is 4, never 0.
export const exitCodes = {
  ok: 0, // accept, healthy, valid, nothing left corrupt, clean stop
  refuse: 1, // the answer is no: refuse, corrupt, a quarantine refused or failed, could not serve
  usage: 2, // usage or config error: nothing was asked
  degraded: 3, // only shared dependencies fail (a registry): builds may go on with a warning
  noAnswer: 4, // could not ask: an agent unreachable or not an agent; a cache file unreadable or busy
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];
