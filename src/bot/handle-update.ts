/**
 * Turns one Telegram update into conversation input and answers it: a /start binds its ad click
 * (durably, in the same commit as the transition) and records a Lead; text and button presses go to
 * the conversation under the update's idempotency key; every callback query is answered (by webhook:
 * in the webhook's answer). A join request, or a join through one of botflow's invite links, is
 * judged by `decideAccess` and its answer (approve or decline, revoke the spent link, remove an
 * intruder) committed as effects of the joining user's conversation, which the effect runner
 * executes: no Bot API call of access is made here. Resolves once the result is committed, so the
 * webhook can answer 200 only then.
 */
import type { Logger } from 'pino';
import type { AccessGrantRecord, AccessRepository } from '../db/access-repository.ts';
import type { PixelSettings } from '../tracking/pixel-settings.ts';
import type { BuyerFacts } from '../flow/machine-setup.ts';
import type { FlowEvent } from '../flow/types.ts';
import type { Dispatch, DispatchResult } from '../runtime/conversation-host.ts';
import type { CommitRecord, FlowSource } from '../runtime/ports.ts';
import type { TrackingStore } from '../stores/tracking-store.ts';
import { buildConversionEvent, eventIdFor, pickActionSource } from '../tracking/conversion-event.ts';
import { pickUserData, sendsField } from '../tracking/pick-user-data.ts';
import type { BotApis } from './bot-apis.ts';
import { decodeCallbackData } from '../telegram/callback-data.ts';
import { decideAccess } from '../telegram/decide-access.ts';
import { mapUpdate, type MappedUpdate } from '../telegram/map-update.ts';
import { inputKeys } from '../runtime/input-keys.ts';

export interface UpdateHandlerOptions {
  dispatch(input: Dispatch): Promise<DispatchResult>;
  flows: FlowSource;
  tracking: TrackingStore;
  apis: BotApis;
  access: AccessRepository;
  pixelOf(botId: string): Promise<PixelSettings | null>;
  /** What the buyer told the bot so far (their committed conversation's `buyer`), for Meta's user_data. */
  buyerOf(botId: string, userId: string): Promise<BuyerFacts | null>;
  /** The public URL of a tracking link (a `website` event's page). */
  linkUrl(slug: string): string;
  trackingTtlSeconds: number;
  now(): number;
  logger: Logger;
}

/**
 * A Bot API call to answer a webhook POST with (Telegram runs the body of a 2xx answer that names a
 * `method`: one call per update, its outcome unreported), instead of a call of its own.
 */
export interface WebhookReply {
  method: 'answerCallbackQuery';
  callback_query_id: string;
}

/**
 * Handles one update of one bot. Throws coded errors: BAD_REQUEST for a body that is no update. With
 * `webhookReply` (the webhook route), a callback query's answer is returned for the HTTP answer's body
 * instead of being sent (one Bot API request less per press); otherwise (polling) it is sent here.
 */
export type UpdateHandler = (
  botId: string,
  update: unknown,
  options?: { webhookReply?: boolean },
) => Promise<WebhookReply | void>;

const TOKEN = /^[0-9a-f]{32}$/;

/** A press no step of any version has (`step: ''`): the flow answers it with the stale-button notice. */
const STALE_PRESS: FlowEvent = { type: 'click', step: '', index: 0 };

