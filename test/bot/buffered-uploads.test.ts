import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Api, HttpError, InputFile } from 'grammy';
import { createBotApis } from '../../src/bot/bot-apis.ts';
import { BufferedFile, createBufferedUploads } from '../../src/bot/buffered-uploads.ts';
import { createKeepAliveFetch, type KeepAliveFetch } from '../../src/bot/keep-alive-fetch.ts';
import { BotflowError } from '../../src/errors.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { createMemoryFloodGate } from '../../src/stores/flood-gate.ts';

const TOKEN = '7300000020:AAbuffered-uploads';
const BOT = { id: 'bu-1', tid: 7300000020 };

/** A local Bot API stand-in that keeps each request's raw body and answers ok. */
async function startRecorder() {
  const seen: Array<{ url: string; type: string; body: Buffer }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ url: req.url!, type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"result":{"message_id":1}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('buffered uploads (in-memory files as one multipart body)', () => {
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  let transport: KeepAliveFetch;
  let api: Api;
  before(async () => {
    recorder = await startRecorder();
    transport = createKeepAliveFetch();
    api = new Api(TOKEN, { apiRoot: recorder.url, fetch: transport.fetch });
    api.config.use(
      createBufferedUploads({
        urlOf: (method) => `${recorder.url}/bot${TOKEN}/${method}`,
        fetch: transport.fetch,
      }),
    );
  });
  after(async () => {
    await transport.close();
    await recorder.close();
  });

  it('sends the exact bytes and every field as standard multipart (a strict parser reads it)', async () => {
    const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 31) % 256);
    const markup = { inline_keyboard: [[{ text: 'Já paguei', callback_data: 'paid:1' }]] };
    await api.sendPhoto(6100, new BufferedFile(bytes, 'pix.png'), {
      caption: 'Pague com PIX: R$ 9,90',
      reply_markup: markup,
    });
    const request = recorder.seen.at(-1)!;
    assert.equal(request.url, `/bot${TOKEN}/sendPhoto`);
    // undici's FormData parser refuses anything but well-formed multipart.
    const form = await new Response(request.body, { headers: { 'content-type': request.type } }).formData();
    const photo = form.get('photo') as File;
    assert.equal(photo.name, 'pix.png');
    assert.deepEqual(new Uint8Array(await photo.arrayBuffer()), bytes);
    assert.equal(form.get('chat_id'), '6100');
    assert.equal(form.get('caption'), 'Pague com PIX: R$ 9,90');
    assert.deepEqual(JSON.parse(form.get('reply_markup') as string), markup);
  });

  it('leaves JSON calls and other files to grammY', async () => {
    await api.sendMessage(6101, 'plain');
    const json = recorder.seen.at(-1)!;
    assert.match(json.type, /^application\/json/);
    assert.deepEqual(JSON.parse(json.body.toString()), { chat_id: 6101, text: 'plain' });
    await api.sendDocument(6102, new InputFile(new Uint8Array([1, 2, 3]), 'a.bin'));
    // grammY's own streamed form (an attach:// reference, an unquoted filename): not built here.
    const streamed = recorder.seen.at(-1)!.body.toString('latin1');
    assert.match(streamed, /name="document"\r\n\r\nattach:\/\//);
    assert.match(streamed, /filename=a\.bin\r\n/);
  });

  it('fails as grammY fails when the server cannot be reached: an HttpError without the token', async () => {
    const down = new Api(TOKEN, { apiRoot: 'http://127.0.0.1:1', fetch: transport.fetch });
    down.config.use(
      createBufferedUploads({
        urlOf: (method) => `http://127.0.0.1:1/bot${TOKEN}/${method}`,
        fetch: transport.fetch,
      }),
    );
    await assert.rejects(down.sendPhoto(6103, new BufferedFile(new Uint8Array([1]), 'pix.png')), (error) => {
      assert.ok(error instanceof HttpError);
      assert.doesNotMatch(`${error.message} ${error.stack}`, /AAbuffered/);
      return true;
    });
  });
});

describe('buffered uploads under the flood gate and auto-retry (createBotApis)', () => {
  let fake: FakeBotApi;
  before(async () => {
    fake = await startFakeBotApi();
    fake.addBot({ token: TOKEN, id: BOT.tid, username: 'buffered_bot' });
  });
  after(async () => fake.close());

  it('a 429 on a photo holds the bot in the flood gate and the photo is sent again', async () => {
    const gate = createMemoryFloodGate();
    const waits: number[] = [];
    const apis = createBotApis({
      apiRoot: fake.url,
      tokenOf: async (botId) => (botId === BOT.id ? TOKEN : null),
      floodGate: gate,
      onFloodWait: (_botId, seconds) => void waits.push(seconds),
    });
    try {
      fake.injectError({ status: 429, retryAfter: 1, method: 'sendPhoto', token: TOKEN, times: 1 });
      const asked = Date.now();
      await apis.send(
        BOT.id,
        { method: 'sendPhoto', params: { chat_id: 6200, caption: 'pix' } },
        { photo: { data: new Uint8Array(1200).fill(9), filename: 'pix.png' } },
      );
      assert.deepEqual(waits, [1]);
      assert.ok((await gate.until(BOT.id)) >= asked + 1000, 'held for retry_after seconds');
      const tries = fake.callsOf(TOKEN, 'sendPhoto').filter((c) => String(c.params['chat_id']) === '6200');
      assert.deepEqual(
        tries.map((c) => c.status),
        [429, 200],
      );
      assert.deepEqual(tries[1]!.params['photo'], {
        filename: 'pix.png',
        size: 1200,
        mimeType: 'application/octet-stream',
      });
    } finally {
      await apis.close();
    }
  });

  it('a refused photo comes out coded UPSTREAM_REJECTED, the token not in it', async () => {
    const apis = createBotApis({
      apiRoot: fake.url,
      tokenOf: async () => TOKEN,
      floodGate: createMemoryFloodGate(),
    });
    try {
      fake.injectError({ status: 400, method: 'sendPhoto', token: TOKEN, times: 1 });
      await assert.rejects(
        apis.send(
          BOT.id,
          { method: 'sendPhoto', params: { chat_id: 6201 } },
          { photo: { data: new Uint8Array([1, 2]), filename: 'pix.png' } },
        ),
        (e) => e instanceof BotflowError && e.code === 'UPSTREAM_REJECTED' && !e.message.includes(TOKEN),
      );
    } finally {
      await apis.close();
    }
  });
});
