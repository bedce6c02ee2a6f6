import { agentVersion } from '../version.ts';
import { exitCodes } from '../../lib/exit-codes.ts';

export const help = `Usage: buildfleet-agent version

Prints the agent version and the Node.js version it runs on. Exit code 0.`;

export async function run(_args: string[]): Promise<number> {
  process.stdout.write(`buildfleet-agent ${agentVersion}\nnode ${process.versions.node}\n`);
  return exitCodes.ok;
}
