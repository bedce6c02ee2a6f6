// Types for agent/runtime-requirements.mjs (plain JavaScript so Node 20 can run it).
export declare const minimumNodeVersion: string;
export interface RuntimeFacts {
  version: string;
  hasSqlite: boolean;
}
export declare function runtimeProblem(facts: RuntimeFacts): string | null;
export declare function currentRuntime(): RuntimeFacts;
