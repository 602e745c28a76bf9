#!/usr/bin/env node
// Runs the botflow CLI on the Node 22 pinned in devDependencies when the machine's own Node is older,
// so `npx botflow` behaves the same as the npm scripts. Signals are passed on, so stopping the shim
// stops (and drains) botflow, and its exit code is botflow's.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { clearInterval, setInterval } from 'node:timers';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN_MAJOR = 22;
const MIN_MINOR = 18;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'src', 'cli.ts');
const [major, minor] = process.versions.node.split('.').map(Number);
const modern = major > MIN_MAJOR || (major === MIN_MAJOR && minor >= MIN_MINOR);

// `npx botflow` runs this file under `sh -c`: a SIGTERM to npx kills that shell, never reaching us, and
// leaves us to init. Losing the parent is therefore taken as SIGTERM (drain and stop), like a signal.
const parent = process.ppid;
const watch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watch);
  process.kill(process.pid, 'SIGTERM');
}, 500);
watch.unref();

if (modern) {
  await import(cli);
} else {
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write(
      `botflow needs Node >= ${MIN_MAJOR}.${MIN_MINOR} (found ${process.version}); run \`npm ci\` first.\n`,
    );
    process.exit(2);
  }
  const child = spawn(pinned, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) =>
    process.exit(code ?? (signal === null ? 1 : 128 + (constants.signals[signal] ?? 0))),
  );
}
