// The details every check may hand back, one typed shape per check, told apart by `kind`. The
// runner, admission, metrics, the state file, /v1/preflight and the status page all read these
// types; nothing downstream guesses a shape. (Only the state file's loader parses untrusted
// JSON into them: agent/restore-details.ts.)
import type { SkopeoCheckDetails } from './skopeo.ts';
import type { DiskCheckDetails } from './disk.ts';
import type { RegistryCheckDetails } from './registry.ts';
import type { BlobCacheDetails } from './blobcache/check.ts';

// A check that never ran, or whose run failed (timeout, thrown error) has no facts: `{}`.
export interface NoDetails {
  kind?: undefined;
}

export type CheckDetails = SkopeoCheckDetails | DiskCheckDetails | RegistryCheckDetails | BlobCacheDetails | NoDetails;

export type CheckDetailsKind = NonNullable<CheckDetails['kind']>;

export const noDetails: NoDetails = Object.freeze({});
