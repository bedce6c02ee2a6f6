// The baseline of bench/http-load.ts: a bare node:http server that answers each path with
// bytes recorded from the agent (same status, headers and body), doing nothing else.
// Usage: node bench/bare-server.ts RECORDING.json   (prints {"port": N} on stdout when ready)
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

export interface RecordedResponse {
  path: string;
  status: number;
  headers: Record<string, string>; // as the agent sent them, minus Date and connection headers
  body: string;
}

const [file] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: node bench/bare-server.ts RECORDING.json\n');
  process.exit(2);
}
const recorded: RecordedResponse[] = JSON.parse(readFileSync(file, 'utf8'));
// Bodies as bytes, ready to send: the least work a server can do per request.
const byPath = new Map(recorded.map((r) => [r.path, { ...r, bytes: Buffer.from(r.body, 'utf8') }]));

const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
  const r = byPath.get(req.url ?? '/');
  if (r === undefined) {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.writeHead(r.status, r.headers);
  res.end(r.bytes);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
