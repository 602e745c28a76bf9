/**
 * Flow compilation for the runtime: validation and config building run in a piscina worker pool so a
 * 500-step publish never blocks conversations; compiled machines are cached per (flow, version),
 * which is safe because published versions are immutable.
 */
import { Piscina } from 'piscina';
import { BotflowError } from '../errors.ts';
import { buildMachine, type CompiledFlow } from '../flow/compile.ts';
import type { CompileTaskResult } from './compile-worker.ts';

/** Compiles flows off-thread and caches the machines. */
export interface FlowCompiler {
  /** Compiles (or returns the cached) machine of a flow version. Throws INVALID_FLOW when invalid. */
  compile(flowId: string, version: number, definition: unknown): Promise<CompiledFlow>;
  /** Validates and compiles without caching (a draft about to be published). Throws INVALID_FLOW. */
  check(definition: unknown): Promise<CompileTaskResult & { valid: true }>;
  close(): Promise<void>;
}

/** Creates a compiler backed by a pool of `threads` workers (default 1: publishes are rare). */
export function createFlowCompiler(options: { threads?: number } = {}): FlowCompiler {
  const pool = new Piscina({
    filename: new URL('./compile-worker.ts', import.meta.url).href,
    minThreads: 0,
    maxThreads: options.threads ?? 1,
    idleTimeout: 30_000,
  });
  const cache = new Map<string, Promise<CompiledFlow>>();
  async function run(definition: unknown, version: number, label: string) {
    const result = (await pool.run({ flow: definition, version })) as CompileTaskResult;
    if (!result.valid) {
      throw new BotflowError('INVALID_FLOW', `${label} is invalid`, { details: result.errors });
    }
    return result;
  }
  return {
    check: (definition) => run(definition, 0, 'the flow'),
    compile(flowId, version, definition) {
      const key = `${flowId}@${version}`;
      let entry = cache.get(key);
      if (entry === undefined) {
        entry = run(definition, version, `flow ${flowId} version ${version}`).then((result) => {
          const steps = new Map(result.flow.flow_steps.map((s) => [s.id, s]));
          const machine = buildMachine(result.config, result.delays);
          return { flow: result.flow, version, config: result.config, delays: result.delays, machine, steps };
        });
        entry.catch(() => cache.delete(key));
        cache.set(key, entry);
      }
      return entry;
    },
    close: () => pool.destroy(),
  };
}