/** Creates the handler. */
export function createUpdateHandler(options: UpdateHandlerOptions): UpdateHandler {
  const { logger } = options;

  /**
   * The flow event of a button press: what its data names (flow and step tags, version, index), which
   * the conversation matches against its own flow version (`resolveClick`), so a button of another
   * flow or version is stale. Forged or undecodable data becomes the stale press, which the flow
   * answers with its notice; null only when the bot has no flow.
   */
  async function eventForCallback(botId: string, data: string): Promise<FlowEvent | null> {
    const decoded = decodeCallbackData(data);
    if (decoded?.kind === 'paid') return { type: 'payment.check' };
    if ((await options.flows.latest(botId)) === null) return null;
    if (decoded === null) return STALE_PRESS;
    const { flow, version, step, index } = decoded;
    return { type: 'click', step: '', index, callback: { flow, version, step } };
  }

  /** The grant an invite link was issued for, by the link itself or its name. */
  async function grantOf(
    botId: string,
    link: { inviteLink?: string; inviteLinkName?: string },
  ): Promise<AccessGrantRecord | null> {
    return (
      (link.inviteLink === undefined ? null : await options.access.findByLink(botId, link.inviteLink)) ??
      (link.inviteLinkName === undefined
        ? null
        : await options.access.findByLinkName(botId, link.inviteLinkName))
    );
  }

  /**
   * A join request, or a join: the decision's effects are committed with the joining user's
   * conversation (under the update's key: a redelivery commits nothing), then a buyer's join is recorded.
   */
  async function judgeEntry(
    botId: string,
    entry: Extract<MappedUpdate, { kind: 'join_request' | 'member_joined' }>,
    inputKey: string,
  ): Promise<void> {
    const grant = await grantOf(botId, entry);
    const decision = decideAccess({ kind: entry.kind, userId: entry.userId, chatId: entry.chatId, grant });
    // Not through one of botflow's links (an admin added them, a public link): not ours to judge.
    if (decision === null) return;
    if (decision.effects.length > 0)
      await options.dispatch({ botId, userId: entry.userId, inputKey, effects: decision.effects });
    if (decision.joinedOrder !== null) await options.access.markJoined(decision.joinedOrder);
    logger.info(
      {
        bot_id: botId,
        user_id: entry.userId,
        order_id: grant?.orderId ?? null,
        effects: decision.effects.map((e) => e.type),
      },
      entry.kind === 'join_request' ? 'join request answered' : 'join through an invite link judged',
    );
  }

  async function answerCallback(botId: string, id: string): Promise<void> {
    try {
      await options.apis.call(botId, 'answerCallbackQuery', { callback_query_id: id });
    } catch (error) {
      // The press is committed; an unanswered spinner is cosmetic and expires on its own.
      logger.warn({ bot_id: botId, code: (error as { code?: string }).code }, 'callback query not answered');
    }
  }

  /** The sender's names, when the bot's pixel sends fn or ln (only then are they kept). */
  function profileFor(
    pixel: PixelSettings | null,
    start: Extract<MappedUpdate, { kind: 'start' }>,
  ): { first_name?: string; last_name?: string } | undefined {
    if (pixel === null) return undefined;
    const profile = {
      ...(sendsField(pixel.user_data, 'fn') && start.firstName ? { first_name: start.firstName } : {}),
      ...(sendsField(pixel.user_data, 'ln') && start.lastName ? { last_name: start.lastName } : {}),
    };
    return Object.keys(profile).length === 0 ? undefined : profile;
  }

  async function startRecords(
    botId: string,
    userId: string,
    payload: string | undefined,
    pixel: PixelSettings | null,
    profile: BuyerFacts | undefined,
  ) {
    const records: CommitRecord[] = [];
    const click =
      payload !== undefined && TOKEN.test(payload) ? await options.tracking.getClick(payload) : null;
    if (click === null || click.bot_id !== botId) {
      records.push({ kind: 'bindTracking', token: null, payload: null, fbclid: null });
      return { records, token: null };
    }
    records.push({
      kind: 'bindTracking',
      token: payload!,
      payload: click as unknown as Record<string, unknown>,
      fbclid: click.fbclid ?? null,
    });
    if (pixel !== null) {
      const eventId = eventIdFor('Lead', `${botId}:${userId}:${payload}`);
      const buyer = await options.buyerOf(botId, userId).catch(() => null);
      records.push({
        kind: 'conversion',
        eventId,
        pixelId: pixel.pixel_id,
        payload: buildConversionEvent({
          name: 'Lead',
          eventId,
          eventTime: Math.floor(options.now() / 1000),
          ...pickActionSource(pixel.action_source, click, options.linkUrl),
          ...pickUserData(pixel.user_data, { ...buyer, ...profile }, userId),
          click,
        }),
      });
    }
    return { records, token: payload! };
  }

  return async (botId, update, channel) => {
    const { updateId, mapped } = mapUpdate(update);
    const inputKey = inputKeys.telegram(botId, updateId);
    switch (mapped.kind) {
      case 'start': {
        const pixel = await options.pixelOf(botId);
        const profile = profileFor(pixel, mapped);
        const { records, token } = await startRecords(botId, mapped.userId, mapped.payload, pixel, profile);
        const result = await options.dispatch({
          botId,
          userId: mapped.userId,
          event: profile === undefined ? { type: 'start' } : { type: 'start', profile },
          inputKey,
          records,
        });
        if (token !== null && result.applied) {
          // The durable binding is committed; the chat index is the fast path for resolution.
          await options.tracking
            .bindChat(botId, mapped.userId, token, options.trackingTtlSeconds)
            .catch((error: unknown) =>
              logger.warn(
                { bot_id: botId, code: (error as { code?: string }).code },
                'chat index not written',
              ),
            );
        }
        return;
      }
      case 'text':
        await options.dispatch({
          botId,
          userId: mapped.userId,
          event: { type: 'text', text: mapped.text },
          inputKey,
        });
        return;
      case 'callback': {
        const event = await eventForCallback(botId, mapped.data);
        if (event !== null) await options.dispatch({ botId, userId: mapped.userId, event, inputKey });
        // Answered after the commit either way, so a failed commit (5xx, redelivered) answers later.
        if (channel?.webhookReply === true)
          return { method: 'answerCallbackQuery', callback_query_id: mapped.callbackQueryId };
        await answerCallback(botId, mapped.callbackQueryId);
        return;
      }
      case 'join_request':
      case 'member_joined':
        await judgeEntry(botId, mapped, inputKey);
        return;
      case 'ignored':
        return;
    }
  };
}
