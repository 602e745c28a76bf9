/** The streams and file access a CLI command uses, injectable so tests run commands in-process. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Lines typed by the user (interactive commands); undefined when there is no input. */
  stdin?: AsyncIterable<string>;
  /** Whether stdout is a terminal (colours, prompts). */
  isTTY: boolean;
  /** Environment variables (configuration). */
  env?: Record<string, string | undefined>;
  readFile(path: string): Promise<string>;
  writeFile(path: string, text: string): Promise<void>;
}
