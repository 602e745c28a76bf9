/**
 * Publishing a flow for a bot: validated and compiled off-thread, saved as the draft and published as
 * the next version, then the cached latest version is dropped here and other workers are told (a
 * failed broadcast only delays them to the cache TTL: the version is already committed).
 */
import type { Logger } from 'pino';
import { BotflowError } from '../errors.ts';
import type { FlowCompiler } from './compile-pool.ts';

export interface FlowPublisherOptions {
  compiler: Pick<FlowCompiler, 'check'>;
  /** Where flows are stored (db/flow-repository.ts). */
  flows: {
    saveDraft(flow: { id: string; botId: string; name: string; draft: unknown }): Promise<unknown>;
    publish(flowId: string, definition: unknown, compiledConfig: unknown): Promise<{ version: number }>;
  };
  /** Drops this process's cached latest version of the bot's flow. */
  invalidate(botId: string): void;
  /** Tells the other workers the bot's flow changed. */
  broadcast(botId: string): Promise<void>;
  logger: Logger;
}

/** Creates `publishFlow(botId, definition)`, which answers the new version. */
export function createFlowPublisher(
  options: FlowPublisherOptions,
): (botId: string, definition: unknown) => Promise<number> {
  const { compiler, flows, logger } = options;
  return async (botId, definition) => {
    const id = (definition as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') throw new BotflowError('INVALID_FLOW', 'the flow has no id');
    const compiled = await compiler.check(definition);
    await flows.saveDraft({ id, botId, name: compiled.flow.name ?? id, draft: definition });
    const published = await flows.publish(id, definition, compiled.config);
    options.invalidate(botId);
    await options.broadcast(botId).catch(() => {});
    logger.info({ bot_id: botId, flow_id: id, version: published.version }, 'flow published');
    return published.version;
  };
}
