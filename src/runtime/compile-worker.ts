/**
 * The piscina task that validates a flow and builds its machine config off the event loop (publish
 * time); the caller builds the machine object from the returned JSON (machines cannot cross threads).
 */
import { buildMachineConfig, type MachineJson } from '../flow/compile.ts';
import { type FlowProblem, validateFlow } from '../flow/validate.ts';
import type { Flow } from '../flow/schema.ts';

/** The outcome of one compile task: the machine config when valid, else every problem. */
export type CompileTaskResult =
  | { valid: true; flow: Flow; config: MachineJson; delays: Record<string, number>; warnings: FlowProblem[] }
  | { valid: false; errors: FlowProblem[]; warnings: FlowProblem[] };

/** Validates and compiles `{ flow, version }`. Never throws on input. */
export default function compileTask(task: { flow: unknown; version: number }): CompileTaskResult {
  const result = validateFlow(task.flow);
  if (!result.valid || result.flow === undefined) {
    return { valid: false, errors: result.errors, warnings: result.warnings };
  }
  const { config, delays } = buildMachineConfig(result.flow, task.version);
  return { valid: true, flow: result.flow, config, delays, warnings: result.warnings };
}
