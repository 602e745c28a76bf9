import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SHARD_COUNT, shardOf } from '../../src/runtime/shard.ts';
import { createConversationStore } from '../../src/db/conversation-store.ts';
import { createFlowRepository } from '../../src/db/flow-repository.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { BotflowError } from '../../src/errors.ts';
import { createFlowCompiler } from '../../src/runtime/compile-pool.ts';
import { createConversationHost, type KeyedEffect } from '../../src/runtime/conversation-host.ts';
import { createFlowSource } from '../../src/runtime/flow-source.ts';
import { startTimerPoller } from '../../src/runtime/timer-poller.ts';
import { askForever } from '../support/flows.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));

const APPROVE = { type: 'approveJoin', chat_id: '-100123' } as const;

describe('conversation host on real Postgres', () => {
  let fresh: FreshDatabase;
  let db: DatabaseHandle;
  let clock = Date.parse('2026-11-22T12:00:00Z');
  const committed: KeyedEffect[] = [];
  const compiler = createFlowCompiler();

  async function setup(url: string) {
    const handle = await openDatabase({ url, dataDir: '/nonexistent' });
    const store = createConversationStore(handle.orm);
    const flows = createFlowRepository(handle.orm);
    const source = createFlowSource(flows, compiler);
    const epochs = new Map<number, number>();
    const host = createConversationHost({
      store,
      flows: source,
      epochOf: (shard) => epochs.get(shard) ?? 0,
      now: () => clock,
      onCommitted: (effects) => committed.push(...effects),
    });
    return { handle, store, flows, source, epochs, host };
  }
  let ctx: Awaited<ReturnType<typeof setup>>;

  async function publish(botId: string, flowId: string, definition: unknown) {
    const compiled = await compiler.compile(`${flowId}-check`, Date.now(), definition);
    await ctx.flows.saveDraft({ id: flowId, botId, name: flowId, draft: definition });
    const v = await ctx.flows.publish(flowId, definition, compiled.config);
    ctx.source.invalidate(botId);
    return v.version;
  }

  async function own(botId: string, userId: string) {
    const shard = shardOf(botId, userId);
    ctx.epochs.set(shard, await ctx.store.claimShard(shard, 'test-worker'));
    return shard;
  }

  /** Outbox rows of one conversation with effects of `type`. */
  async function effectRows(botId: string, userId: string, type: string): Promise<number> {
    const rows = await db.orm.em
      .getConnection()
      .execute(
        `select count(*)::int as n from effects where bot_id = ? and user_id = ? and effect->>'type' = ?`,
        [botId, userId, type],
      );
    return (rows[0] as { n: number }).n;
  }

  before(async () => {
    fresh = await createFreshDatabase();
    ctx = await setup(fresh.url);
    db = ctx.handle;
    await db.orm.em
      .getConnection()
      .execute(
        `insert into bots (id, username, token, webhook_secret) values ('b1', 'b1_bot', 'x', 'y'), ('b2', 'b2_bot', 'x', 'y')`,
      );
    await publish('b1', 'vip-funnel', vip);
    await publish('b2', 'ask-forever', askForever);
  });

  after(async () => {
    await ctx.handle.close();
    await compiler.close();
    await fresh.drop();
  });

  it('200 concurrent events for one conversation are processed once each, in order', async () => {
    await own('b2', '1001');
    await ctx.host.dispatch({ botId: 'b2', userId: '1001', event: { type: 'start' }, inputKey: 'u:0' });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ctx.host.dispatch({
          botId: 'b2',
          userId: '1001',
          event: { type: 'text', text: `guess ${i}` },
          inputKey: `u:${i + 1}`,
        }),
      ),
    );
    assert.ok(results.every((r) => r.applied && r.currentStep === 'q'));
    const stored = await ctx.store.load('b2', '1001');
    assert.equal(stored?.rowVersion, 201);
    assert.equal(stored?.snapshot.context.attempts, 200);
    const keys = results.map((r) => r.effects[0]!.key);
    assert.deepEqual(
      keys,
      Array.from({ length: 200 }, (_, i) => `b2:1001:${i + 2}:0`),
      'commit order = arrival order',
    );
    const outbox = await db.orm.em
      .getConnection()
      .execute<{ n: string }[]>(
        `select count(*)::text as n from effects where bot_id = 'b2' and user_id = 1001`,
      );
    assert.equal(outbox[0]!.n, '201');
  });

  it('the same input delivered twice is applied once', async () => {
    await own('b2', '1002');
    const first = await ctx.host.dispatch({
      botId: 'b2',
      userId: '1002',
      event: { type: 'start' },
      inputKey: 'dup:1',
    });
    const again = await ctx.host.dispatch({
      botId: 'b2',
      userId: '1002',
      event: { type: 'start' },
      inputKey: 'dup:1',
    });
    assert.equal(first.applied, true);
    assert.equal(again.applied, false);
    assert.equal((await ctx.store.load('b2', '1002'))?.rowVersion, 1);
  });

  it('a stale owner cannot commit: it gets STALE_OWNER and the stored state is unchanged', async () => {
    await own('b2', '1003');
    await ctx.host.dispatch({ botId: 'b2', userId: '1003', event: { type: 'start' } });
    await ctx.store.claimShard(shardOf('b2', '1003'), 'another-worker');
    await assert.rejects(
      ctx.host.dispatch({ botId: 'b2', userId: '1003', event: { type: 'text', text: 'x' } }),
      (e: unknown) => e instanceof BotflowError && e.code === 'STALE_OWNER' && e.retryable,
    );
    assert.equal((await ctx.store.load('b2', '1003'))?.rowVersion, 1);
  });

  it('timers are committed with the transition and fire once, also from a fresh host (restart)', async () => {
    await own('b1', '2001');
    const shard = shardOf('b1', '2001');
    await ctx.host.dispatch({ botId: 'b1', userId: '2001', event: { type: 'start' } });
    await ctx.host.dispatch({ botId: 'b1', userId: '2001', event: { type: 'text', text: 'a@b.co' } });
    const atPay = await ctx.host.dispatch({
      botId: 'b1',
      userId: '2001',
      event: { type: 'click', step: 'offers', index: 0 },
    });
    assert.equal(atPay.currentStep, 'pay');
    const stored = await ctx.store.load('b1', '2001');
    assert.deepEqual(Object.keys(stored!.timers), ['xstate.after.elapsed_pay_0.vip-funnel.pay']);

    // A new host over the same database stands for the restarted worker; the timer is overdue.
    const restarted = await setup(fresh.url);
    restarted.epochs.set(shard, ctx.epochs.get(shard)!);
    clock += 16 * 60_000;
    const poller = startTimerPoller({
      store: restarted.store,
      host: restarted.host,
      shards: () => [shard],
      now: () => clock,
    });
    assert.equal(await poller.pollOnce(), 1);
    await restarted.host.drain();
    const after1 = await restarted.store.load('b1', '2001');
    assert.equal(
      Object.keys(after1!.snapshot.value as object)[0] ?? after1!.snapshot.value,
      'downsell_intro',
    );
    // The downsell's own 60 s delay is the only pending timer now; the fired one is gone for good.
    assert.deepEqual(Object.keys(after1!.timers), [
      'xstate.after.delay_downsell_intro.vip-funnel.downsell_intro.delay',
    ]);
    assert.equal(await poller.pollOnce(), 0, 'nothing else is due yet');
    clock += 61_000;
    assert.equal(await poller.pollOnce(), 1);
    await restarted.host.drain();
    assert.equal((await restarted.store.load('b1', '2001'))!.snapshot.value, 'downsell_offer');
    assert.equal(await poller.pollOnce(), 0, 'fired once');
    await poller.stop();
    await restarted.handle.close();
  });

  it('a publish mid-conversation does not change the running version; /start moves to the newest', async () => {
    await own('b2', '1004');
    const v1 = await ctx.host.dispatch({ botId: 'b2', userId: '1004', event: { type: 'start' } });
    const changed = structuredClone(askForever);
    changed.flow_steps[0]!.config.text = 'New prompt';
    const newVersion = await publish('b2', 'ask-forever', changed);
    assert.ok(newVersion > v1.flowVersion);
    const still = await ctx.host.dispatch({
      botId: 'b2',
      userId: '1004',
      event: { type: 'text', text: 'wrong' },
    });
    assert.equal(still.flowVersion, v1.flowVersion);
    const send = still.effects.find((e) => e.effect.type === 'send');
    assert.equal(send?.effect.type === 'send' && send.effect.message.text, 'Say the password');
    const moved = await ctx.host.dispatch({ botId: 'b2', userId: '1004', event: { type: 'start' } });
    assert.equal(moved.flowVersion, newVersion);
    const prompt = moved.effects.find((e) => e.effect.type === 'send');
    assert.equal(prompt?.effect.type === 'send' && prompt.effect.message.text, 'New prompt');
  });

  it('a stored state that no longer resolves restarts the conversation from the start step', async () => {
    await own('b1', '2002');
    await ctx.host.dispatch({ botId: 'b1', userId: '2002', event: { type: 'start' } });
    await db.orm.em
      .getConnection()
      .execute(
        `update conversations set snapshot = jsonb_set(snapshot, '{value}', '"removed_step"') where bot_id = 'b1' and user_id = 2002`,
      );
    const fresh2 = await setup(fresh.url);
    fresh2.epochs.set(shardOf('b1', '2002'), ctx.epochs.get(shardOf('b1', '2002'))!);
    const r = await fresh2.host.dispatch({
      botId: 'b1',
      userId: '2002',
      event: { type: 'text', text: 'hello' },
    });
    assert.equal(r.restarted, true);
    assert.equal(r.currentStep, 'ask_email');
    await fresh2.handle.close();
  });

  it('edge effects without an event: committed after the flow stays put, once per input key', async () => {
    await own('b2', '1010');
    const started = await ctx.host.dispatch({ botId: 'b2', userId: '1010', event: { type: 'start' } });
    const before = (await ctx.store.load('b2', '1010'))!;
    const decided = { botId: 'b2', userId: '1010', inputKey: 'edge:1', effects: [APPROVE] };
    const result = await ctx.host.dispatch(decided);
    assert.equal(result.applied, true);
    assert.equal(result.currentStep, started.currentStep, 'the flow did not move');
    assert.deepEqual(
      result.effects.map((e) => [e.key, e.effect]),
      [[`b2:1010:${before.rowVersion + 1}:0`, APPROVE]],
    );
    const after = (await ctx.store.load('b2', '1010'))!;
    assert.deepEqual(after.snapshot, before.snapshot);
    assert.equal(after.rowVersion, before.rowVersion + 1);
    assert.equal((await ctx.host.dispatch(decided)).applied, false, 'a redelivery commits nothing');
    assert.equal(await effectRows('b2', '1010', 'approveJoin'), 1);
  });

  it('edge effects for a user without a conversation start one before its first step', async () => {
    await own('b2', '1011');
    const result = await ctx.host.dispatch({ botId: 'b2', userId: '1011', effects: [APPROVE] });
    assert.equal(result.applied, true);
    assert.equal(result.currentStep, null, 'not started: no step entered, nothing sent');
    assert.deepEqual(
      result.effects.map((e) => e.effect),
      [APPROVE],
    );
    const stored = (await ctx.store.load('b2', '1011'))!;
    assert.equal(stored.flowId, 'ask-forever');
    const first = await ctx.host.dispatch({ botId: 'b2', userId: '1011', event: { type: 'start' } });
    assert.ok(
      first.effects.some((e) => e.effect.type === 'send'),
      'a later /start starts the flow',
    );
  });

  it("dropping a shard forgets that shard's actors only", async () => {
    const [a, b] = ['1101', '1102'];
    assert.notEqual(shardOf('b2', a), shardOf('b2', b), 'the two buyers live in different shards');
    for (const user of [a, b]) {
      await own('b2', user);
      await ctx.host.dispatch({ botId: 'b2', userId: user, event: { type: 'start' } });
    }
    const before = ctx.host.activeActors;
    ctx.host.dropShard(shardOf('b2', a));
    assert.equal(ctx.host.activeActors, before - 1);
    ctx.host.dropShard(shardOf('b2', a));
    assert.equal(ctx.host.activeActors, before - 1, 'nothing else lived in that shard');
    ctx.host.dropShard(shardOf('b2', b));
    assert.equal(ctx.host.activeActors, before - 2);
  });

  it('idle actors are passivated and revive from the committed state', async () => {
    await own('b2', '1006');
    await ctx.host.dispatch({ botId: 'b2', userId: '1006', event: { type: 'start' } });
    await ctx.host.dispatch({ botId: 'b2', userId: '1006', event: { type: 'text', text: 'no' } });
    const before = ctx.host.activeActors;
    clock += 60_000;
    assert.equal(ctx.host.passivateIdle(30_000), 0, 'every idle actor left memory');
    assert.ok(before > 0);
    const revived = await ctx.host.dispatch({
      botId: 'b2',
      userId: '1006',
      event: { type: 'text', text: 'open sesame' },
    });
    assert.equal(revived.currentStep, 'done');
    assert.equal((await ctx.store.load('b2', '1006'))?.rowVersion, 3);
  });

  /** A host whose store counts the keys of each load. */
  function countingHost(reads: number[]) {
    const counted = {
      ...ctx.store,
      load: () => Promise.reject(new Error('the host loads through loadMany')),
      loadMany: (keys: Parameters<typeof ctx.store.loadMany>[0]) => {
        reads.push(keys.length);
        return ctx.store.loadMany(keys);
      },
    };
    return createConversationHost({
      store: counted,
      flows: ctx.source,
      epochOf: (shard) => ctx.epochs.get(shard) ?? 0,
      now: () => clock,
    });
  }

  it('a /start of an unknown user reads nothing; the loads of one tick share one read', async () => {
    const users = Array.from({ length: 20 }, (_, i) => String(3000 + i));
    for (const user of users) await own('b2', user);
    const reads: number[] = [];
    const host = countingHost(reads);
    const results = await Promise.all(
      users.map((userId) => host.dispatch({ botId: 'b2', userId, event: { type: 'start' } })),
    );
    assert.ok(results.every((r) => r.applied && r.created));
    assert.deepEqual(reads, [], 'twenty new users, no read');
    // Out of memory, the same conversations are loaded again, all in one read.
    clock += 60_000;
    host.passivateIdle(30_000);
    const texts = await Promise.all(
      users.map((userId) => host.dispatch({ botId: 'b2', userId, event: { type: 'text', text: 'no' } })),
    );
    assert.ok(texts.every((r) => r.applied && !r.created && r.currentStep === 'q'));
    assert.deepEqual(reads, [20], 'one read for the twenty conversations');
    const stored = await ctx.store.loadMany(users.map((userId) => ({ botId: 'b2', userId })));
    assert.deepEqual(
      [...stored.values()].map((c) => c.rowVersion),
      users.map(() => 2),
    );
  });

  it('a /start of a stored conversation not in memory runs on its stored state, once', async () => {
    await own('b2', '3200');
    await ctx.host.dispatch({ botId: 'b2', userId: '3200', event: { type: 'start' }, inputKey: 's:1' });
    await ctx.host.dispatch({ botId: 'b2', userId: '3200', event: { type: 'text', text: 'no' } });
    const reads: number[] = [];
    const host = countingHost(reads);
    // Taken for new, refused by the version guard, then run on the loaded row (version 2 -> 3).
    const again = await host.dispatch({
      botId: 'b2',
      userId: '3200',
      event: { type: 'start' },
      inputKey: 's:2',
    });
    assert.equal(again.applied, true);
    assert.equal(again.created, false);
    assert.deepEqual(reads, [1]);
    const stored = await ctx.store.load('b2', '3200');
    assert.equal(stored?.rowVersion, 3);
    const effects = await db.orm.em
      .getConnection()
      .execute<{ n: string }[]>(
        `select count(*)::text as n from effects where bot_id = 'b2' and user_id = 3200`,
      );
    assert.equal(effects[0]!.n, '3', 'one prompt per committed input, none from the refused guess');
    // A duplicate /start on a cold actor answers with the stored step, after one read.
    const other = countingHost(reads);
    const duplicate = await other.dispatch({
      botId: 'b2',
      userId: '3200',
      event: { type: 'start' },
      inputKey: 's:2',
    });
    assert.equal(duplicate.applied, false);
    assert.equal(duplicate.currentStep, 'q');
    assert.deepEqual(reads, [1, 1]);
    assert.equal((await ctx.store.load('b2', '3200'))?.rowVersion, 3);
  });

  it('Postgres unavailable: a retryable error, never a false success; recovers when it returns', async () => {
    const proxy: TcpProxy = await startTcpProxy({
      host: '127.0.0.1',
      port: Number(new URL(fresh.url).port || 5432),
    });
    const url = new URL(fresh.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const viaProxy = await setup(url.toString());
    for (let s = 0; s < SHARD_COUNT; s++) viaProxy.epochs.set(s, ctx.epochs.get(s) ?? 0);
    await own('b2', '1005');
    viaProxy.epochs.set(shardOf('b2', '1005'), ctx.epochs.get(shardOf('b2', '1005'))!);
    await viaProxy.host.dispatch({ botId: 'b2', userId: '1005', event: { type: 'start' } });
    proxy.cut();
    await assert.rejects(
      viaProxy.host.dispatch({ botId: 'b2', userId: '1005', event: { type: 'text', text: 'lost?' } }),
      (e: unknown) => e instanceof BotflowError && e.code === 'STORE_UNAVAILABLE' && e.retryable,
    );
    proxy.restore();
    const retried = await viaProxy.host.dispatch({
      botId: 'b2',
      userId: '1005',
      event: { type: 'text', text: 'lost?' },
    });
    assert.equal(retried.applied, true);
    const direct = new pg.Client({ connectionString: fresh.url });
    await direct.connect();
    const row = await direct.query(
      `select row_version from conversations where bot_id = 'b2' and user_id = 1005`,
    );
    await direct.end();
    assert.equal(row.rows[0].row_version, 2, 'exactly the answered events are committed');
    await viaProxy.handle.close();
    await proxy.close();
  });
});
