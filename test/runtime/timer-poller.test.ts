import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { shardOf } from '../../src/runtime/shard.ts';
import { createConversationStore } from '../../src/db/conversation-store.ts';
import { createFlowRepository } from '../../src/db/flow-repository.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { createFlowCompiler } from '../../src/runtime/compile-pool.ts';
import { createConversationHost } from '../../src/runtime/conversation-host.ts';
import { createFlowSource } from '../../src/runtime/flow-source.ts';
import { startTimerPoller } from '../../src/runtime/timer-poller.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait-for.ts';

/** Says hello, then a minute later says more: one durable timer per conversation. */
const delayed = {
  id: 'delayed',
  flow_start_step_id: 'hello',
  flow_steps: [
    { id: 'hello', type: 'message', config: { text: 'hi' }, connections: { next: 'later' } },
    {
      id: 'later',
      type: 'message',
      delay_seconds: 60,
      config: { text: 'more' },
      connections: { next: 'done' },
    },
    { id: 'done', type: 'end', config: { text: 'bye' } },
  ],
};
const USERS = ['301', '302', '303', '304', '305'];

describe('timer poller across a Postgres outage', () => {
  let fresh: FreshDatabase;
  let proxy: TcpProxy;
  let db: DatabaseHandle;
  let direct: pg.Client;
  const compiler = createFlowCompiler();
  let clock = Date.parse('2026-12-07T12:00:00Z');

  before(async () => {
    fresh = await createFreshDatabase();
    const target = new URL(fresh.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(fresh.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    db = await openDatabase({ url: viaProxy.toString(), dataDir: '/nonexistent' });
    direct = new pg.Client({ connectionString: fresh.url });
    await direct.connect();
    await direct.query(
      `insert into bots (id, username, token, webhook_secret) values ('tb', 'tb_bot', 'x', 'y')`,
    );
  });

  after(async () => {
    await direct.end();
    await db.close();
    await compiler.close();
    await proxy.close();
    await fresh.drop();
  });

  it('keeps polling, reports the outage once, and fires every timer that fell due during it', async () => {
    const store = createConversationStore(db.orm);
    const flows = createFlowRepository(db.orm);
    const compiled = await compiler.compile('delayed-check', Date.now(), delayed);
    await flows.saveDraft({ id: 'delayed', botId: 'tb', name: 'delayed', draft: delayed });
    await flows.publish('delayed', delayed, compiled.config);
    const epochs = new Map<number, number>();
    for (const user of USERS) {
      const shard = shardOf('tb', user);
      epochs.set(shard, await store.claimShard(shard, 'w1'));
    }
    const host = createConversationHost({
      store,
      flows: createFlowSource(flows, compiler),
      epochOf: (shard) => epochs.get(shard) ?? 0,
      now: () => clock,
    });
    for (const user of USERS) await host.dispatch({ botId: 'tb', userId: user, event: { type: 'start' } });

    const errors: unknown[] = [];
    const outages: unknown[] = [];
    let recovered = 0;
    let polls = 0;
    const poller = startTimerPoller({
      store,
      host,
      shards: () => [...epochs.keys()],
      now: () => clock,
      intervalMs: 20,
      onDue: () => (polls += 1),
      onError: (error) => errors.push(error),
      onOutage: (error) => outages.push(error),
      onRecovered: () => (recovered += 1),
    });
    try {
      proxy.cut();
      clock += 61_000; // every timer falls due while Postgres is away
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(outages.length, 1, 'one report for the whole outage');
      assert.deepEqual(errors, [], 'no report per poll');
      const pollsBefore = polls;
      proxy.restore();

      const stepOf = async () =>
        (
          await direct.query<{ user_id: string; step: unknown }>(
            `select user_id::text, snapshot->'value' as step from conversations where bot_id = 'tb' order by user_id`,
          )
        ).rows;
      const done = await waitFor(
        'every conversation past its timer',
        async () => {
          const rows = await stepOf();
          return rows.length === USERS.length && rows.every((r) => r.step === 'done') ? rows : null;
        },
        10_000,
        50,
      );
      assert.deepEqual(
        done.map((r) => r.user_id),
        USERS,
      );
      assert.ok(polls > pollsBefore, 'it kept polling after the outage');
      assert.equal(recovered, 1);
      const pending = await direct.query(`select count(*)::int as n from timers where status = 'pending'`);
      assert.equal(pending.rows[0].n, 0, 'each timer fired once and is gone');
    } finally {
      proxy.restore();
      await poller.stop();
      await host.drain();
    }
  });
  it('reads nothing between timers: it reads when the next one falls due, or its shards change', async () => {
    const reads: number[] = [];
    const store = createConversationStore(db.orm);
    const counted = {
      ...store,
      pollTimers: (shards: readonly number[], now: number, limit: number) => {
        reads.push(now);
        return store.pollTimers(shards, now, limit);
      },
    };
    const epochs = new Map<number, number>();
    const shard = shardOf('tb', '401');
    epochs.set(shard, await store.claimShard(shard, 'w1'));
    const late: { poller?: ReturnType<typeof startTimerPoller> } = {};
    const host = createConversationHost({
      store,
      flows: createFlowSource(createFlowRepository(db.orm), compiler),
      epochOf: (s) => epochs.get(s) ?? 0,
      now: () => clock,
      onTimerStarted: (dueAt) => late.poller?.noteDue(dueAt),
    });
    let owned = [shard];
    const poller = startTimerPoller({
      store: counted,
      host,
      shards: () => owned,
      now: () => clock,
      intervalMs: 10,
    });
    late.poller = poller;
    try {
      await waitFor('the first read', async () => (reads.length > 0 ? true : null), 5000, 10);
      await host.dispatch({ botId: 'tb', userId: '401', event: { type: 'start' } });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(reads.length, 1, 'no read while no timer is due');
      clock += 61_000;
      const step = async () =>
        (
          await direct.query<{ step: unknown }>(
            `select snapshot->'value' as step from conversations where bot_id = 'tb' and user_id = 401`,
          )
        ).rows[0]?.step;
      await waitFor('the timer fired', async () => ((await step()) === 'done' ? true : null), 5000, 20);
      const afterFire = reads.length;
      assert.ok(afterFire >= 2);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(reads.length, afterFire, 'nothing pending: no more reads');
      owned = [shard, (shard + 1) % 256];
      await waitFor(
        'a read for the new shard',
        async () => (reads.length > afterFire ? true : null),
        5000,
        10,
      );
    } finally {
      await poller.stop();
      await host.drain();
    }
  });
});
