/**
 * Per-user arrival times of the fake Bot API's calls, hooked into its recording (`calls.push`), so a
 * benchmark can wait for a user's n-th call and read when it reached the fake.
 */
import type { FakeBotApi, RecordedCall } from '../../src/sim/fake-bot-api.ts';

/** Which user a recorded call answers: its chat, or the user encoded in a callback query id. */
function userOf(call: RecordedCall): number | undefined {
  const chat = Number(call.params['chat_id']);
  if (Number.isInteger(chat) && chat > 0) return chat;
  const query = /^q(\d+)_/.exec(String(call.params['callback_query_id'] ?? ''));
  return query === null ? undefined : Number(query[1]);
}

/** Starts watching `fake`'s calls; `q<user>_...` callback query ids name their user. */
export function watchCalls(fake: FakeBotApi) {
  const times = new Map<number, number[]>();
  const waiters = new Map<number, { count: number; resolve(): void }>();
  const record = fake.calls.push.bind(fake.calls);
  fake.calls.push = (...calls: RecordedCall[]) => {
    for (const call of calls) {
      const user = userOf(call);
      if (user === undefined) continue;
      const list = times.get(user) ?? [];
      list.push(call.at);
      times.set(user, list);
      const waiter = waiters.get(user);
      if (waiter !== undefined && list.length >= waiter.count) {
        waiters.delete(user);
        waiter.resolve();
      }
    }
    return record(...calls);
  };
  return {
    count: (user: number) => times.get(user)?.length ?? 0,
    at: (user: number, index: number) => times.get(user)![index]!,
    /** Resolves once `user` has `count` calls; rejects after `timeoutMs`. */
    until(user: number, count: number, timeoutMs = 20_000): Promise<void> {
      if ((times.get(user)?.length ?? 0) >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(user);
          reject(
            new Error(
              `user ${user}: ${times.get(user)?.length ?? 0} of ${count} sends after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        waiters.set(user, {
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}
