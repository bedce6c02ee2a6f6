// Serialised /v1/preflight answers, reused for up to 100 ms while nothing they are made of has
// changed. Schedulers poll this endpoint hard; evaluating and serialising the check list costs
// more than sending it. An answer is reused only if every check state is the very same object
// (the runner replaces a state on every change, never mutates it) and maintenance is the same,
// so a new result or a maintenance change is visible at once; only `evaluatedAt` and
// `ageSeconds` may be up to maxAgeMs old.
import type { AgentCore, CheckState, Maintenance } from '../core-types.ts';

export interface PreflightAnswer {
  status: number;
  headers: Record<string, number>;
  body: Buffer;
}

interface Entry {
  at: number;
  states: CheckState[];
  maintenance: Maintenance | null;
  answer: PreflightAnswer;
}

export interface PreflightAnswers {
  // What the answer will depend on, taken before evaluating (a change during the evaluation
  // then makes the stored answer miss, never hit wrongly).
  snapshot(): { states: CheckState[]; maintenance: Maintenance | null };
  get(key: string): PreflightAnswer | null;
  put(key: string, basis: { states: CheckState[]; maintenance: Maintenance | null }, answer: PreflightAnswer): void;
}

const maxEntries = 32; // one per distinct ?checks= subset; bounded against clients varying it

export function createPreflightAnswers(
  core: AgentCore,
  maxAgeMs = 100,
  clock: () => number = Date.now,
): PreflightAnswers {
  const entries = new Map<string, Entry>();
  const snapshot = () => ({ states: core.states(), maintenance: core.maintenance() });
  return {
    snapshot,
    get(key) {
      if (maxAgeMs <= 0) return null;
      const e = entries.get(key);
      if (e === undefined || clock() - e.at >= maxAgeMs) return null;
      const now = snapshot();
      if (now.maintenance !== e.maintenance || now.states.length !== e.states.length) return null;
      for (let i = 0; i < now.states.length; i++) if (now.states[i] !== e.states[i]) return null;
      return e.answer;
    },
    put(key, basis, answer) {
      if (maxAgeMs <= 0) return;
      if (entries.size >= maxEntries && !entries.has(key)) entries.clear();
      entries.set(key, { at: clock(), states: basis.states, maintenance: basis.maintenance, answer });
    },
  };
}
