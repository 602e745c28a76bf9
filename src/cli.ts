/** botflow's command-line entry point: wires the process's streams and files into `runCli`. */
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { runCli } from './cli/run-cli.ts';

/**
 * Lines typed on stdin, read only once a command iterates them (the interactive simulator): a readline
 * interface on a terminal puts it in raw mode and swallows Ctrl-C, so no other command may open one.
 */
async function* readTypedLines(): AsyncIterable<string> {
  if (!process.stdin.isTTY) {
    if (!process.stdin.readable) return;
    const lines = createInterface({ input: process.stdin });
    try {
      yield* lines;
    } finally {
      lines.close();
    }
    return;
  }
  const chat = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' });
  // Ctrl-C in the chat ends it like /quit (readline would otherwise only pause).
  chat.on('SIGINT', () => chat.close());
  try {
    chat.prompt();
    for await (const line of chat) {
      yield line;
      chat.prompt();
    }
  } finally {
    chat.close();
  }
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: readTypedLines(),
  isTTY: process.stdout.isTTY === true,
  env: process.env,
  readFile: (path) => readFile(path, 'utf8'),
  writeFile: (path, text) => writeFile(path, text, 'utf8'),
});
// A handle something leaked (a socket, a timer) must not keep a stopped server alive; a clean exit
// happens long before this unref'd timer fires. Only for `start`: other commands may still be
// writing their output to a slow reader (a pager).
if (process.argv[2] === 'start') setTimeout(() => process.exit(), 10_000).unref();
