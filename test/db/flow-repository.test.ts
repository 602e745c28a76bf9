import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFlowRepository, type FlowRepository } from '../../src/db/flow-repository.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { BotflowError } from '../../src/errors.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';

const flow = (text: string) => ({
  id: 'f1',
  flow_start_step_id: 'a',
  flow_steps: [{ id: 'a', type: 'end', config: { text } }],
});

describe('flow repository', () => {
  let fresh: FreshDatabase;
  let db: DatabaseHandle;
  let repo: FlowRepository;

  before(async () => {
    fresh = await createFreshDatabase();
    db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
    repo = createFlowRepository(db.orm);
  });
  after(async () => {
    await db.close();
    await fresh.drop();
  });

  it('drafts are saved and updated; a draft id cannot move to another bot', async () => {
    await repo.saveDraft({ id: 'f1', botId: 'bot-a', name: 'First', draft: flow('one') });
    const updated = await repo.saveDraft({ id: 'f1', botId: 'bot-a', name: 'Renamed', draft: flow('two') });
    assert.equal(updated.name, 'Renamed');
    assert.deepEqual((await repo.getFlow('f1'))?.draft, flow('two'));
    await assert.rejects(repo.saveDraft({ id: 'f1', botId: 'bot-b', name: 'x', draft: {} }), (e: unknown) => {
      return e instanceof BotflowError && e.code === 'CONFLICT';
    });
  });

  it('concurrent publishes get consecutive immutable versions; the newest is what the bot runs', async () => {
    const published = await Promise.all(
      Array.from({ length: 8 }, (_, i) => repo.publish('f1', flow(`v${i}`), { i })),
    );
    assert.deepEqual(
      published.map((p) => p.version).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    const latest = await repo.latestPublished('bot-a');
    assert.equal(latest?.version, 8);
    for (const [i, p] of published.entries())
      assert.deepEqual(await repo.getVersion('f1', p.version), flow(`v${i}`));
    assert.equal((await repo.listVersions('f1')).length, 8);
    assert.equal(await repo.getVersion('f1', 99), null);
    assert.equal(await repo.latestPublished('nobody'), null);
  });

  it('refuses to publish a definition whose id differs from the flow id', async () => {
    await assert.rejects(repo.publish('f1', { ...flow('x'), id: 'other' }, {}), (e: unknown) => {
      return e instanceof BotflowError && e.code === 'BAD_REQUEST';
    });
  });
});
