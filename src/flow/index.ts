/** The pure core's public surface: validate, compile and run flows. No I/O. */
export { advanceConversation, startConversation } from './advance-conversation.ts';
export type { AdvanceResult, PersistedConversation } from './advance-conversation.ts';
export { collectEffects, resolvePrice } from './collect-effects.ts';
export { compileFlow } from './compile.ts';
export type { CompiledFlow, MachineJson } from './compile.ts';
export { emitMermaid } from './emit-mermaid.ts';
export { emitModule } from './emit-module.ts';
export { flowSetup, MAX_STEPS_PER_EVENT } from './machine-setup.ts';
export type { FlowContext } from './machine-setup.ts';
export { getFlowJsonSchema } from './schema.ts';
export type { Flow, Step } from './schema.ts';
export { createSimulator } from './simulator.ts';
export type { SimEvent, SimOutput, SimTranscript } from './simulator.ts';
export type { Effect, FlowEvent } from './types.ts';
export { validateFlow } from './validate.ts';
export type { FlowProblem, ValidationResult } from './validate.ts';
