#!/usr/bin/env node
// Runs the botflow CLI on the Node 22 pinned in devDependencies when the machine's own Node is older,
// so `npx botflow` behaves the same as the npm scripts. Signals are passed on, so stopping the shim
// stops (and drains) botflow.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'src', 'cli.ts');
const [major, minor] = process.versions.node.split('.').map(Number);
const modern = major > 22 || (major === 22 && minor >= 18);

if (modern) {
  await import(cli);
} else {
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write(`botflow needs Node >= 22.18 (found ${process.version}); run \`npm ci\` first.\n`);
    process.exit(2);
  }
  const child = spawn(pinned, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
}
