/**
 * Two bots on one Meta pixel, each with its own access token, over the whole stack (tracking links,
 * Telegram webhooks, the sandbox gateway, the outbox and the fake Graph API): every conversion event
 * is sent with the token of the bot that produced it, and none dies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSql } from '../../src/db/sql-client.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { buildConversionEvent, eventIdFor } from '../../src/tracking/conversion-event.ts';
import { quickBuyFlow } from '../support/funnel-harness.ts';
import { type Stack, startStack } from '../support/start-stack.ts';
import { waitFor } from '../support/wait-for.ts';
import { payBuyerCharge } from '../support/pay-buyer-charge.ts';

const PIXEL_ID = '555000555';
const BOTS = [
  { id: 'pxa', number: 7700000001, metaToken: 'meta-token-of-bot-a' },
  { id: 'pxb', number: 7700000002, metaToken: 'meta-token-of-bot-b' },
];

let stack: Stack;
const secrets = new Map<string, string>();
let updateId = 1;

before(async () => {
  const [a, b] = BOTS as [(typeof BOTS)[0], (typeof BOTS)[0]];
  stack = await startStack({
    botId: a.id,
    botNumber: a.number,
    username: 'pxa_test_bot',
    flow: quickBuyFlow,
    pixel: { pixel_id: PIXEL_ID, access_token: a.metaToken },
    graphTokens: [b.metaToken],
    adminToken: 'admin-token-for-shared-pixel-tests',
    config: { trustProxy: true },
  });
  const { app, fake, sandbox } = stack;
  const tokenB = `${b.number}:AAharness-token-for-the-fake-bot-api`;
  fake.addBot({ token: tokenB, id: b.number, username: 'pxb_test_bot' });
  await app.addBot({
    id: b.id,
    token: tokenB,
    gateway: { kind: 'sandbox', api_base: sandbox.url, api_key: 'k', webhook_secret: 'sandbox-secret' },
    pixel: { pixel_id: PIXEL_ID, access_token: b.metaToken },
  });
  await app.publishFlow(b.id, { ...quickBuyFlow, id: 'quick-buy-b' });
  for (const bot of BOTS) {
    secrets.set(bot.id, (await app.funnel.settingsOf(bot.id))!.webhookSecret);
    await app.funnel.links.add({ slug: `ads-${bot.id}`, botId: bot.id, campaign: 'shared' });
  }
});
after(() => stack.close());

const post = (botId: string, update: Record<string, unknown>) =>
  fetch(`${stack.app.url}/telegram/${botId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secrets.get(botId)! },
    body: JSON.stringify({ update_id: updateId++, ...update }),
  });
const from = (userId: number) => ({ id: userId, is_bot: false, first_name: 'Ana' });

/** An ad click, /start with its token, a buy and the payment: PageView, Lead, InitiateCheckout, Purchase. */
async function buyThroughAd(botId: string, userId: number): Promise<void> {
  const click = await fetch(`${stack.app.url}/r/ads-${botId}?fbclid=IwAR${userId}`, {
    redirect: 'manual',
    headers: { 'user-agent': 'Mozilla/5.0', 'x-forwarded-for': '203.0.113.9' },
  });
  assert.equal(click.status, 302);
  const token = new URL(click.headers.get('location')!).searchParams.get('start')!;
  const start = await post(botId, {
    message: {
      message_id: 1,
      date: 1,
      chat: { id: userId, type: 'private' },
      from: from(userId),
      text: `/start ${token}`,
    },
  });
  assert.equal(start.status, 200);
  const data = encodeCallbackData({ version: 1, step: 'offers', index: 0 });
  const buy = await post(botId, {
    callback_query: { id: `q${updateId}`, from: from(userId), chat_instance: 'x', data },
  });
  assert.equal(buy.status, 200);
  await stack.app.effects.idle();
  await payBuyerCharge(stack, botId, userId);
}

describe('bots sharing a Meta pixel', () => {
  it('send every conversion event with the token of the bot that produced it; none dies', async () => {
    for (const [i, bot] of BOTS.entries()) {
      await buyThroughAd(bot.id, 9_100_000 + i * 10);
      await buyThroughAd(bot.id, 9_100_001 + i * 10);
    }
    // A row queued before events recorded their bot: sent with the pixel's oldest bot's token.
    const legacyId = eventIdFor('Lead', 'legacy-row');
    const sql = createSql(stack.app.db.orm);
    await sql('insert into conversion_events (event_id, pixel_id, payload) values ($1, $2, $3)', [
      legacyId,
      PIXEL_ID,
      JSON.stringify(
        buildConversionEvent({
          name: 'Lead',
          eventId: legacyId,
          actionSource: 'chat',
          eventTime: Math.floor(Date.now() / 1000) - 5,
          telegramUserId: '42',
          click: { fbc: 'fb.1.1.abc', fbp: 'fb.1.1.123' },
        }),
      ),
    ]);

    await stack.app.effects.idle();
    await waitFor(
      'the conversions outbox to drain',
      async () => {
        await stack.app.runJobs();
        return (await stack.app.funnel.conversions.counts()).pending === 0;
      },
      15_000,
      20,
    );
    const rows = await sql<{
      event_id: string;
      bot_id: string | null;
      status: string;
      last_error: string | null;
    }>('select event_id, bot_id, status, last_error from conversion_events order by id');
    assert.deepEqual(
      rows.filter((r) => r.status !== 'sent'),
      [],
      'no event is dead or pending',
    );
    const names = (botId: string) =>
      rows
        .filter((r) => r.bot_id === botId)
        .map(
          (r) =>
            (stack.graph.events.get(PIXEL_ID) ?? []).find((e) => e['event_id'] === r.event_id)?.[
              'event_name'
            ],
        )
        .sort();
    for (const bot of BOTS) {
      assert.deepEqual(
        names(bot.id),
        [
          'InitiateCheckout',
          'InitiateCheckout',
          'Lead',
          'Lead',
          'PageView',
          'PageView',
          'Purchase',
          'Purchase',
        ],
        `bot ${bot.id} produced its own four events per buyer`,
      );
    }
    const tokenOf = new Map(BOTS.map((b) => [b.id, b.metaToken]));
    for (const row of rows) {
      const expected = row.bot_id === null ? BOTS[0]!.metaToken : tokenOf.get(row.bot_id);
      assert.equal(
        stack.graph.tokensByEvent.get(row.event_id),
        expected,
        `${row.bot_id ?? 'legacy'} ${row.event_id}`,
      );
    }
    assert.equal(rows.filter((r) => r.bot_id === null).length, 1);
  });
});
