/** Buyer facts come from the committed conversation's snapshot (real Postgres). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readBuyerFacts } from '../../src/db/read-buyer-facts.ts';
import { useMigratedDatabase } from './fresh-database.ts';

const database = useMigratedDatabase();

describe('readBuyerFacts', () => {
  it("reads the snapshot's buyer; null without a conversation or without facts", async () => {
    const insert = (userId: number, context: unknown) =>
      database.sql(
        `insert into conversations (bot_id, user_id, flow_id, flow_version, xstate_version, snapshot, row_version, shard)
         values ('b', $1, 'f', 1, '5', $2, 1, 0)`,
        [userId, JSON.stringify({ status: 'active', value: 'x', context })],
      );
    await insert(1, { buyer: { email: 'a@example.com', phone: '+5511987654321' } });
    await insert(2, { attempts: 0 });
    assert.deepEqual(await readBuyerFacts(database.sql, 'b', '1'), {
      email: 'a@example.com',
      phone: '+5511987654321',
    });
    assert.equal(await readBuyerFacts(database.sql, 'b', '2'), null);
    assert.equal(await readBuyerFacts(database.sql, 'b', '3'), null);
    assert.equal(await readBuyerFacts(database.sql, 'other', '1'), null);
  });
});
