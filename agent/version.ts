// The agent's own version, read once from package.json (the bundle inlines it).
import pkg from '../package.json' with { type: 'json' };

export const agentVersion: string = pkg.version;
