import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Api, Bot, GrammyError, InputFile } from 'grammy';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';

let nextBot = 1;
/** A fresh bot on the fake, so tests do not share state. */
function addBot(fake: FakeBotApi) {
  const id = 7_000_000 + nextBot++;
  const token = `${id}:AAFakeTokenForTests_${id}`;
  fake.addBot({ token, id, username: `test${id}_bot` });
  return { token, id, api: new Api(token, { apiRoot: fake.url }) };
}

interface Received {
  update: Record<string, unknown>;
  secret: string | undefined;
  start: number;
  end: number;
}

/** A webhook receiver on loopback; `answer` decides the status (and may be slow). */
async function startReceiver(
  answer: (update: Record<string, unknown>, n: number) => Promise<number> | number,
) {
  const received: Received[] = [];
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const update = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const entry: Received = {
        update,
        secret: req.headers['x-telegram-bot-api-secret-token'] as string | undefined,
        start: performance.now(),
        end: 0,
      };
      void Promise.resolve(answer(update, ++n)).then((status) => {
        entry.end = performance.now();
        received.push(entry);
        res.writeHead(status).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // a request the fake timed out may still be in the handler
      }),
  };
}

const message = (chatId: number, text: string) => ({
  message: { message_id: 1, date: 1, chat: { id: chatId, type: 'private' }, from: { id: chatId }, text },
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fake Bot API (real HTTP)', () => {
  let fake: FakeBotApi;
  before(async () => {
    fake = await startFakeBotApi({ retryBaseMs: 20, webhookTimeoutMs: 300, maxAttempts: 3 });
  });
  after(() => fake.close());

  it('answers an unknown token with 401 and an unknown method with 404, in Telegram shape', async () => {
    const res = await fetch(`${fake.url}/bot123:nope/getMe`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { ok: false, error_code: 401, description: 'Unauthorized' });
    const { token } = addBot(fake);
    const missing = await fetch(`${fake.url}/bot${token}/sendTelepathy`, { method: 'POST' });
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { ok: false, error_code: 404, description: 'Not Found' });
    assert.equal(fake.calls.find((c) => c.token === '123:nope')?.status, 401);
  });

  it('getMe and sendMessage through grammY: message ids grow per chat and calls are recorded', async () => {
    const { api, token, id } = addBot(fake);
    const me = await api.getMe();
    assert.equal(me.id, id);
    assert.equal(me.is_bot, true);
    const first = await api.sendMessage(42, 'hello', {
      reply_markup: { inline_keyboard: [[{ text: 'Buy', callback_data: 'buy:1' }]] },
    });
    const second = await api.sendMessage(42, 'again');
    const other = await api.sendMessage(43, 'other chat');
    assert.deepEqual([first.message_id, second.message_id, other.message_id], [1, 2, 1]);
    assert.deepEqual(first.chat, { id: 42, type: 'private' });
    assert.equal(first.text, 'hello');
    assert.deepEqual(first.reply_markup, { inline_keyboard: [[{ text: 'Buy', callback_data: 'buy:1' }]] });
    const sent = fake.callsOf(token, 'sendMessage');
    assert.equal(sent.length, 3);
    assert.equal(sent[0]?.params['text'], 'hello');
    assert.equal(sent[0]?.status, 200);
  });

  it('rejects empty text, bad chat ids and long captions with 400 in Telegram shape', async () => {
    const { token, api } = addBot(fake);
    const res = await fetch(`${fake.url}/bot${token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: 42, text: '   ' }),
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      ok: false,
      error_code: 400,
      description: 'Bad Request: message text is empty',
    });
    await assert.rejects(api.sendMessage('not-a-chat', 'hi'), { description: 'Bad Request: chat not found' });
    await assert.rejects(api.sendMessage(42, 'x'.repeat(4097)), {
      description: 'Bad Request: message is too long',
    });
    await assert.rejects(api.sendPhoto(42, 'AgACfileid', { caption: 'c'.repeat(1025) }), {
      description: 'Bad Request: message caption is too long',
    });
    assert.equal(fake.callsOf(token, 'sendMessage')[0]?.status, 400);
  });

  it('limits callback_data to 64 UTF-8 bytes', async () => {
    const { api } = addBot(fake);
    const fits = 'é'.repeat(32); // 64 bytes
    const ok = await api.sendMessage(1, 'pick', {
      reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: fits }]] },
    });
    assert.equal(ok.message_id, 1);
    const error = await api
      .sendMessage(1, 'pick', {
        reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: `a${fits}` }]] },
      })
      .catch((e: unknown) => e);
    assert.ok(error instanceof GrammyError);
    assert.equal(error.error_code, 400);
    assert.equal(error.description, 'Bad Request: BUTTON_DATA_INVALID');
  });

  it('accepts multipart uploads from grammY (attach://) and from a standard FormData', async () => {
    const { api, token } = addBot(fake);
    const photo = await api.sendPhoto(5, new InputFile(Buffer.from('fake-png-bytes'), 'cat.png'), {
      caption: 'a cat',
      reply_markup: { inline_keyboard: [[{ text: 'More', callback_data: 'more' }]] },
    });
    assert.equal(photo.caption, 'a cat');
    assert.ok(photo.photo?.[0]?.file_id);
    assert.deepEqual(photo.reply_markup?.inline_keyboard[0]?.[0], { text: 'More', callback_data: 'more' });
    const recorded = fake.callsOf(token, 'sendPhoto')[0]?.params;
    assert.deepEqual(recorded?.['photo'], {
      filename: 'cat.png',
      size: 14,
      mimeType: 'application/octet-stream',
    });
    assert.equal(recorded?.['chat_id'], '5');

    const form = new FormData();
    form.set('chat_id', '5');
    form.set('document', new Blob(['%PDF-1.4'], { type: 'application/pdf' }), 'offer.pdf');
    const res = await fetch(`${fake.url}/bot${token}/sendDocument`, { method: 'POST', body: form });
    const body = (await res.json()) as { ok: boolean; result: { document: { file_size: number } } };
    assert.equal(body.ok, true);
    assert.equal(body.result.document.file_size, 8);
    await assert.rejects(api.sendVideo(5, ''), {
      description: 'Bad Request: there is no video in the request',
    });
  });

  it('surfaces an injected 429 as a GrammyError with retry_after, then answers normally', async () => {
    const { api, token } = addBot(fake);
    fake.injectError({ status: 429, retryAfter: 3, method: 'sendMessage', token });
    await api.getMe(); // another method is not affected
    const error = await api.sendMessage(1, 'hi').catch((e: unknown) => e);
    assert.ok(error instanceof GrammyError);
    assert.equal(error.error_code, 429);
    assert.equal(error.parameters.retry_after, 3);
    assert.equal(error.description, 'Too Many Requests: retry after 3');
    assert.equal((await api.sendMessage(1, 'hi')).text, 'hi');
    assert.deepEqual(
      fake.callsOf(token, 'sendMessage').map((c) => c.status),
      [429, 200],
    );
  });

  it('creates, limits and revokes invite links; join and ban methods need chat_id and user_id', async () => {
    const { api } = addBot(fake);
    const link = await api.createChatInviteLink(-1001234, { name: 'order-77', creates_join_request: true });
    assert.match(link.invite_link, /^https:\/\/t\.me\/\+[\w-]+$/);
    assert.equal(link.creates_join_request, true);
    assert.equal(link.is_revoked, false);
    await assert.rejects(
      api.createChatInviteLink(-1001234, { member_limit: 1, creates_join_request: true }),
      {
        error_code: 400,
      },
    );
    await assert.rejects(api.createChatInviteLink(-1001234, { name: 'n'.repeat(33) }), { error_code: 400 });
    assert.equal((await api.revokeChatInviteLink(-1001234, link.invite_link)).is_revoked, true);
    assert.equal(await api.approveChatJoinRequest(-1001234, 99), true);
    assert.equal(await api.banChatMember(-1001234, 99), true);
    await assert.rejects(api.unbanChatMember(-1001234, 0), { error_code: 400 });
  });

  it('getUpdates returns pushed updates, confirms by offset, and long-polls until a push', async () => {
    const { api, token } = addBot(fake);
    const a = fake.pushUpdate(token, message(1, 'a'));
    const b = fake.pushUpdate(token, message(1, 'b'));
    assert.equal(b, a + 1);
    assert.deepEqual(
      (await api.getUpdates()).map((u) => u.update_id),
      [a, b],
    );
    assert.deepEqual(
      (await api.getUpdates({ offset: b })).map((u) => u.update_id),
      [b],
    );
    // A 50 s long poll: it can only answer within the 20 s race below if the push wakes it.
    const polling = api.getUpdates({ offset: b + 1, timeout: 50 });
    await sleep(50);
    const c = fake.pushUpdate(token, message(1, 'c'));
    const polled = await Promise.race([polling, delay(20_000, 'still waiting' as const, { ref: false })]);
    assert.notEqual(polled, 'still waiting', 'the push woke the long poll');
    assert.deepEqual(
      (polled as Awaited<typeof polling>).map((u) => u.update_id),
      [c],
    );
    await fake.settled();
  });

  it('answers the older of two concurrent long polls with 409, like two running bot instances', async () => {
    const { api } = addBot(fake);
    const older = api.getUpdates({ timeout: 30 }).catch((e: unknown) => e);
    await sleep(30);
    assert.deepEqual(await api.getUpdates({ timeout: 0 }), []);
    const error = await older;
    assert.ok(error instanceof GrammyError);
    assert.equal(error.error_code, 409);
    assert.match(error.description, /terminated by other getUpdates request/);
  });

  it('serves a polling grammY Bot: /start payload in, reply out, chat_member filtered, clean stop', async () => {
    const { token } = addBot(fake);
    const bot = new Bot(token, { client: { apiRoot: fake.url } });
    const seen: string[] = [];
    bot.command('start', (ctx) => ctx.reply(`payload=${ctx.match}`));
    bot.on('chat_member', () => void seen.push('chat_member'));
    void bot.start();
    while (fake.callsOf(token, 'getUpdates').length === 0) await sleep(5); // the long poll is waiting
    const from = { id: 5, is_bot: false, first_name: 'U' };
    fake.pushUpdate(token, {
      chat_member: {
        chat: { id: -100, type: 'supergroup' },
        from,
        date: 1,
        old_chat_member: {},
        new_chat_member: {},
      },
    });
    fake.pushUpdate(token, {
      message: {
        ...message(5, '/start ref_abc-123').message,
        entities: [{ type: 'bot_command', offset: 0, length: 6 }],
      },
    });
    await fake.settled();
    while (fake.callsOf(token, 'sendMessage').length === 0) await sleep(5);
    await bot.stop();
    assert.equal(fake.callsOf(token, 'sendMessage')[0]?.params['text'], 'payload=ref_abc-123');
    assert.deepEqual(
      seen,
      [],
      'grammY polls with allowed_updates [], which excludes chat_member like Telegram',
    );
    await sleep(40);
    assert.ok(
      fake.callsOf(token).every((c) => c.status === 200),
      'the long poll aborted by bot.stop() is not a conflict',
    );
  });

  it('pushes to the webhook with the secret header, and getUpdates conflicts while it is set', async () => {
    const receiver = await startReceiver(() => 200);
    const { api, token } = addBot(fake);
    await assert.rejects(api.setWebhook(receiver.url, { secret_token: 'has space' }), {
      description: 'Bad Request: secret token contains unallowed characters',
    });
    assert.equal(await api.setWebhook(receiver.url, { secret_token: 's3cr3t_-X' }), true);
    const id = fake.pushUpdate(token, message(9, 'hi'));
    await fake.settled();
    assert.equal(receiver.received[0]?.update['update_id'], id);
    assert.equal(receiver.received[0]?.secret, 's3cr3t_-X');
    const { ms, ...delivery } = fake.deliveries.filter((d) => d.token === token)[0]!;
    assert.deepEqual(delivery, { token, update_id: id, status: 200, attempt: 1 });
    assert.ok(ms > 0 && ms < 10_000, `the POST's round trip is measured: ${ms} ms`);
    const conflict = await api.getUpdates().catch((e: unknown) => e);
    assert.ok(conflict instanceof GrammyError);
    assert.equal(conflict.error_code, 409);
    assert.equal((await api.getWebhookInfo()).pending_update_count, 0);
    await receiver.close();
  });

  it("runs a webhook's 2xx answer naming a method as that call (a webhook reply), as Telegram does", async () => {
    const { api, token } = addBot(fake);
    const answers = [
      '{"method":"answerCallbackQuery","callback_query_id":"q7_1"}',
      '{}',
      'not json',
      '{"method":"answerCallbackQuery","callback_query_id":"q7_2"}',
    ];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(answers.shift()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await api.setWebhook(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
    for (let i = 0; i < 3; i++) fake.pushUpdate(token, message(7, `m${i}`));
    await fake.settled();
    await sleep(20);
    const run = (c: { params: Record<string, unknown>; via?: string; status: number }) => [
      c.params['callback_query_id'],
      c.via,
      c.status,
    ];
    assert.deepEqual(fake.callsOf(token, 'answerCallbackQuery').map(run), [['q7_1', 'webhook_reply', 200]]);
    // A driver posting updates itself hands the answer's body over the same way.
    assert.equal(fake.runWebhookReply(token, answers.shift()!), true);
    assert.equal(fake.runWebhookReply(token, '{"ok":true}'), false);
    assert.equal(fake.runWebhookReply('123:unknown', '{"method":"getMe"}'), false);
    await sleep(20);
    assert.deepEqual(fake.callsOf(token, 'answerCallbackQuery').map(run), [
      ['q7_1', 'webhook_reply', 200],
      ['q7_2', 'webhook_reply', 200],
    ]);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  it('retries a failing receiver with backoff: 500 twice, then delivered on attempt 3', async () => {
    const receiver = await startReceiver((_u, n) => (n <= 2 ? 500 : 200));
    const { api, token } = addBot(fake);
    await api.setWebhook(receiver.url);
    const id = fake.pushUpdate(token, message(3, 'retry me'));
    await fake.settled();
    assert.deepEqual(
      fake.deliveries.filter((d) => d.token === token).map((d) => [d.update_id, d.status, d.attempt]),
      [
        [id, 500, 1],
        [id, 500, 2],
        [id, 200, 3],
      ],
    );
    assert.equal(receiver.received.length, 3);
    assert.match((await api.getWebhookInfo()).last_error_message ?? '', /500/);
    await receiver.close();
  });

  it('gives up after maxAttempts, counting timeouts, and moves on to the next update of the chat', async () => {
    const receiver = await startReceiver(async (u) => {
      if ((u['message'] as { text: string }).text === 'slow') await sleep(400); // beyond the 300 ms timeout
      return 200;
    });
    const { api, token } = addBot(fake);
    await api.setWebhook(receiver.url);
    const slow = fake.pushUpdate(token, message(4, 'slow'));
    const next = fake.pushUpdate(token, message(4, 'next'));
    await fake.settled();
    const mine = fake.deliveries.filter((d) => d.token === token);
    assert.deepEqual(
      mine.map((d) => [d.update_id, d.status, d.attempt]),
      [
        [slow, 'timeout', 1],
        [slow, 'timeout', 2],
        [slow, 'timeout', 3],
        [next, 200, 1],
      ],
    );
    await receiver.close();
  });

  it('keeps one update in flight per chat, in order, while different chats proceed in parallel', async () => {
    const receiver = await startReceiver(async () => {
      await sleep(120);
      return 200;
    });
    const { api, token } = addBot(fake);
    await api.setWebhook(receiver.url);
    const ids = ['1', '2', '3'].map((t) => fake.pushUpdate(token, message(100, t)));
    const other = fake.pushUpdate(token, message(200, 'x'));
    await fake.settled();
    const chatA = receiver.received.filter(
      (r) => (r.update['message'] as { chat: { id: number } }).chat.id === 100,
    );
    assert.deepEqual(
      chatA.map((r) => r.update['update_id']),
      ids,
    );
    for (let i = 1; i < chatA.length; i++) {
      assert.ok(
        chatA[i]!.start >= chatA[i - 1]!.end,
        'the next update of a chat waits for the previous answer',
      );
    }
    const chatB = receiver.received.find((r) => r.update['update_id'] === other)!;
    assert.ok(chatB.start < chatA[0]!.end, 'the other chat did not wait for chat 100');
    await receiver.close();
  });
});
