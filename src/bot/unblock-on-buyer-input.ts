/**
 * The unblock rule: a buyer who blocked the bot is written to again once they write to it (or press a
 * button) again. Only inputs the buyer causes count: a timer or a payment says nothing about a block.
 */
import type { FlowEvent } from '../flow/types.ts';
import type { BotApis } from './bot-apis.ts';

/** Events only the buyer can cause (a blocked bot receives nothing from its buyer). */
const BUYER_EVENTS: ReadonlySet<string> = new Set(['start', 'text', 'click', 'payment.check']);

/** Creates the conversation host's input observer that applies the rule. */
export function createUnblockOnBuyerInput(
  apis: Pick<BotApis, 'unblock'>,
): (input: { botId: string; userId: string; event?: FlowEvent }) => void {
  return (input) => {
    if (input.event !== undefined && BUYER_EVENTS.has(input.event.type))
      apis.unblock(input.botId, input.userId);
  };
}
