#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startSimulator } from './server';

/** `wa-simulator [--port N] [--host H]`: one JSON line when ready, then one per action; exits 0 on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`wa-simulator: --port must be an integer from 0 to 65535, got ${values.port}\n`);
    process.exit(2);
  }
  const simulator = await startSimulator({ port, host: values.host, quiet: false });
  process.stdout.write(
    JSON.stringify({ port: simulator.port, controlUrl: simulator.controlUrl, chromiumArgs: simulator.chromiumArgs() }) + '\n',
  );
  const shutdown = () => {
    simulator.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`wa-simulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof TypeError ? 2 : 1);
});
