import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Api, HttpError } from 'grammy';
import { createKeepAliveFetch, type KeepAliveFetch } from '../../src/bot/keep-alive-fetch.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';

const TOKEN = '7300000010:AAkeep-alive-fetch';

describe('keep-alive fetch (grammY transport over undici)', () => {
  let fake: FakeBotApi;
  let transport: KeepAliveFetch;
  before(async () => {
    fake = await startFakeBotApi();
    fake.addBot({ token: TOKEN, id: 7300000010, username: 'kaf_bot' });
    transport = createKeepAliveFetch();
  });
  after(async () => {
    await transport.close();
    await fake.close();
  });

  it('serves calls made one after another over one or two reused connections', async () => {
    const api = new Api(TOKEN, { apiRoot: fake.url, fetch: transport.fetch });
    const before = fake.connections;
    for (let i = 0; i < 50; i++) await api.sendMessage(6000, `m${i}`);
    const opened = fake.connections - before;
    assert.ok(opened >= 1 && opened <= 2, `${opened} connections for 50 calls`);
    const sent = fake.callsOf(TOKEN, 'sendMessage').filter((c) => c.params['chat_id'] === 6000);
    assert.equal(sent.length, 50);
  });

  it("hands Telegram's refusals back as grammY reads them (JSON of any status)", async () => {
    const api = new Api(TOKEN, { apiRoot: fake.url, fetch: transport.fetch });
    fake.injectError({ status: 400, description: 'Bad Request: chat not found', token: TOKEN, times: 1 });
    await assert.rejects(api.sendMessage(6001, 'x'), /chat not found/);
  });

  it("aborts a call on grammY's timeout (its polyfilled signal reaches undici)", async () => {
    const api = new Api(TOKEN, { apiRoot: fake.url, fetch: transport.fetch, timeoutSeconds: 0.2 });
    fake.setLatency(2000);
    try {
      const started = performance.now();
      await assert.rejects(api.sendMessage(6002, 'slow'), HttpError);
      assert.ok(performance.now() - started < 1500, 'aborted before the answer came');
    } finally {
      fake.setLatency(0);
    }
  });
});
