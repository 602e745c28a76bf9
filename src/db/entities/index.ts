/** Every botflow entity, in one list for the ORM configuration. */
import { AccessGrant } from './access-grant.ts';
import { Bot } from './bot.ts';
import { BotUser } from './bot-user.ts';
import { ConversionEvent } from './conversion-event.ts';
import { Conversation } from './conversation.ts';
import { Effect } from './effect.ts';
import { Flow } from './flow.ts';
import { FlowVersion } from './flow-version.ts';
import { Payment } from './payment.ts';
import { TrackingLink } from './tracking-link.ts';
import { ProcessedInput } from './processed-input.ts';
import { ShardEpoch } from './shard-epoch.ts';
import { StepCount } from './step-count.ts';
import { Timer } from './timer.ts';

export {
  AccessGrant,
  Bot,
  BotUser,
  ConversionEvent,
  Conversation,
  Effect,
  Flow,
  FlowVersion,
  Payment,
  ProcessedInput,
  ShardEpoch,
  StepCount,
  Timer,
  TrackingLink,
};

/** The entity list passed to MikroORM. */
export const ENTITIES = [
  Bot,
  Flow,
  FlowVersion,
  BotUser,
  Conversation,
  Timer,
  Effect,
  ProcessedInput,
  ShardEpoch,
  StepCount,
  Payment,
  AccessGrant,
  ConversionEvent,
  TrackingLink,
];
