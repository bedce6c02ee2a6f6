// The version policy: a recommended version (advice: a warning), and the operator's own fleet
// policy, a minimum version and ranges known to be bad (refuse). Pure; judged on the strict
// semver form from parse-version.ts. Only advice is on by default: a default that refused
// every host with an older skopeo would drain a whole CentOS 7 fleet on first install.
import semver from 'semver';

export interface SkopeoPolicy {
  minVersion: string | null; // below it: refuse; null: no minimum
  recommendedVersion?: string | null; // below it: a warning; null: no advice
  deny: string[];
}

export type SkopeoPolicyVerdict =
  | { satisfied: true; advice?: { code: 'skopeo-below-recommended'; message: string } }
  | { satisfied: false; code: 'skopeo-below-minimum' | 'skopeo-denied'; message: string };

// For the config loader: the problems with a policy, one message per bad value (empty: valid).
export function validateSkopeoPolicy(policy: SkopeoPolicy): string[] {
  const problems: string[] = [];
  if (policy.minVersion !== null && semver.coerce(policy.minVersion) === null)
    problems.push(`minVersion "${policy.minVersion}" is not a version`);
  if (policy.recommendedVersion && semver.coerce(policy.recommendedVersion) === null)
    problems.push(`recommendedVersion "${policy.recommendedVersion}" is not a version`);
  for (const range of policy.deny) {
    if (semver.validRange(range) === null) problems.push(`deny range "${range}" is not a semver range`);
  }
  return problems;
}

// Assumes a policy validateSkopeoPolicy accepted; an unusable minimum fails closed.
export function judgeSkopeoVersion(version: string, policy: SkopeoPolicy): SkopeoPolicyVerdict {
  // includePrerelease: a denied range such as `1.22.x` must also catch `1.22.1-dev`.
  const denied = policy.deny.find((range) => semver.satisfies(version, range, { includePrerelease: true }));
  if (denied !== undefined) {
    return {
      satisfied: false,
      code: 'skopeo-denied',
      message: `version ${version} is in the denied range "${denied}"`,
    };
  }
  if (policy.minVersion !== null) {
    const minimum = semver.valid(policy.minVersion) ?? semver.coerce(policy.minVersion)?.version ?? '999999.0.0';
    if (semver.lt(version, minimum)) {
      return {
        satisfied: false,
        code: 'skopeo-below-minimum',
        message: `version ${version} is below the minimum ${minimum}`,
      };
    }
  }
  const recommended = policy.recommendedVersion
    ? (semver.valid(policy.recommendedVersion) ?? semver.coerce(policy.recommendedVersion)?.version)
    : null;
  if (recommended && semver.lt(version, recommended)) {
    return {
      satisfied: true,
      advice: {
        code: 'skopeo-below-recommended',
        message: `version ${version} is below the recommended ${recommended} (the SQLite blob-info cache); builds go on`,
      },
    };
  }
  return { satisfied: true };
}
