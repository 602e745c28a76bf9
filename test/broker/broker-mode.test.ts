import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bootstrap } from '../../src/bootstrap.ts';
import { startBrokerHost, type BrokerHost } from '../../src/broker/start-broker-host.ts';
import { partitionOfShard } from '../../src/broker/partitions.ts';
import type { Dispatch, DispatchResult } from '../../src/runtime/conversation-host.ts';
import { shardOf } from '../../src/runtime/shard.ts';
import { type FakeBotApi, startFakeBotApi } from '../../src/sim/fake-bot-api.ts';
import { askForever } from '../support/flows.ts';
import { quickBuyFlow } from '../support/funnel-harness.ts';
import { type SandboxGateway, startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { freePort } from '../../src/sim/free-port.ts';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait-for.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';
import { createFreshVhost, type FreshVhost } from './fresh-vhost.ts';

const PARTITIONS = 8;
const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const TOKEN = '4242:broker';
const TIMER_TOKEN = '4343:timer';
const PAY_TOKEN = '4444:pay';

/** Says hi, then two seconds later (a durable timer) says more and ends. */
const laterFlow = {
  id: 'later',
  flow_start_step_id: 'hello',
  flow_steps: [
    { id: 'hello', type: 'message', config: { text: 'hi' }, connections: { next: 'later' } },
    {
      id: 'later',
      type: 'message',
      delay_seconds: 2,
      config: { text: 'more' },
      connections: { next: 'done' },
    },
    { id: 'done', type: 'end', config: { text: 'bye' } },
  ],
};

const rowVersion = (r: DispatchResult) => Number(r.effects[0]!.key.split(':')[2]);

describe('broker mode: two hosts on one Postgres, through RabbitMQ', () => {
  let db: FreshDatabase;
  let vhost: FreshVhost;
  let fake: FakeBotApi;
  let sandbox: SandboxGateway;
  const proxies: TcpProxy[] = [];
  const hosts: BrokerHost[] = [];
  /** Timer inputs each host ran. */
  const timersRun: string[][] = [[], []];

  before(async () => {
    [db, vhost, fake, sandbox] = await Promise.all([
      createFreshDatabase(),
      createFreshVhost(),
      startFakeBotApi(),
      startSandboxGateway({ apiKey: 'k', webhookSecret: 'sandbox-secret' }),
    ]);
    fake.addBot({ token: PAY_TOKEN, id: 4444, username: 'pay_bot' });
    fake.addBot({ token: TOKEN, id: 4242, username: 'broker_bot' });
    fake.addBot({ token: TIMER_TOKEN, id: 4343, username: 'timer_bot' });
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: REDIS,
      LOG_LEVEL: 'silent',
      TELEGRAM_API_ROOT: fake.url,
      BOTFLOW_BROKER_PARTITIONS: String(PARTITIONS),
    };
    const redisPrefix = `bf-test-broker-${process.pid}`;
    const setup = await bootstrap({ env, redisPrefix, http: false, timerIntervalMs: 0, jobsIntervalMs: 0 });
    await setup.addBot({ id: 'b', token: TOKEN });
    await setup.publishFlow('b', askForever);
    await setup.addBot({ id: 't', token: TIMER_TOKEN });
    await setup.publishFlow('t', laterFlow);
    await setup.addBot({
      id: 'p',
      token: PAY_TOKEN,
      gateway: { kind: 'sandbox', api_base: sandbox.url, api_key: 'k', webhook_secret: 'sandbox-secret' },
    });
    await setup.publishFlow('p', quickBuyFlow);
    await setup.close();
    // Gateways post every webhook to host 1 (the public URL of both), whoever owns the conversation.
    const ports = [await freePort(), await freePort()];
    for (const i of [0, 1]) {
      const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5672 });
      proxies.push(proxy);
      hosts.push(
        await startBrokerHost(
          {
            env: { ...env, BOTFLOW_BROKER_URL: vhost.url(proxy.port) },
            redisPrefix,
            workerId: `host-${i}`,
            http: { port: ports[i]! },
            config: { publicUrl: `http://127.0.0.1:${ports[1]}` },
            jobsIntervalMs: 0,
            onDispatched: (input) => {
              if (input.timer !== undefined) timersRun[i]!.push(input.userId);
            },
          },
          { heartbeatSeconds: 1, rebalanceMs: 500 },
        ),
      );
    }
    await waitFor('every partition served', () => held().flat().length === PARTITIONS, 15_000);
  });

  it('spreads the partitions over the hosts: each serves its share, none twice', async () => {
    // The first host to subscribe was given every queue; it hands the excess to the next in line.
    await waitFor('an even spread', () => held().every((ps) => ps.length === PARTITIONS / 2), 15_000);
    assert.deepEqual(
      held()
        .flat()
        .sort((a, b) => a - b),
      Array.from({ length: PARTITIONS }, (_, p) => p),
    );
  });

  after(async () => {
    for (const host of hosts) await host.close();
    for (const proxy of proxies) await proxy.close();
    await fake.close();
    await sandbox.close();
    await vhost.drop();
    await db.drop();
  });

  /** The partitions each host serves. */
  const held = () => hosts.map((h) => h.broker.held());
  /** The index of the host serving a user's conversation with bot `bot` (-1: none). */
  const ownerOf = (bot: string, user: string) =>
    held().findIndex((ps) => ps.includes(partitionOfShard(shardOf(bot, user), PARTITIONS)));
  /** A user whose conversation with `bot` the host `index` serves. */
  const userServedBy = (index: number, bot = 'b', from = 1) => {
    for (let u = from; u < from + 10_000; u++) if (ownerOf(bot, String(u)) === index) return String(u);
    throw new Error(`host ${index} serves nothing`);
  };

  /** Posts a Telegram update to a host's webhook; the status and the error code, if any. */
  async function post(host: BrokerHost, update: Record<string, unknown>) {
    const secret = (await host.funnel.settingsOf('b'))!.webhookSecret;
    const res = await fetch(`${host.url}/telegram/b`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
      body: JSON.stringify(update),
    });
    const body = (await res.json()) as { error?: { code?: string } };
    return { status: res.status, code: body.error?.code };
  }
  const text = (updateId: number, user: string, words: string) => ({
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1,
      chat: { id: Number(user), type: 'private' },
      from: { id: Number(user), is_bot: false, first_name: 'Ana' },
      text: words,
    },
  });
  const stored = (bot: string, user: string) => hosts[0]!.store.load(bot, user);

  it('inputs sent to either host reach the owner once each, each sender in order', async () => {
    const owner = held()[0]!.length > 0 ? 0 : 1;
    const other = 1 - owner;
    const user = userServedBy(owner);
    const send = (via: number, i: number): Promise<DispatchResult> =>
      hosts[via]!.dispatch({
        botId: 'b',
        userId: user,
        event: { type: 'text', text: `guess ${i}` },
        inputKey: `order:${via}:${i}`,
      } satisfies Dispatch);
    await hosts[other]!.dispatch({
      botId: 'b',
      userId: user,
      event: { type: 'start' },
      inputKey: 'order:start',
    });
    const [local, routed] = await Promise.all([
      Promise.all(Array.from({ length: 50 }, (_, i) => send(owner, i))),
      Promise.all(Array.from({ length: 50 }, (_, i) => send(other, i))),
    ]);
    const a = local.map(rowVersion);
    const b = routed.map(rowVersion);
    assert.deepEqual(
      [...a, ...b].sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i + 2),
      'each input committed exactly once',
    );
    assert.deepEqual(
      a,
      [...a].sort((x, y) => x - y),
      "the owner's own inputs keep their order",
    );
    assert.deepEqual(
      b,
      [...b].sort((x, y) => x - y),
      'inputs through the broker keep their order',
    );
    assert.equal((await stored('b', user))?.rowVersion, 101);
  });

  it('a partition handed over mid-stream keeps each sender in order, each input applied once', async () => {
    const owner = 0;
    const user = userServedBy(owner, 'b', 40_000);
    const partition = partitionOfShard(shardOf('b', user), PARTITIONS);
    await hosts[1]!.dispatch({ botId: 'b', userId: user, event: { type: 'start' }, inputKey: 'hand:start' });
    // The owner runs its own inputs directly; the other host's go through the queue.
    const sends = (via: number) =>
      Array.from({ length: 30 }, (_, i) =>
        hosts[via]!.dispatch({
          botId: 'b',
          userId: user,
          event: { type: 'text', text: `g${i}` },
          inputKey: `hand:${via}:${i}`,
        }),
      );
    const local = sends(owner);
    const routed = sends(1);
    await new Promise((r) => setTimeout(r, 20));
    await hosts[owner]!.broker.handOff(partition);
    const a = (await Promise.all(local)).map(rowVersion);
    const b = (await Promise.all(routed)).map(rowVersion);
    assert.deepEqual(
      [...a, ...b].sort((x, y) => x - y),
      Array.from({ length: 60 }, (_, i) => i + 2),
      'each input once',
    );
    assert.deepEqual(
      a,
      [...a].sort((x, y) => x - y),
      "the owner's own inputs keep their order",
    );
    assert.deepEqual(
      b,
      [...b].sort((x, y) => x - y),
      'inputs through the queue keep their order',
    );
    assert.ok(!held()[owner]!.includes(partition), 'the partition left its first owner');
    await waitFor('the partition is served again', () => ownerOf('b', user) >= 0, 10_000);
    await waitFor('an even spread again', () => held().every((ps) => ps.length === PARTITIONS / 2), 15_000);
  });

  it('a gateway webhook on the host that does not own the conversation confirms the payment once', async () => {
    const user = userServedBy(0, 'p', 50_000);
    const via = hosts[0]!;
    const press = {
      update_id: 9001,
      callback_query: {
        id: 'q1',
        from: { id: Number(user), is_bot: false, first_name: 'Ana' },
        chat_instance: user,
        data: encodeCallbackData({ version: 1, step: 'offers', index: 0 }),
      },
    };
    await via.dispatch({ botId: 'p', userId: user, event: { type: 'start' }, inputKey: 'pay:start' });
    const secret = (await via.funnel.settingsOf('p'))!.webhookSecret;
    const res = await fetch(`${via.url}/telegram/p`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
      body: JSON.stringify(press),
    });
    assert.equal(res.status, 200);
    const charge = await waitFor(
      'the charge',
      () => [...sandbox.charges.values()].find((c) => c.order_id.includes(`:${user}:`)),
      15_000,
    );
    assert.equal(charge.notification_url, `${hosts[1]!.url}/payments/p/webhook`);
    sandbox.setDelivery({ duplicates: 2 });
    await sandbox.pay(charge.id);
    await sandbox.settled();
    sandbox.setDelivery({ duplicates: 1 });
    const deliveries = sandbox.deliveries.filter((d) => d.charge_id === charge.id);
    assert.ok(
      deliveries.length >= 2 && deliveries.every((d) => d.status === 200),
      JSON.stringify(deliveries),
    );
    const payment = await hosts[0]!.funnel.payments.get(charge.order_id);
    assert.equal(payment?.status, 'paid');
    const conversation = await stored('p', user);
    assert.equal(conversation?.snapshot.value, 'done', 'the paid transition ran once, in the owner');
  });

  it('a webhook on the host that does not own the conversation answers 200 once committed', async () => {
    const owner = held()[0]!.length > 0 ? 0 : 1;
    const user = userServedBy(owner, 'b', 20_000);
    const via = hosts[1 - owner]!;
    assert.deepEqual(await post(via, text(1, user, '/start')), { status: 200, code: undefined });
    assert.deepEqual(await post(via, text(2, user, 'wrong')), { status: 200, code: undefined });
    assert.deepEqual(
      await post(via, text(2, user, 'wrong')),
      { status: 200, code: undefined },
      'a redelivery',
    );
    const conversation = await stored('b', user);
    assert.equal(conversation?.rowVersion, 2, 'the start and one guess: the redelivery changed nothing');
    assert.equal(conversation?.snapshot.context.attempts, 1);
  });

  it('a host whose broker link dies loses its partitions; the other serves them, timers included', async () => {
    const victim = held()[0]!.length > 0 ? 0 : 1;
    const survivor = 1 - victim;
    const user = userServedBy(victim, 't');
    const started = await hosts[survivor]!.dispatch({
      botId: 't',
      userId: user,
      event: { type: 'start' },
      inputKey: 'later:start',
    });
    assert.equal(started.currentStep, 'later', 'waiting on its two-second timer');
    const cutAt = Date.now();
    proxies[victim]!.cut();
    await waitFor('the victim let go', () => held()[victim]!.length === 0, 5000);
    await waitFor(
      'the survivor serves every partition',
      () => held()[survivor]!.length === PARTITIONS,
      15_000,
    );
    const movedSeconds = (Date.now() - cutAt) / 1000;
    await waitFor(
      'the timer fired',
      async () => Object.keys((await stored('t', user))?.timers ?? { pending: 1 }).length === 0,
      15_000,
    );
    const servedSeconds = (Date.now() - cutAt) / 1000;
    console.log(
      `# partitions moved in ${movedSeconds.toFixed(2)} s; timer served ${servedSeconds.toFixed(2)} s after the cut`,
    );
    assert.deepEqual(timersRun[victim], [], 'the victim fired nothing after it let go');
    assert.ok(timersRun[survivor]!.includes(user), 'the survivor fired the timer');
    const after = await hosts[survivor]!.dispatch({
      botId: 'b',
      userId: userServedBy(survivor),
      event: { type: 'start' },
      inputKey: 'after:start',
    });
    assert.equal(after.applied, true);
    proxies[victim]!.restore();
  });

  it('a broker cut at ingress is a coded 503, loses nothing, and recovers', async () => {
    // The host not serving the conversation needs the broker for it.
    const owner = held()[0]!.length > 0 ? 0 : 1;
    const ingress = 1 - owner;
    await waitFor(
      'the ingress host reconnected',
      async () => {
        try {
          await hosts[ingress]!.dispatch({
            botId: 'b',
            userId: userServedBy(owner, 'b', 30_000),
            event: { type: 'start' },
            inputKey: 'cut:start',
          });
          return true;
        } catch {
          return false;
        }
      },
      15_000,
      200,
    );
    const user = userServedBy(owner, 'b', 30_000);
    const updates = Array.from({ length: 20 }, (_, i) => text(100 + i, user, `guess ${i}`));
    // Half go out before the cut, half after it.
    const first = updates.slice(0, 10).map((u) => post(hosts[ingress]!, u));
    proxies[ingress]!.cut();
    const second = updates.slice(10).map((u) => post(hosts[ingress]!, u));
    const outcomes = await Promise.all([...first, ...second]);
    for (const o of outcomes)
      assert.ok(o.status === 200 || (o.status === 503 && o.code === 'BROKER_UNAVAILABLE'), JSON.stringify(o));
    assert.ok(
      outcomes.slice(10).every((o) => o.status === 503),
      'nothing is accepted while the broker is cut',
    );
    proxies[ingress]!.restore();
    // Telegram redelivers what was not answered 200 until it is.
    for (const [i, o] of outcomes.entries()) {
      if (o.status === 200) continue;
      await waitFor(
        'redelivery accepted',
        async () => (await post(hosts[ingress]!, updates[i]!)).status === 200,
        15_000,
        200,
      );
    }
    const conversation = await stored('b', user);
    assert.equal(conversation?.rowVersion, 21, 'the start and each of the 20 updates exactly once');
    assert.equal(conversation?.snapshot.context.attempts, 20);
  });

  it('refuses a message that is not a botflow input without failing the worker', async () => {
    const { Connection } = await import('rabbitmq-client');
    const conn = new Connection(vhost.url());
    const rpc = conn.createRPCClient({ confirm: true, timeout: 5000 });
    const reply = await rpc.send({ routingKey: 'botflow.shard.0' }, Buffer.from('not json'));
    assert.deepEqual(JSON.parse(String(reply.body)), {
      ok: false,
      error: { code: 'BAD_REQUEST', message: 'not a botflow input' },
    });
    await rpc.close();
    await conn.close();
    assert.equal(held().flat().length, PARTITIONS, 'every partition is still served');
  });
});
