/**
 * Issue 18 end to end: a buyer's answers to `email` / `phone` input steps are kept in the committed
 * conversation and reach Meta (the fake Graph API) hashed on the later Lead, InitiateCheckout and
 * Purchase; the Telegram names only where the pixel asks for them; each field can be turned off.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { CliIo } from '../../src/cli/io.ts';
import { runCli } from '../../src/cli/run-cli.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { eventIdFor } from '../../src/tracking/conversion-event.ts';
import { type Stack, startStack } from '../support/start-stack.ts';
import { waitFor } from '../support/wait-for.ts';
import { payBuyerCharge } from '../support/pay-buyer-charge.ts';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const BOT = 'mq';
const ADMIN = 'admin-token-for-match-quality';
const PIXEL = { pixel_id: '515151515151', access_token: 'meta-mq-token', user_data: { fn: true } };

const flow = {
  id: 'match-quality',
  flow_start_step_id: 'ask_email',
  main_buttons: [{ text: 'VIP', price: 19.9, description: 'Grupo VIP' }],
  flow_steps: [
    {
      id: 'ask_email',
      type: 'input',
      config: { text: 'Qual o seu e-mail?' },
      conditions: [{ type: 'text_validation', validation: 'email', target_step: 'ask_phone' }],
    },
    {
      id: 'ask_phone',
      type: 'input',
      config: { text: 'E o seu WhatsApp?' },
      conditions: [{ type: 'text_validation', validation: 'phone', target_step: 'offers' }],
    },
    {
      id: 'offers',
      type: 'buttons',
      config: { text: 'Escolha o plano:', custom_buttons: [{ text: 'VIP', main_button_index: 0 }] },
      conditions: [{ type: 'button_click', button_text: 'VIP', target_step: 'pay' }],
    },
    { id: 'pay', type: 'payment', config: { expires_in_minutes: 30 }, connections: { next: 'done' } },
    { id: 'done', type: 'end', config: { text: 'Obrigado!' } },
  ],
};

describe('Meta match quality: what the buyer told the bot reaches Meta hashed', () => {
  let stack: Stack;
  let sql: ReturnType<typeof createSql>;
  let updateId = 1;

  const post = async (update: Record<string, unknown>) => {
    const res = await fetch(`${stack.app.url}/telegram/${BOT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': stack.secret },
      body: JSON.stringify({ update_id: updateId++, ...update }),
    });
    assert.equal(res.status, 200);
  };
  const from = (userId: number) => ({ id: userId, is_bot: false, first_name: 'Ana', last_name: 'Souza' });
  const say = (userId: number, text: string) =>
    post({
      message: {
        message_id: updateId,
        date: 1,
        chat: { id: userId, type: 'private' },
        from: from(userId),
        text,
      },
    });
  const press = (userId: number) =>
    post({
      callback_query: {
        id: `q${updateId}`,
        from: from(userId),
        chat_instance: 'x',
        data: encodeCallbackData({ version: stack.version, step: 'offers', index: 0 }),
      },
    });

  /** /start, the answers, the buy press, and the sandbox payment; returns the order id. */
  async function buy(userId: number, answers: string[]): Promise<string> {
    await say(userId, '/start');
    for (const answer of answers) await say(userId, answer);
    await press(userId);
    return payBuyerCharge(stack, BOT, userId);
  }

  async function sentEvents(): Promise<Array<Record<string, unknown>>> {
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
    const dead = await sql<{ event_id: string }>(
      `select event_id from conversion_events where status = 'dead'`,
    );
    assert.deepEqual(dead, [], 'Meta (the fake) refused no event');
    return stack.graph.events.get(PIXEL.pixel_id) ?? [];
  }
  const userDataOf = (events: Array<Record<string, unknown>>, eventId: string) => {
    const event = events.find((e) => e['event_id'] === eventId);
    assert.ok(event, `Meta received ${eventId}`);
    return event['user_data'] as Record<string, unknown>;
  };

  before(async () => {
    stack = await startStack({
      botId: BOT,
      botNumber: 7300000001,
      username: 'mq_test_bot',
      flow,
      pixel: PIXEL,
      adminToken: ADMIN,
    });
    sql = createSql(stack.app.db.orm);
    await stack.app.funnel.links.add({ slug: 'mq-ad', botId: BOT, campaign: 'mq' });
  });
  after(() => stack.close());

  it('keeps the answers in the committed snapshot; InitiateCheckout, Purchase and a later Lead carry em and ph', async () => {
    const orderId = await buy(41, ['  Ana.Souza@Example.COM ', '(11) 98765-4321']);
    const [row] = await sql<{ buyer: Record<string, string> }>(
      `select snapshot->'context'->'buyer' as buyer from conversations where bot_id = $1 and user_id = $2`,
      [BOT, 41],
    );
    assert.deepEqual(row?.buyer, {
      first_name: 'Ana',
      email: 'Ana.Souza@Example.COM',
      phone: '(11) 98765-4321',
    });
    // A later ad click and /start: the Lead carries what the buyer already told the bot.
    const click = await fetch(`${stack.app.url}/r/mq-ad?fbclid=IwAR-mq`, { redirect: 'manual' });
    const token = new URL(click.headers.get('location') ?? '').searchParams.get('start') ?? '';
    await say(41, `/start ${token}`);

    const events = await sentEvents();
    const expected = {
      em: [sha('ana.souza@example.com')],
      ph: [sha('5511987654321')],
      fn: [sha('ana')],
      external_id: [sha('41')],
    };
    for (const id of [
      eventIdFor('Purchase', orderId),
      eventIdFor('InitiateCheckout', orderId),
      eventIdFor('Lead', `${BOT}:41:${token}`),
    ]) {
      const ud = userDataOf(events, id);
      for (const [field, value] of Object.entries(expected))
        assert.deepEqual(ud[field], value, `${id} ${field}`);
      assert.equal(ud['ln'], undefined, `${id}: ln is not asked for by the pixel`);
    }
  });

  it('a field the pixel turns off is not sent (and names are not kept when not asked for)', async () => {
    const res = await fetch(`${stack.app.url}/admin/bots/${BOT}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ pixel: { ...PIXEL, user_data: { em: false } } }),
    });
    assert.equal(res.status, 200);
    const orderId = await buy(42, ['bia@example.com', '+55 21 2345-6789']);
    const ud = userDataOf(await sentEvents(), eventIdFor('Purchase', orderId));
    assert.equal(ud['em'], undefined);
    assert.deepEqual(ud['ph'], [sha('552123456789')]);
    assert.equal(ud['fn'], undefined);
    const [row] = await sql<{ buyer: Record<string, string> }>(
      `select snapshot->'context'->'buyer' as buyer from conversations where bot_id = $1 and user_id = $2`,
      [BOT, 42],
    );
    assert.deepEqual(row?.buyer, { email: 'bia@example.com', phone: '+55 21 2345-6789' });
  });

  it('the admin API refuses an unknown user_data field', async () => {
    const res = await fetch(`${stack.app.url}/admin/bots/${BOT}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ pixel: { ...PIXEL, user_data: { cpf: true } } }),
    });
    assert.equal(res.status, 400);
  });

  it('conversions stats: per event name sent / pending / dead and the share of sent events with each key (HTTP and CLI)', async () => {
    await sentEvents();
    await stack.app.funnel.conversions.add({
      eventId: 'purchase:not-yet-sent',
      pixelId: PIXEL.pixel_id,
      botId: BOT,
      payload: { event_name: 'Purchase', user_data: { em: [sha('x@example.com')] } },
    });
    const get = (query: string, token = ADMIN) =>
      fetch(`${stack.app.url}/admin/conversions/stats${query}`, {
        headers: { authorization: `Bearer ${token}` },
      });
    assert.equal((await get('', 'wrong-token')).status, 401);
    assert.equal((await get('?bot_id=no%20such')).status, 400);
    assert.equal((await get('?bot=mq')).status, 400);
    const res = await get(`?bot_id=${BOT}`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { events: Array<Record<string, unknown>> };
    const byName = new Map(body.events.map((e) => [e['event_name'], e]));
    assert.deepEqual(byName.get('Purchase'), {
      event_name: 'Purchase',
      sent: 2,
      pending: 1,
      dead: 0,
      sent_with: { fbc: 0, fbp: 0, ip_ua: 0, em: 1, ph: 2, external_id: 2 },
      share_sent_with: { fbc: 0, fbp: 0, ip_ua: 0, em: 0.5, ph: 1, external_id: 1 },
    });
    const lead = byName.get('Lead') as { sent: number; share_sent_with: Record<string, number> };
    assert.equal(lead.sent, 1);
    assert.deepEqual(lead.share_sent_with, { fbc: 1, fbp: 1, ip_ua: 1, em: 1, ph: 1, external_id: 1 });
    assert.equal((byName.get('InitiateCheckout') as { sent: number }).sent, 2);
    const other = (await (await get('?bot_id=another-bot')).json()) as { events: unknown[] };
    assert.deepEqual(other.events, []);

    let stdout = '';
    const io: CliIo = {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: () => {} },
      isTTY: false,
      env: { BOTFLOW_URL: stack.app.url, BOTFLOW_ADMIN_TOKEN: ADMIN },
      readFile: () => Promise.reject(new Error('no files')),
      writeFile: () => Promise.reject(new Error('no files')),
    };
    assert.equal(await runCli(['conversions', 'stats', '--bot', BOT, '--json'], io), 0);
    assert.deepEqual(JSON.parse(stdout), body.events);
    stdout = '';
    assert.equal(await runCli(['conversions', 'stats', '--bot', BOT], io), 0);
    assert.match(stdout, /^EVENT\s+SENT\s+PENDING\s+DEAD\s+FBC\s+FBP\s+IP\+UA\s+EM\s+PH\s+EXTERNAL\+ID\n/);
    assert.match(stdout, /\nPurchase\s+2\s+1\s+0\s+0%\s+0%\s+0%\s+50%\s+100%\s+100%\n/);
  });
});
