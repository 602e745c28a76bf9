import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BotApis, createBotApis } from '../../src/bot/bot-apis.ts';
import { createUnblockOnBuyerInput } from '../../src/bot/unblock-on-buyer-input.ts';
import { BotflowError } from '../../src/errors.ts';
import type { FlowEvent } from '../../src/flow/types.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { createMemoryFloodGate } from '../../src/stores/flood-gate.ts';

const BOT = { id: 'ub', token: '7200000410:AAunblock', tid: 7200000410 };
const BUYER = 8801;

describe('the unblock rule (real Bot API clients, fake Bot API over HTTP)', () => {
  let fake: FakeBotApi;
  let apis: BotApis;
  before(async () => {
    fake = await startFakeBotApi();
    fake.addBot({ token: BOT.token, id: BOT.tid, username: 'ub_bot' });
    apis = createBotApis({
      apiRoot: fake.url,
      tokenOf: async (botId) => (botId === BOT.id ? BOT.token : null),
      floodGate: createMemoryFloodGate(),
    });
  });
  after(async () => {
    await apis.close();
    await fake.close();
  });

  const send = () => apis.call(BOT.id, 'sendMessage', { chat_id: BUYER, text: 'hi' });
  const sent = () => fake.callsOf(BOT.token, 'sendMessage').length;
  const observe = createUnblockOnBuyerInput({ unblock: (botId, userId) => apis.unblock(botId, userId) });
  const input = (event: FlowEvent) => ({ botId: BOT.id, userId: String(BUYER), event });

  it('keeps refusing a blocked buyer on inputs they did not cause, and writes again once they do', async () => {
    fake.setBlocked(BOT.token, BUYER, true);
    await assert.rejects(send(), (e) => e instanceof BotflowError && e.code === 'UPSTREAM_REJECTED');
    fake.setBlocked(BOT.token, BUYER, false);
    const before = sent();
    observe(input({ type: 'payment.paid', order: 'o1' } as FlowEvent));
    await assert.rejects(send(), (e) => e instanceof BotflowError && e.code === 'UPSTREAM_REJECTED');
    assert.equal(sent(), before, 'still remembered: nothing left botflow');
    observe(input({ type: 'text', text: 'oi' }));
    await send();
    assert.equal(sent(), before + 1);
  });
});
