/** botflow's command-line entry point: wires the process's streams and files into `runCli`. */
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { runCli } from './cli/run-cli.ts';

const lines =
  process.stdin.isTTY || !process.stdin.readable ? undefined : createInterface({ input: process.stdin });
const interactive = process.stdin.isTTY
  ? createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' })
  : undefined;

async function* typed(): AsyncIterable<string> {
  if (interactive !== undefined) {
    interactive.prompt();
    for await (const line of interactive) {
      yield line;
      interactive.prompt();
    }
  } else if (lines !== undefined) {
    yield* lines;
  }
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: typed(),
  isTTY: process.stdout.isTTY === true,
  env: process.env,
  readFile: (path) => readFile(path, 'utf8'),
  writeFile: (path, text) => writeFile(path, text, 'utf8'),
});
interactive?.close();
lines?.close();
// A handle something leaked (a socket, a timer) must not keep a stopped server alive; a clean exit
// happens long before this unref'd timer fires. Only for `start`: other commands may still be
// writing their output to a slow reader (a pager).
if (process.argv[2] === 'start') setTimeout(() => process.exit(), 10_000).unref();
