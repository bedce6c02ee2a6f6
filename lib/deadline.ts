// Signals joined without AbortSignal.any, and a run's signal with a deadline of its own.
//
// Not AbortSignal.any: on Node 22 every call leaves bookkeeping behind that the garbage collector
// never takes back, even when both signals are short-lived (measured: 100 000 calls kept 12 MiB;
// this join keeps nothing; nodejs/node#54614 and #55328), and a check on a schedule of seconds
// turns that into a slow leak.

// Aborts `controller` when any of `signals` aborts (at once if one already has), with that
// signal's reason. Returns the function that stops listening; call it when the work is over.
export function abortWhenAny(controller: AbortController, signals: readonly (AbortSignal | undefined)[]): () => void {
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  const listeners = live.map((s) => {
    const onAbort = (): void => controller.abort(s.reason);
    if (s.aborted) onAbort();
    else s.addEventListener('abort', onAbort, { once: true });
    return onAbort;
  });
  return () => live.forEach((s, i) => s.removeEventListener('abort', listeners[i]));
}

// Settles with `value` once `signal` aborts: the other side of a Promise.race against work that
// may not watch the signal itself.
export function whenAborted<T>(signal: AbortSignal, value: T): Promise<T> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(value);
    else signal.addEventListener('abort', () => resolve(value), { once: true });
  });
}

// A check run's signal joined with a deadline of its own: aborted when the run is aborted or
// when `ms` have passed, whichever comes first.
// The timer is referenced, unlike AbortSignal.timeout: a one-shot `check` must wait for it.
export interface Deadline {
  signal: AbortSignal;
  expired(): boolean; // the deadline itself fired (not the run's abort)
  done(): void; // clears the timer and the listener on the run's signal
}

export function deadlineWithin(runSignal: AbortSignal, ms: number): Deadline {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new Error(`deadline of ${ms} ms passed`));
  }, ms);
  const release = abortWhenAny(controller, [runSignal]);
  return {
    signal: controller.signal,
    expired: () => expired,
    done: () => {
      clearTimeout(timer);
      release();
    },
  };
}
