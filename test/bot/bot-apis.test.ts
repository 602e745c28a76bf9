import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BotApis, createBotApis } from '../../src/bot/bot-apis.ts';
import { BotflowError } from '../../src/errors.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { createMemoryFloodGate } from '../../src/stores/flood-gate.ts';

const BOTS = [1, 2, 3].map((k) => ({
  id: `ka-${k}`,
  token: `72000001${k}0:AAkeep-alive-${k}`,
  tid: Number(`72000001${k}0`),
}));

describe('Bot API clients over a keep-alive pool', () => {
  let fake: FakeBotApi;
  let apis: BotApis;
  before(async () => {
    fake = await startFakeBotApi();
    for (const bot of BOTS) fake.addBot({ token: bot.token, id: bot.tid, username: `${bot.id}_bot` });
    apis = createBotApis({
      apiRoot: fake.url,
      tokenOf: async (botId) => BOTS.find((b) => b.id === botId)?.token ?? null,
      floodGate: createMemoryFloodGate(),
    });
  });
  after(async () => {
    await apis.close();
    await fake.close();
  });

  it('sends many calls of several bots over a few reused connections', async () => {
    const before = fake.connections;
    const waves = 60;
    for (let wave = 0; wave < waves; wave++)
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          apis.call(BOTS[i % 3]!.id, 'sendMessage', { chat_id: 5000 + i, text: `w${wave}` }),
        ),
      );
    const opened = fake.connections - before;
    const answered = fake.calls.filter((c) => c.method === 'sendMessage' && c.status === 200).length;
    assert.equal(answered, waves * 8);
    // A connection freed as the next wave starts may not be picked again at once: at most twice the concurrency.
    assert.ok(opened >= 1 && opened <= 16, `${opened} connections for ${answered} calls`);
  });

  it('uploads a file as multipart through the same pool', async () => {
    const data = new Uint8Array(1500).fill(7);
    await apis.send(
      BOTS[0]!.id,
      { method: 'sendPhoto', params: { chat_id: 5100, caption: 'pix' } },
      { photo: { data, filename: 'pix.png' } },
    );
    const sent = fake.callsOf(BOTS[0]!.token, 'sendPhoto').at(-1)!;
    assert.equal(sent.status, 200);
    assert.deepEqual(sent.params['photo'], {
      filename: 'pix.png',
      size: 1500,
      mimeType: 'application/octet-stream',
    });
  });

  it('still sorts refusals and retries transient failures (auto-retry runs over the pool)', async () => {
    fake.injectError({ status: 502, method: 'sendMessage', token: BOTS[1]!.token, times: 1 });
    await apis.call(BOTS[1]!.id, 'sendMessage', { chat_id: 5200, text: 'after a 502' });
    const tries = fake.callsOf(BOTS[1]!.token, 'sendMessage').filter((c) => c.params['chat_id'] === 5200);
    assert.deepEqual(
      tries.map((c) => c.status),
      [502, 200],
    );
    fake.injectError({ status: 400, method: 'sendMessage', token: BOTS[1]!.token, times: 1 });
    await assert.rejects(
      apis.call(BOTS[1]!.id, 'sendMessage', { chat_id: 5201, text: 'refused' }),
      (e) =>
        e instanceof BotflowError && e.code === 'UPSTREAM_REJECTED' && !e.message.includes(BOTS[1]!.token),
    );
  });

  it('types each call by its method: parameters checked, the result typed, an unknown method refused', async () => {
    const link = await apis.call(BOTS[2]!.id, 'createChatInviteLink', { chat_id: -1005300, member_limit: 1 });
    assert.equal(typeof link.invite_link, 'string');
    assert.equal(link.member_limit, 1);
    await assert.rejects(
      // @ts-expect-error: a misspelt method does not compile
      apis.call(BOTS[2]!.id, 'sendMesage', { chat_id: 5300, text: 'typo' }),
      (e) => e instanceof BotflowError && e.code === 'UPSTREAM_REJECTED',
    );
  });

  it('shares a 429 through the flood gate: reported once, the bot held until retry_after, the call retried', async () => {
    const waits: Array<[string, number]> = [];
    const gate = createMemoryFloodGate();
    const gated = createBotApis({
      apiRoot: fake.url,
      tokenOf: async (botId) => BOTS.find((b) => b.id === botId)?.token ?? null,
      floodGate: gate,
      onFloodWait: (botId, seconds) => void waits.push([botId, seconds]),
    });
    try {
      fake.injectError({
        status: 429,
        retryAfter: 1,
        method: 'sendMessage',
        token: BOTS[0]!.token,
        times: 1,
      });
      const asked = Date.now();
      await gated.call(BOTS[0]!.id, 'sendMessage', { chat_id: 5400, text: 'after a 429' });
      assert.deepEqual(waits, [[BOTS[0]!.id, 1]]);
      assert.ok((await gate.until(BOTS[0]!.id)) >= asked + 1000, 'held for retry_after seconds');
      assert.equal(await gate.until(BOTS[1]!.id), 0, 'other bots are not held');
      const tries = fake.callsOf(BOTS[0]!.token, 'sendMessage').filter((c) => c.params['chat_id'] === 5400);
      assert.deepEqual(
        tries.map((c) => c.status),
        [429, 200],
      );
    } finally {
      await gated.close();
    }
  });

  it('refuses an unknown bot as NOT_FOUND without caching it, and reads a new token only once told to forget', async () => {
    const tokens = new Map<string, string>();
    const lookups: string[] = [];
    const late = createBotApis({
      apiRoot: fake.url,
      tokenOf: async (botId) => {
        lookups.push(botId);
        return tokens.get(botId) ?? null;
      },
      floodGate: createMemoryFloodGate(),
    });
    const send = (chatId: number) => late.call('late', 'sendMessage', { chat_id: chatId, text: 'hi' });
    const sentWith = (token: string, chatId: number) =>
      fake.callsOf(token, 'sendMessage').filter((c) => c.params['chat_id'] === chatId).length;
    try {
      await assert.rejects(send(5500), { code: 'NOT_FOUND' });
      tokens.set('late', BOTS[0]!.token);
      await send(5501);
      assert.equal(sentWith(BOTS[0]!.token, 5501), 1, 'registered since: found');
      tokens.set('late', BOTS[1]!.token);
      await send(5502);
      assert.equal(sentWith(BOTS[0]!.token, 5502), 1, 'the client is cached');
      late.forget('late');
      await send(5503);
      assert.equal(sentWith(BOTS[1]!.token, 5503), 1, 'forgotten: the new token');
      assert.deepEqual(lookups, ['late', 'late', 'late']);
    } finally {
      await late.close();
    }
  });
});
