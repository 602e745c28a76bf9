/** Tracking bindings read from bot_users, the reads of one tick in one statement (real Postgres). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBindingReader } from '../../src/db/read-bindings.ts';
import type { Sql } from '../../src/db/sql-client.ts';
import { useMigratedDatabase } from './fresh-database.ts';

const database = useMigratedDatabase();

describe('createBindingReader', () => {
  it('gives each caller its own binding (null without a row), the reads of one tick in one statement', async () => {
    const click = { bot_id: 'b', slug: 's', created_at: 1, fbclid: 'fb-1' };
    await database.sql(
      `insert into bot_users (bot_id, user_id, tracking_token, tracking_payload, fbclid)
       values ('b', 1, 'tok-1', $1, 'fb-1'), ('b', 2, null, null, null)`,
      [JSON.stringify(click)],
    );
    const statements: string[] = [];
    const counting: Sql = (text, params) => {
      statements.push(text);
      return database.sql(text, params);
    };
    const pick = (b: Awaited<ReturnType<ReturnType<typeof createBindingReader>>>) =>
      b === null ? null : { token: b.tracking_token, payload: b.tracking_payload, fbclid: b.fbclid };
    const bindingOf = createBindingReader(counting);
    const [one, two, none] = await Promise.all([
      bindingOf('b', '1'),
      bindingOf('b', '2'),
      bindingOf('b', '3'),
    ]);
    assert.deepEqual(pick(one), { token: 'tok-1', payload: click, fbclid: 'fb-1' });
    assert.deepEqual(pick(two), { token: null, payload: null, fbclid: null });
    assert.equal(none, null);
    assert.equal(statements.length, 1);
  });
});
