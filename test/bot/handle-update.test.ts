import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createSql } from '../../src/db/sql-client.ts';
import { NOTICE_TEXTS } from '../../src/flow/collect-effects.ts';
import { hashId } from '../../src/flow/hash-id.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { startVipFunnel, type VipFunnel } from '../support/vip-funnel.ts';
import type { BotApis } from '../../src/bot/bot-apis.ts';
import { createUpdateHandler } from '../../src/bot/handle-update.ts';
import type { AccessGrantRecord, AccessRepository } from '../../src/db/access-repository.ts';
import { BotflowError } from '../../src/errors.ts';
import type { CompiledFlow } from '../../src/flow/compile.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Dispatch, DispatchResult } from '../../src/runtime/conversation-host.ts';
import { createMemoryTrackingStore } from '../../src/stores/tracking-store.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));

/** The VIP funnel with the offers' buttons and their conditions in reverse order. */
const reversedOffers = {
  ...vip,
  flow_steps: vip.flow_steps.map((step: { id: string; config: Record<string, unknown> }) =>
    step.id !== 'offers'
      ? step
      : {
          ...step,
          config: {
            ...step.config,
            custom_buttons: [...(step.config['custom_buttons'] as unknown[])].reverse(),
          },
          conditions: [...((step as { conditions?: unknown[] }).conditions ?? [])].reverse(),
        },
  ),
};

let h: VipFunnel;
before(async () => {
  h = await startVipFunnel(7500000001);
});
after(() => h.close());

const staleNotices = (userId: number) =>
  h.sentTo(userId, 'sendMessage').filter((c) => c.params['text'] === NOTICE_TEXTS.stale_button).length;
const payments = (userId: number) =>
  h.count('payments where bot_id = $1 and user_id = $2', [h.botId, String(userId)]);
const chargeEffects = (userId: number) =>
  h.count(`effects where bot_id = $1 and user_id = $2 and effect->>'type' = 'createCharge'`, [
    h.botId,
    String(userId),
  ]);

describe('a button press is resolved against the flow version it was rendered for', () => {
  it('a v1 offer pressed after the conversation moved to v2 is stale; the v2 button charges v2 price', async () => {
    const user = 880001;
    assert.equal((await h.say(user, '/start')).status, 200);
    assert.equal((await h.say(user, 'ana@example.com')).status, 200);
    await h.settle();
    const v1Mensal = encodeCallbackData({ version: 1, step: 'offers', index: 0 });

    const v2 = await h.app.publishFlow(h.botId, reversedOffers);
    assert.equal(v2, 2);
    assert.equal((await h.say(user, '/start')).status, 200);
    assert.equal((await h.say(user, 'ana@example.com')).status, 200);
    await h.settle();
    const offers = h
      .sentTo(user, 'sendMessage')
      .filter((c) => c.params['text'] === 'Escolha o seu plano:')
      .at(-1);
    const keyboard = (offers?.params['reply_markup'] as { inline_keyboard: Array<Array<{ text: string }>> })
      .inline_keyboard;
    assert.equal(keyboard[0]![0]!.text, 'VIP Vitalício', 'the buyer sees v2 offers');

    assert.equal((await h.press(user, v1Mensal)).status, 200);
    await h.settle();
    assert.equal(staleNotices(user), 1);
    assert.equal(await chargeEffects(user), 0);
    assert.equal(await payments(user), 0);
    assert.equal(h.sandbox.charges.size, 0);

    const v2First = encodeCallbackData({ version: v2, step: 'offers', index: 0 });
    assert.equal((await h.press(user, v2First)).status, 200);
    await h.settle();
    const rows = await createSql(h.app.db.orm)<{ amount_cents: number; description: string }>(
      'select amount_cents, description from payments where bot_id = $1 and user_id = $2',
      [h.botId, String(user)],
    );
    assert.deepEqual(
      rows.map((r) => [Number(r.amount_cents), r.description]),
      [[9700, 'Grupo VIP - vitalício']],
    );
  });

  it('forged or undecodable callbacks get 200 and the stale notice, and charge nothing', async () => {
    const user = 880002;
    assert.equal((await h.say(user, '/start')).status, 200);
    assert.equal((await h.say(user, 'bia@example.com')).status, 200);
    await h.settle();
    const offers = hashId('offers');
    const forged = [
      'c.zzzzzzz.0.0', // a version beyond any integer version
      `c.${(2 ** 31).toString(36)}.${offers}.0`,
      `c.z.${offers}.0`, // an unpublished version
      'c.0.0.0', // version 0 is never published
      'c.1.zzzzzz.0', // a step hash no step has
      `c.1.${offers}.zz`, // a button index the step does not have
      `c.1.${offers}.-1`,
      'buy_vip', // not ours
      'c.1',
    ];
    for (const [i, data] of forged.entries()) {
      const res = await h.press(user, data);
      assert.equal(res.status, 200, data);
      await h.settle();
      assert.equal(staleNotices(user), i + 1, `a stale notice for ${data}`);
    }
    assert.equal(await chargeEffects(user), 0);
    assert.equal(await payments(user), 0);
    const answered = h.fake.callsOf(h.token, 'answerCallbackQuery').filter((c) => c.status === 200);
    assert.ok(answered.length >= forged.length, 'every press is answered');
  });

  it('answers a press in the webhook 200 itself (a webhook reply), with no Bot API request of its own', async () => {
    const user = 880003;
    assert.equal((await h.say(user, '/start')).status, 200);
    assert.equal((await h.say(user, 'cai@example.com')).status, 200);
    await h.settle();
    const { version } = (await h.app.source.latest(h.botId))!;
    const res = await h.press(user, encodeCallbackData({ version, step: 'offers', index: 0 }));
    assert.equal(res.status, 200);
    const body = (await res.json()) as { method?: string; callback_query_id?: string };
    assert.equal(body.method, 'answerCallbackQuery');
    await h.settle();
    const answers = h.fake
      .callsOf(h.token, 'answerCallbackQuery')
      .filter((c) => c.params['callback_query_id'] === body.callback_query_id);
    assert.deepEqual(
      answers.map((c) => [c.via, c.status]),
      [['webhook_reply', 200]],
      'answered once, by the reply Telegram runs',
    );
    assert.equal(await payments(user), 1, 'the press itself was handled');
  });
});

