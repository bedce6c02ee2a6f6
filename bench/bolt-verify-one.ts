// One verification of one file, in its own process so its peak RSS is its own. Prints JSON.
import { verifyBoltFileSync } from '../checks/blobcache/bolt/verify-file.ts';

const path = process.argv[2];
const v = verifyBoltFileSync(path);
process.stdout.write(
  `${JSON.stringify({ verdict: v.verdict, keys: v.stats.keys, buckets: v.stats.buckets, durationMs: v.durationMs, maxRssKiB: process.resourceUsage().maxRSS })}\n`,
);
