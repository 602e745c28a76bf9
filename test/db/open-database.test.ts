import assert from 'node:assert/strict';
import { MIGRATIONS } from '../../src/db/migrations/index.ts';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createConversationStore } from '../../src/db/conversation-store.ts';
import { openDatabase } from '../../src/db/open-database.ts';
import { BotflowError } from '../../src/errors.ts';
import type { CommitRow } from '../../src/runtime/ports.ts';
import { claimShard } from '../support/claim-shard.ts';

function commitRow(expectedVersion: number, step: string): CommitRow {
  return {
    botId: 'bot1',
    userId: '123456789',
    shard: 3,
    epoch: 1,
    expectedVersion,
    flowId: 'flow1',
    flowVersion: 2,
    snapshot: { status: 'active', value: step, context: {} as never },
    effects: [{ key: `bot1:123456789:${expectedVersion + 1}:0`, effect: { type: 'send' } as never }],
    timersStarted: [{ timerId: 'remind', dueAt: 2_000_000_000_000, event: { type: 'remind' } }],
    timersCancelled: [],
    inputKey: `update:${expectedVersion}`,
  };
}

describe('openDatabase', () => {
  it('embedded: PGlite in <dataDir>/pglite over the wire protocol migrates, commits and reloads after reopen', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'botflow-pglite-'));
    try {
      const first = await openDatabase({ dataDir });
      assert.equal(first.embedded, true);
      assert.match(first.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      assert.ok((await stat(join(dataDir, 'pglite'))).isDirectory());

      // A plain pg client reaches the same database over the socket.
      const client = new pg.Client({ connectionString: first.url });
      await client.connect();
      const applied = await client.query('select name from mikro_orm_migrations');
      await client.end();
      assert.deepEqual(
        applied.rows,
        MIGRATIONS.map((m) => ({ name: m.name })),
      );

      const store = createConversationStore(first.orm);
      assert.equal(await claimShard(store, 3, 'embedded'), 1);
      assert.deepEqual(await store.commitBatch([commitRow(0, 'welcome')]), ['ok']);
      assert.deepEqual(await store.commitBatch([commitRow(1, 'offer')]), ['ok']);
      await first.close();

      const second = await openDatabase({ dataDir });
      try {
        const reopened = createConversationStore(second.orm);
        const loaded = await reopened.load('bot1', '123456789');
        assert.deepEqual(loaded, {
          botId: 'bot1',
          userId: '123456789',
          flowId: 'flow1',
          flowVersion: 2,
          snapshot: { status: 'active', value: 'offer', context: {} },
          rowVersion: 2,
          timers: { remind: 2_000_000_000_000 },
        });
        assert.deepEqual(await reopened.commitBatch([commitRow(1, 'stale')]), ['duplicate_input']);
        assert.deepEqual(
          (await reopened.dueTimers([3], 2_000_000_000_000, 10)).map((t) => t.timerId),
          ['remind'],
        );
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('reports an unreachable Postgres as STORE_UNAVAILABLE without the password', async () => {
    const url = 'postgres://botflow:hunter2-secret@127.0.0.1:1/botflow';
    await assert.rejects(openDatabase({ url, dataDir: '/nonexistent' }), (error: unknown) => {
      assert.ok(error instanceof BotflowError);
      assert.equal(error.code, 'STORE_UNAVAILABLE');
      assert.match(error.message, /127\.0\.0\.1:1/);
      const cause = error.cause instanceof Error ? error.cause.message : '';
      for (const text of [error.message, JSON.stringify(error.toJSON()), cause]) {
        assert.ok(!text.includes('hunter2'), `no password in ${text}`);
      }
      return true;
    });
  });
});