describe('a button press is resolved against the flow it was rendered for', () => {
  let f: VipFunnel;
  before(async () => {
    f = await startVipFunnel(7500000002, { botId: 'twoflows' });
  });
  after(() => f.close());

  /** The callback data of the buttons of the last offers message the user got. */
  const offersKeyboard = (userId: number) => {
    const offers = f
      .sentTo(userId, 'sendMessage')
      .filter((c) => c.params['text'] === 'Escolha o seu plano:')
      .at(-1);
    const rows = (
      offers?.params['reply_markup'] as {
        inline_keyboard: Array<Array<{ text: string; callback_data: string }>>;
      }
    ).inline_keyboard;
    return rows.map((row) => row[0]!);
  };
  const chargesOf = async (userId: number) =>
    (
      await createSql(f.app.db.orm)<{ amount_cents: number; description: string }>(
        'select amount_cents, description from payments where bot_id = $1 and user_id = $2',
        [f.botId, String(userId)],
      )
    ).map((r) => [Number(r.amount_cents), r.description]);
  const staleTo = (userId: number) =>
    f.sentTo(userId, 'sendMessage').filter((c) => c.params['text'] === NOTICE_TEXTS.stale_button).length;

  it("flow X's v1 button is stale once the conversation moved to flow Y v1 (same step ids); Y's charges Y's price", async () => {
    const mover = 880101;
    const stayer = 880102;
    for (const user of [mover, stayer]) {
      assert.equal((await f.say(user, '/start')).status, 200);
      assert.equal((await f.say(user, `u${user}@example.com`)).status, 200);
    }
    await f.settle();
    const [xMensal] = offersKeyboard(mover);
    assert.equal(xMensal?.text, 'VIP Mensal');

    // Flow Y: another flow of the same bot, with X's step ids and the offers reversed.
    assert.equal(await f.app.publishFlow(f.botId, { ...reversedOffers, id: 'vip-reversed' }), 1);
    assert.equal((await f.say(mover, '/start')).status, 200);
    assert.equal((await f.say(mover, 'ana@example.com')).status, 200);
    await f.settle();
    const [yFirst] = offersKeyboard(mover);
    assert.equal(yFirst?.text, 'VIP Vitalício', 'the buyer sees flow Y offers');

    assert.equal((await f.press(mover, xMensal.callback_data)).status, 200);
    await f.settle();
    assert.equal(staleTo(mover), 1, 'the X button gets the stale notice');
    assert.deepEqual(await chargesOf(mover), [], 'and charges nothing');

    assert.equal((await f.press(mover, yFirst.callback_data)).status, 200);
    await f.settle();
    assert.deepEqual(await chargesOf(mover), [[9700, 'Grupo VIP - vitalício']]);

    // A buyer still on flow X (no /start since Y was published) keeps X's buttons and prices.
    const [stayerMensal] = offersKeyboard(stayer);
    assert.equal((await f.press(stayer, stayerMensal!.callback_data)).status, 200);
    await f.settle();
    assert.equal(staleTo(stayer), 0);
    assert.deepEqual(await chargesOf(stayer), [[2990, 'Grupo VIP - 30 dias']]);
  });
});

