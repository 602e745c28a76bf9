import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listPolledBots } from '../../src/bot/list-polled-bots.ts';
import { createBotRepository } from '../../src/db/bot-repository.ts';
import { createSecretBox } from '../../src/db/secret-box.ts';
import { useMigratedDatabase } from '../db/fresh-database.ts';

describe('the bots long polling fetches for (real Postgres, sealed secrets)', () => {
  const database = useMigratedDatabase();

  it('lists every registered bot with its own token, and forgets a removed one', async () => {
    const bots = createBotRepository(database.db.orm, createSecretBox('5a'.repeat(32)));
    assert.deepEqual(await listPolledBots(bots), []);
    for (const n of [1, 2, 3])
      await bots.upsert({
        id: `poll-${n}`,
        username: `poll_${n}_bot`,
        token: `72000003${n}0:AAtok-${n}`,
        webhookSecret: `s${n}`,
      });
    await bots.remove('poll-2');
    const listed = await listPolledBots(bots);
    assert.deepEqual(
      listed.sort((a, b) => a.id.localeCompare(b.id)),
      [
        { id: 'poll-1', token: '7200000310:AAtok-1' },
        { id: 'poll-3', token: '7200000330:AAtok-3' },
      ],
    );
  });
});
