// Bounded waiting for the end-to-end test: every wait on a real program (an agent's verdict, a
// Prometheus alert state) polls with a deadline, and a timeout says what was last seen, so a
// failure in CI explains itself instead of hanging until the runner's timeout.

export type Observation<T> = { done: true; value: T } | { done: false; seen: unknown };

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number; // default 200
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Calls `probe` until it reports done or the deadline passes. A probe that throws (a server not
// listening yet) counts as not done, with the error as what was seen.
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<Observation<T>>,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let seen: unknown;
  for (;;) {
    try {
      const observation = await probe();
      if (observation.done) return observation.value;
      seen = observation.seen;
    } catch (err) {
      seen = `probe failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(options.intervalMs ?? 200, Math.max(0, deadline - Date.now())));
  }
  const shown = typeof seen === 'string' ? seen : JSON.stringify(seen, null, 1);
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}; last seen: ${shown}`);
}