const CHAT = -1001234567890;
const LINK = 'https://t.me/+buyer-link';
const GRANT: AccessGrantRecord = {
  id: '1',
  orderId: 'o-7',
  botId: 'b',
  userId: '7',
  chatId: String(CHAT),
  inviteLink: LINK,
  linkName: 'bf-o7',
  status: 'granted',
  expiresAt: null,
  joinedAt: null,
};
const APPLIED: DispatchResult = {
  applied: true,
  effects: [],
  currentStep: null,
  status: 'waiting',
  flowVersion: 1,
  created: false,
  restarted: false,
};

/** The handler with recording stand-ins for its edges (the decisions under test are the handler's own). */
function setup(options: { dispatchFails?: boolean; answerFails?: boolean } = {}) {
  const dispatched: Dispatch[] = [];
  const calls: string[] = [];
  const joined: string[] = [];
  const access = {
    findByLink: async (_bot: string, link: string) => (link === LINK ? GRANT : null),
    findByLinkName: async (_bot: string, name: string) => (name === GRANT.linkName ? GRANT : null),
    markJoined: async (orderId: string) => {
      joined.push(orderId);
    },
  } as unknown as AccessRepository;
  const apis = {
    call: async (_bot: string, method: string) => {
      calls.push(method);
      if (options.answerFails) throw new BotflowError('UPSTREAM_FAILED', 'down');
      return true;
    },
  } as unknown as BotApis;
  const handle = createUpdateHandler({
    dispatch: async (input) => {
      if (options.dispatchFails) throw new BotflowError('STORE_UNAVAILABLE', 'store down');
      dispatched.push(input);
      return APPLIED;
    },
    flows: { latest: async () => ({}) as CompiledFlow, version: async () => null },
    tracking: createMemoryTrackingStore(),
    apis,
    access,
    pixelOf: async () => null,
    buyerOf: async () => null,
    linkUrl: (slug) => `https://example.com/${slug}`,
    trackingTtlSeconds: 60,
    now: () => 0,
    logger: createLogger({ level: 'silent' }),
  });
  return { handle, dispatched, calls, joined };
}

const person = (id: number) => ({ id, is_bot: false, first_name: 'T' });
const joinRequest = (userId: number, link: Record<string, unknown>) => ({
  update_id: 10,
  chat_join_request: {
    chat: { id: CHAT, type: 'supergroup' },
    from: person(userId),
    date: 1,
    invite_link: link,
  },
});
const memberJoined = (userId: number, link?: Record<string, unknown>) => ({
  update_id: 11,
  chat_member: {
    chat: { id: CHAT, type: 'supergroup' },
    from: person(userId),
    date: 1,
    old_chat_member: { status: 'left', user: person(userId) },
    new_chat_member: { status: 'member', user: person(userId) },
    ...(link === undefined ? {} : { invite_link: link }),
  },
});

