/**
 * The hosts scenario's throughput load: the webhook benchmark's four updates per user (/start, a wrong
 * e-mail, an e-mail, the first offer button; benchmarks/lib/funnel-update.ts) posted as Telegram
 * would, through the front door, a fixed number of users at a time and each user's updates in order.
 * An update answered other than 2xx is posted again (Telegram redelivers). The rate is measured to
 * the commit, not the answer: in broker mode a 200 only means the broker holds the update.
 */
import type pg from 'pg';
import { encodeCallbackData } from '../../src/telegram/callback-data.ts';
import { updateOf } from '../../benchmarks/lib/funnel-update.ts';
import { createHttpClient, runConcurrently } from '../../benchmarks/lib/http-load.ts';
import { commitRate } from './measure-fault.ts';

const PER_USER = 4;

/** One run of the load: how many updates, committed in how long. */
export interface LoadResult {
  updates: number;
  committed: number;
  seconds: number;
  updates_per_second: number;
  /** Posts answered other than 2xx (and posted again). */
  retried: number;
}

/** Posts one update until it is answered 2xx (at most 20 times); returns the retries. */
async function post(client: ReturnType<typeof createHttpClient>, url: string, secret: string, body: string) {
  for (let attempt = 0; ; attempt++) {
    const answer = await client
      .send(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
        body,
      })
      .catch(() => ({ status: 0 }));
    if (answer.status >= 200 && answer.status < 300) return attempt;
    if (attempt >= 20) throw new Error(`an update was answered ${answer.status} 20 times`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Drives `users` users (ids from `firstUser`, update ids from `firstUpdateId`) and measures the commit rate. */
export async function driveLoad(
  system: { url: string; secret: string; bot: { id: string }; db: pg.Pool; flowVersion: number },
  options: { firstUser: number; firstUpdateId: number; users: number; concurrency: number },
): Promise<LoadResult> {
  const client = createHttpClient(options.concurrency);
  const url = `${system.url}/telegram/${system.bot.id}`;
  const button = encodeCallbackData({ version: system.flowVersion, step: 'offers', index: 0 });
  const keys: string[] = [];
  let retried = 0;
  const startedAt = Date.now();
  try {
    await runConcurrently(options.users, options.concurrency, async (i) => {
      for (let k = 0; k < PER_USER; k++) {
        const updateId = options.firstUpdateId + i * PER_USER + k;
        keys.push(`tg:${system.bot.id}:${updateId}`);
        const body = JSON.stringify(updateOf(options.firstUser + i, k, button, updateId));
        retried += await post(client, url, system.secret, body);
      }
    });
  } finally {
    client.close();
  }
  const rate = await commitRate(system.db, keys, startedAt, 60_000);
  return {
    updates: keys.length,
    committed: rate.committed,
    seconds: rate.seconds,
    updates_per_second: rate.per_second,
    retried,
  };
}
