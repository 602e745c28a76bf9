import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bootstrap } from '../../src/bootstrap.ts';
import { shardOf } from '../../src/runtime/shard.ts';
import { type PrimaryHandle, startPrimary } from '../../src/cluster/start-primary.ts';
import { BotflowError } from '../../src/errors.ts';
import type { DispatchResult } from '../../src/runtime/conversation-host.ts';
import { askForever } from '../support/flows.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';
import { freePort } from '../../src/sim/free-port.ts';
import pg from 'pg';

/** A user id whose shard the table gives to `slot`. */
function userOwnedBy(primary: PrimaryHandle, slot: number, from = 1): string {
  for (let u = from; ; u++) if (primary.table().owners[shardOf('b', String(u))] === slot) return String(u);
}

const rowVersion = (r: unknown) => Number((r as DispatchResult).effects[0]!.key.split(':')[2]);

/** A fresh database with bot `b` and its published flow (what `botflow start` finds), for a cluster to run on. */
async function createClusterDatabase(): Promise<FreshDatabase> {
  const fresh = await createFreshDatabase();
  const setup = await bootstrap({
    env: { DATABASE_URL: fresh.url, LOG_LEVEL: 'silent', TELEGRAM_API_ROOT: 'http://127.0.0.1:9' },
    http: false,
    timerIntervalMs: 0,
  });
  await setup.addBot({ id: 'b', username: 'cluster_bot', token: '1:x' });
  await setup.publishFlow('b', askForever);
  await setup.close();
  return fresh;
}