describe('handleUpdate: join requests and joins commit effects, and call no Bot API', () => {
  it("commits the approval of the grant's buyer under the update's key, for the buyer's conversation", async () => {
    const { handle, dispatched, calls } = setup();
    await handle('b', joinRequest(7, { invite_link: LINK }));
    assert.deepEqual(dispatched, [
      {
        botId: 'b',
        userId: '7',
        inputKey: 'tg:b:10',
        effects: [{ type: 'approveJoin', chat_id: String(CHAT) }],
      },
    ]);
    assert.deepEqual(calls, []);
  });

  it('commits a decline for anyone else, the link matched by its name too (Telegram hides it)', async () => {
    const { handle, dispatched } = setup();
    await handle('b', joinRequest(8, { invite_link: 'https://t.me/+hid...', name: 'bf-o7' }));
    await handle('b', joinRequest(9, { invite_link: 'https://t.me/+not-ours' }));
    assert.deepEqual(
      dispatched.map((d) => [d.userId, d.event, d.effects]),
      [
        ['8', undefined, [{ type: 'declineJoin', chat_id: String(CHAT) }]],
        ['9', undefined, [{ type: 'declineJoin', chat_id: String(CHAT) }]],
      ],
    );
  });

  it('the buyer joining: their spent link is revoked (committed), then the join recorded', async () => {
    const { handle, dispatched, joined, calls } = setup();
    await handle('b', memberJoined(7, { invite_link: LINK }));
    assert.deepEqual(dispatched, [
      {
        botId: 'b',
        userId: '7',
        inputKey: 'tg:b:11',
        effects: [{ type: 'revokeInvite', chat_id: String(CHAT), invite_link: LINK }],
      },
    ]);
    assert.deepEqual(joined, ['o-7']);
    assert.deepEqual(calls, []);
  });

  it("someone else joining through the buyer's link: their removal is committed; no join recorded", async () => {
    const { handle, dispatched, joined } = setup();
    await handle('b', memberJoined(8, { invite_link: LINK }));
    assert.deepEqual(
      dispatched.map((d) => [d.userId, d.effects]),
      [['8', [{ type: 'removeMember', chat_id: String(CHAT) }]]],
    );
    assert.deepEqual(joined, []);
  });

  it('a join without one of our links commits nothing', async () => {
    const { handle, dispatched } = setup();
    await handle('b', memberJoined(8));
    await handle('b', memberJoined(8, { invite_link: 'https://t.me/+public' }));
    assert.deepEqual(dispatched, []);
  });

  it('a commit that fails fails the update (the webhook answers 5xx), recording no join', async () => {
    const { handle, joined } = setup({ dispatchFails: true });
    await assert.rejects(
      handle('b', memberJoined(7, { invite_link: LINK })),
      (e: unknown) => e instanceof BotflowError && e.code === 'STORE_UNAVAILABLE',
    );
    assert.deepEqual(joined, []);
  });
});

describe('handleUpdate: conversation input', () => {
  it('text goes to the conversation under the update key', async () => {
    const { handle, dispatched } = setup();
    await handle('b', {
      update_id: 12,
      message: { chat: { id: 7, type: 'private' }, from: person(7), date: 1, text: 'oi' },
    });
    assert.deepEqual(dispatched, [
      { botId: 'b', userId: '7', event: { type: 'text', text: 'oi' }, inputKey: 'tg:b:12' },
    ]);
  });

  it('a press is dispatched and its query answered; an unanswered query does not fail the update', async () => {
    const data = encodeCallbackData({ flow: 'f', version: 3, step: 's', index: 1 });
    for (const answerFails of [false, true]) {
      const { handle, dispatched, calls } = setup({ answerFails });
      await handle('b', {
        update_id: 13,
        callback_query: { id: 'q', from: person(7), chat_instance: 'x', data },
      });
      assert.equal(dispatched[0]!.event?.type, 'click');
      assert.deepEqual(calls, ['answerCallbackQuery']);
    }
  });

  it('a /start without a known click binds no tracking, in the same commit', async () => {
    const { handle, dispatched } = setup();
    await handle('b', {
      update_id: 14,
      message: { chat: { id: 7, type: 'private' }, from: person(7), date: 1, text: '/start zzz' },
    });
    assert.deepEqual(dispatched[0]!.records, [
      { kind: 'bindTracking', token: null, payload: null, fbclid: null },
    ]);
  });

  it('a body that is no update is a BAD_REQUEST', async () => {
    const { handle } = setup();
    await assert.rejects(
      handle('b', { nope: 1 }),
      (e: unknown) => e instanceof BotflowError && e.code === 'BAD_REQUEST',
    );
  });
});
