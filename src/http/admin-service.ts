/**
 * Builds the admin API's `AdminService` from the running app's parts, so `bootstrap` only wires them:
 * bots (added through the registrar, forgotten by the funnel on removal), tracking links, refunds,
 * flows (draft, validate, publish) and a look at one conversation.
 */
import type { Polling } from '../bot/poll-updates.ts';
import type { BotRegistration } from '../bot/register-bot.ts';
import type { BotRepository } from '../db/bot-repository.ts';
import type { PostgresConversationStore } from '../db/conversation-store.ts';
import type { FlowRepository } from '../db/flow-repository.ts';
import type { PaymentRepository } from '../db/payment-repository.ts';
import type { TrackingLinkRepository } from '../db/tracking-link-repository.ts';
import { BotflowError } from '../errors.ts';
import { getCurrentStep } from '../flow/advance-conversation.ts';
import { validateFlow } from '../flow/validate.ts';
import type { PaymentService } from '../payments/payment-service.ts';
import type { AdminService } from './admin-routes.ts';

/** The parts of the funnel the admin service uses (declared here so http depends on no root file). */
export interface AdminFunnel {
  bots: BotRepository;
  links: TrackingLinkRepository;
  payments: Pick<PaymentRepository, 'list'>;
  paymentService: Pick<PaymentService, 'refund'>;
  forgetBot(botId: string): void;
}

/** Creates the service the admin router calls. */
export function createAdminService(deps: {
  addBot(bot: BotRegistration): Promise<unknown>;
  funnel: AdminFunnel;
  flows: FlowRepository;
  store: PostgresConversationStore;
  publishFlow(botId: string, definition: unknown): Promise<number>;
  polling(): Polling | undefined;
}): AdminService {
  const { funnel, flows, store } = deps;
  const bots = funnel.bots;
  return {
    async addBot({ join_requests: joinRequests, ...bot }) {
      const added = (await deps.addBot({
        ...bot,
        ...(joinRequests === undefined ? {} : { joinRequests }),
      })) as { warning?: string } | undefined;
      const record = (await bots.get(bot.id))!;
      return added?.warning === undefined ? record : { ...record, warning: added.warning };
    },
    addLink: (link) => funnel.links.add(link),
    listLinks: (botId) => funnel.links.list(botId),
    removeLink: (slug) => funnel.links.remove(slug),
    updateLink: (slug, change) => funnel.links.update(slug, change),
    refundPayment: (orderId, amount) => funnel.paymentService.refund(orderId, amount),
    async listPayments(filter) {
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      return (await funnel.payments.list(filter)).map((p) => ({
        order_id: p.orderId,
        user_id: p.userId,
        status: p.status,
        amount_cents: p.amountCents,
        description: p.description,
        gateway: p.gateway,
        gateway_charge_id: p.gatewayChargeId,
        flagged: p.flagged,
        tracking_source: (p.tracking as { source?: string } | null)?.source ?? null,
        access: p.accessStatus,
        created_at: iso(p.createdAt),
        paid_at: iso(p.paidAt),
        expires_at: iso(p.expiresAt),
      }));
    },
    listBots: () => bots.list(),
    async updateBot(id, { gateway, pixel, join_requests: joinRequests }) {
      const bot = await bots.update(id, {
        ...(gateway === undefined ? {} : { gateway }),
        ...(pixel === undefined ? {} : { pixel }),
        ...(joinRequests === undefined ? {} : { joinRequests }),
      });
      // This worker's cached settings and gateway client go now; other workers' within 5 s.
      if (bot !== null) funnel.forgetBot(id);
      return bot;
    },
    async removeBot(id) {
      funnel.forgetBot(id);
      const removed = await bots.remove(id);
      await deps.polling()?.refresh();
      return removed;
    },
    saveDraft: (flow) => flows.saveDraft(flow),
    getFlow: (id) => flows.getFlow(id),
    validate: (definition) => validateFlow(definition),
    async publish(flowId) {
      const flow = await flows.getFlow(flowId);
      if (flow === null) throw new BotflowError('NOT_FOUND', 'no such flow');
      await deps.publishFlow(flow.botId, flow.draft);
      return (await flows.listVersions(flowId)).at(-1)!;
    },
    listVersions: (flowId) => flows.listVersions(flowId),
    async inspectConversation(botId, userId) {
      if (!/^\d{1,19}$/.test(userId)) throw new BotflowError('BAD_REQUEST', 'a user id is numeric');
      const c = await store.load(botId, userId);
      if (c === null) return null;
      return {
        bot_id: botId,
        user_id: userId,
        flow_id: c.flowId,
        flow_version: c.flowVersion,
        current_step: getCurrentStep(c.snapshot.value, c.snapshot.context),
        row_version: c.rowVersion,
        timers: Object.entries(c.timers).map(([id, due]) => ({
          timer_id: id,
          due_at: new Date(due).toISOString(),
        })),
      };
    },
  };
}
