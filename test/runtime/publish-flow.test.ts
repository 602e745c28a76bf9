import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createFlowRepository } from '../../src/db/flow-repository.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { BotflowError } from '../../src/errors.ts';
import { createFlowCompiler } from '../../src/runtime/compile-pool.ts';
import { createFlowPublisher } from '../../src/runtime/publish-flow.ts';
import { askForever } from '../support/flows.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';

describe('publishing a flow (real compiler, real Postgres)', () => {
  let fresh: FreshDatabase;
  let db: DatabaseHandle;
  const compiler = createFlowCompiler();
  const invalidated: string[] = [];
  const broadcast: string[] = [];
  let broadcastFails = false;
  let publish: ReturnType<typeof createFlowPublisher>;

  before(async () => {
    fresh = await createFreshDatabase();
    db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
    await db.orm.em
      .getConnection()
      .execute(`insert into bots (id, username, token, webhook_secret) values ('b1', 'b1_bot', 'x', 'y')`);
    publish = createFlowPublisher({
      compiler,
      flows: createFlowRepository(db.orm),
      invalidate: (botId) => invalidated.push(botId),
      broadcast: async (botId) => {
        if (broadcastFails) throw new Error('redis down');
        broadcast.push(botId);
      },
      logger: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    await compiler.close();
    await db.close();
    await fresh.drop();
  });

  it('publishes the next version, drops the cached one and tells the other workers', async () => {
    assert.equal(await publish('b1', askForever), 1);
    assert.equal(await publish('b1', askForever), 2);
    assert.deepEqual(invalidated, ['b1', 'b1']);
    assert.deepEqual(broadcast, ['b1', 'b1']);
    const versions = await createFlowRepository(db.orm).listVersions('ask-forever');
    assert.deepEqual(versions.map((v) => v.version).sort(), [1, 2]);
  });

  it('still publishes when the broadcast fails (the others catch up at the cache TTL)', async () => {
    broadcastFails = true;
    assert.equal(await publish('b1', askForever), 3);
    broadcastFails = false;
  });

  it('refuses a flow without an id, or an invalid one, and publishes nothing', async () => {
    const refused = (e: unknown) => e instanceof BotflowError && e.code === 'INVALID_FLOW';
    await assert.rejects(publish('b1', { ...askForever, id: undefined }), refused);
    await assert.rejects(publish('b1', { ...askForever, flow_steps: [] }), refused);
    assert.equal((await createFlowRepository(db.orm).listVersions('ask-forever')).length, 3);
  });
});
