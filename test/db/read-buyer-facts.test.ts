/** Buyer facts come from the committed conversation's snapshot (real Postgres). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { readBuyerFacts } from '../../src/db/read-buyer-facts.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { createFreshDatabase, type FreshDatabase } from './fresh-database.ts';

let fresh: FreshDatabase;
let db: DatabaseHandle;
let sql: ReturnType<typeof createSql>;
before(async () => {
  fresh = await createFreshDatabase();
  db = await openDatabase({ url: fresh.url, dataDir: '/nonexistent' });
  sql = createSql(db.orm);
});
after(async () => {
  await db.close();
  await fresh.drop();
});

describe('readBuyerFacts', () => {
  it("reads the snapshot's buyer; null without a conversation or without facts", async () => {
    const insert = (userId: number, context: unknown) =>
      sql(
        `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard)
         values ('b', $1, 'f', 1, '5', $2, 1, 0)`,
        [userId, JSON.stringify({ status: 'active', value: 'x', context })],
      );
    await insert(1, { buyer: { email: 'a@example.com', phone: '+5511987654321' } });
    await insert(2, { attempts: 0 });
    assert.deepEqual(await readBuyerFacts(sql, 'b', '1'), {
      email: 'a@example.com',
      phone: '+5511987654321',
    });
    assert.equal(await readBuyerFacts(sql, 'b', '2'), null);
    assert.equal(await readBuyerFacts(sql, 'b', '3'), null);
    assert.equal(await readBuyerFacts(sql, 'other', '1'), null);
  });
});