describe('cluster: two real worker processes', () => {
  let fresh: FreshDatabase;
  let primary: PrimaryHandle;
  const events: string[] = [];
  let port: number;

  before(async () => {
    port = await freePort();
    fresh = await createClusterDatabase();
    primary = await startPrimary({
      workers: 2,
      env: {
        DATABASE_URL: fresh.url,
        PORT: String(port),
        LOG_LEVEL: 'silent',
        TELEGRAM_API_ROOT: 'http://127.0.0.1:9',
      },
      restartBackoff: { initialMs: 100, maxMs: 1000 },
      onEvent: (e) => events.push(`${e.kind}:${e.slot}`),
    });
    await primary.settled();
  });
  after(async () => {
    await primary.stop();
    await fresh.drop();
  });

  it('200 events for one conversation sent from both workers are each processed once, in per-sender order', async () => {
    const user = userOwnedBy(primary, 1);
    await primary.injectVia(1, { botId: 'b', userId: user, event: { type: 'start' }, inputKey: 'c:start' });
    const send = (slot: number, i: number) =>
      primary.injectVia(slot, {
        botId: 'b',
        userId: user,
        event: { type: 'text', text: `guess ${i}` },
        inputKey: `c:${slot}:${i}`,
      });
    const fromOwner = Array.from({ length: 100 }, (_, i) => send(1, i));
    const forwarded = Array.from({ length: 100 }, (_, i) => send(0, i));
    const [a, b] = await Promise.all([Promise.all(fromOwner), Promise.all(forwarded)]);
    const versionsA = a.map(rowVersion);
    const versionsB = b.map(rowVersion);
    assert.deepEqual(
      [...versionsA, ...versionsB].sort((x, y) => x - y),
      Array.from({ length: 200 }, (_, i) => i + 2),
    );
    assert.deepEqual(
      versionsA,
      [...versionsA].sort((x, y) => x - y),
      "the owner's own inputs keep their order",
    );
    assert.deepEqual(
      versionsB,
      [...versionsB].sort((x, y) => x - y),
      'forwarded inputs keep their order',
    );
  });

  it('forwarded inputs go from worker to worker directly: the primary carries only the injects', async () => {
    const user = userOwnedBy(primary, 1, 500);
    const kinds: string[] = [];
    const seen = (_worker: unknown, message: { kind?: string }) => kinds.push(String(message.kind));
    cluster.on('message', seen);
    try {
      await primary.injectVia(0, { botId: 'b', userId: user, event: { type: 'start' }, inputKey: 'd:start' });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          primary.injectVia(0, {
            botId: 'b',
            userId: user,
            event: { type: 'text', text: `d${i}` },
            inputKey: `d:${i}`,
          }),
        ),
      );
      assert.deepEqual(
        results.map(rowVersion),
        Array.from({ length: 50 }, (_, i) => i + 2),
        'committed by the owner, in order',
      );
    } finally {
      cluster.off('message', seen);
    }
    assert.deepEqual(
      new Set(kinds),
      new Set(['inject-reply']),
      `the primary saw: ${[...new Set(kinds)].join(',')}`,
    );
    assert.equal(kinds.length, 51);
  });

  it('/metrics on the shared port answers for the whole cluster, whichever worker takes the scrape', async () => {
    const scrape = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } });
      assert.equal(res.status, 200);
      const line = (await res.text()).split('\n').find((l) => l.startsWith('botflow_transitions_total '));
      return Number(line?.split(' ')[1]);
    };
    const seen = [];
    for (let i = 0; i < 8; i++) seen.push(await scrape());
    // One worker committed the 201 transitions above and the other none: only a sum makes every scrape agree.
    assert.ok(seen[0]! >= 201, `summed transitions: ${seen[0]}`);
    assert.deepEqual(
      new Set(seen),
      new Set([seen[0]]),
      `every scrape sees the same total: ${seen.join(',')}`,
    );
  });

  it('SIGKILL of the owner mid-load: answered events are committed, retried ones apply once, the conversation resumes', async () => {
    const user = userOwnedBy(primary, 1, 1000);
    await primary.injectVia(0, { botId: 'b', userId: user, event: { type: 'start' }, inputKey: 'k:start' });
    const victim = primary.pids()[1]!;
    const inputs = Array.from({ length: 60 }, (_, i) => ({
      botId: 'b',
      userId: user,
      event: { type: 'text' as const, text: `x${i}` },
      inputKey: `k:${i}`,
    }));
    const settle = (input: (typeof inputs)[number]) =>
      primary.injectVia(0, input).then(
        () => ({ ok: true as const }),
        (e: unknown) => ({ ok: false as const, e }),
      );
    const early = await Promise.all(inputs.slice(0, 20).map(settle));
    assert.ok(
      early.every((o) => o.ok),
      'before the kill every input is answered',
    );
    const late = inputs.slice(20).map(settle);
    process.kill(victim, 'SIGKILL');
    const outcomes = [...early, ...(await Promise.all(late))];
    for (const o of outcomes) {
      if (!o.ok)
        assert.ok(o.e instanceof BotflowError && o.e.retryable, `failures are retryable: ${String(o.e)}`);
    }
    const answered = outcomes.filter((o) => o.ok).length;
    const probe = await bootstrap({
      env: { DATABASE_URL: fresh.url, LOG_LEVEL: 'silent', TELEGRAM_API_ROOT: 'http://127.0.0.1:9' },
      http: false,
      timerIntervalMs: 0,
      ownAllShards: false,
    });
    const afterKill = await probe.store.load('b', user);
    await probe.close();
    assert.ok(afterKill!.rowVersion >= 1 + answered, 'every answered input is committed');
    // Retry every input (answered ones are duplicates and change nothing) until all are accepted.
    for (const input of inputs) {
      for (let attempt = 0; ; attempt++) {
        try {
          await primary.injectVia(0, input);
          break;
        } catch (error) {
          assert.ok(error instanceof BotflowError && error.retryable);
          assert.ok(attempt < 200, 'the cluster recovered');
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
    await primary.settled();
    assert.ok(primary.pids()[1] !== undefined && primary.pids()[1] !== victim, 'the worker was restarted');
    assert.equal(
      existsSync(join(tmpdir(), `botflow-peer-${victim}.sock`)),
      false,
      "the killed worker's peer socket file is gone",
    );
    assert.ok(events.includes('exit:1') && events.includes('restart:1'));
    const check = await bootstrap({
      env: { DATABASE_URL: fresh.url, LOG_LEVEL: 'silent', TELEGRAM_API_ROOT: 'http://127.0.0.1:9' },
      http: false,
      timerIntervalMs: 0,
      ownAllShards: false,
    });
    const stored = await check.store.load('b', user);
    await check.close();
    assert.equal(stored?.rowVersion, 61, 'start + 60 inputs, each exactly once');
    assert.equal(stored?.snapshot.context.attempts, 60);
  });
});

describe('cluster: a new shard table waits while a worker still claims the current one', () => {
  let fresh: FreshDatabase;
  let primary: PrimaryHandle | undefined;
  let locker: pg.Client;

  before(async () => {
    fresh = await createClusterDatabase();
    locker = new pg.Client({ connectionString: fresh.url });
    await locker.connect();
  });
  after(async () => {
    await primary?.stop();
    await locker.end().catch(() => {});
    await fresh.drop();
  });

  it("sends the second worker's table only once the first worker's claim of every shard is done", async () => {
    // Every shard's row held: the first worker's claim (the whole table, while it is alone) waits.
    await locker.query(
      `insert into shard_epochs (shard, epoch, owner) select s, 0, 'none' from generate_series(0, 1023) s
       on conflict (shard) do nothing`,
    );
    await locker.query('begin');
    await locker.query('select shard from shard_epochs for update');
    const ready: number[] = [];
    primary = await startPrimary({
      workers: 2,
      env: { DATABASE_URL: fresh.url, PORT: String(await freePort()), LOG_LEVEL: 'silent' },
      onEvent: (e) => {
        if (e.kind === 'ready') ready.push(e.slot);
      },
    });
    while (ready.length < 2) await new Promise((r) => setTimeout(r, 20));
    // Version 2 gave every shard to the first worker; the one for both waits for its claim.
    assert.equal(primary.table().version, 2);
    await locker.query('rollback');
    await primary.settled();
    assert.equal(primary.table().version, 3);
    // Each worker holds its own shards at the epoch it claimed last: inputs of both commit, either way in.
    for (const [owner, via] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const user = userOwnedBy(primary, owner);
      const result = (await primary.injectVia(via, {
        botId: 'b',
        userId: user,
        event: { type: 'start' },
        inputKey: `w:${owner}`,
      })) as DispatchResult;
      assert.equal(rowVersion(result), 1);
    }
  });

  it('a worker claims its shard again when another claim landed after its own: STALE_OWNER only until then', async () => {
    const user = userOwnedBy(primary!, 1, 5000);
    const shard = shardOf('b', user);
    // A claim landing late (an older table's, or a dead worker's statement): the epoch moves on.
    await locker.query(`update shard_epochs set epoch = epoch + 1, owner = 'late-claim' where shard = $1`, [
      shard,
    ]);
    const refused: string[] = [];
    let result: DispatchResult | undefined;
    for (let i = 0; i < 30 && result === undefined; i++) {
      try {
        result = (await primary!.injectVia(0, {
          botId: 'b',
          userId: user,
          event: { type: 'start' },
          inputKey: `reclaim:${i}`,
        })) as DispatchResult;
      } catch (error) {
        refused.push((error as BotflowError).code);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(result !== undefined, `never committed; refused: ${refused.join(', ')}`);
    assert.ok(refused.length >= 1, 'the first input met the stale epoch');
    assert.deepEqual([...new Set(refused)], ['STALE_OWNER']);
    const { rows } = await locker.query<{ owner: string }>(
      `select owner from shard_epochs where shard = $1`,
      [shard],
    );
    assert.notEqual(rows[0]?.owner, 'late-claim');
  });

  it('a worker whose claim failed takes its shards once Postgres answers again, with no newer table to come', async () => {
    const user = userOwnedBy(primary!, 1, 9000);
    const before = primary!.table().version;
    const victim = primary!.pids()[1]!;
    // Every claim fails while the table is away (as in a Postgres outage at a table change).
    await locker.query('alter table shard_epochs rename to shard_epochs_away');
    try {
      process.kill(victim, 'SIGKILL');
      // Two tables follow: every shard to the first worker, then half back to the restarted one
      // (sent 5 s later, since the first worker's claim fails); the restarted worker's claim fails too.
      while (primary!.table().version < before + 2) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await locker.query('alter table shard_epochs_away rename to shard_epochs');
    }
    const refused: string[] = [];
    let result: DispatchResult | undefined;
    for (let i = 0; i < 100 && result === undefined; i++) {
      try {
        result = (await primary!.injectVia(i % 2, {
          botId: 'b',
          userId: user,
          event: { type: 'start' },
          inputKey: `claim-retry:${i}`,
        })) as DispatchResult;
      } catch (error) {
        refused.push((error as BotflowError).code);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(result !== undefined, `never committed; refused: ${[...new Set(refused)].join(', ')}`);
    assert.equal(primary!.table().version, before + 2, 'no newer table came to take the shards');
    assert.notEqual(primary!.pids()[1], victim, 'the worker was restarted');
    await primary!.settled();
  });
});
