/**
 * Commit rows for the group commit's tests: each call makes the first commit of a new conversation
 * (a new user id, counted up from `firstUser`) of `botId`, with nothing in it but what `overrides` sets.
 */
import type { CommitRow } from '../../src/runtime/ports.ts';

/** A factory of fresh commit rows for one bot. */
export function createCommitRows(
  botId: string,
  firstUser: number,
  defaults: Partial<CommitRow> = {},
): (overrides?: Partial<CommitRow>) => CommitRow {
  let nextUser = firstUser;
  return (overrides = {}) => ({
    botId,
    userId: String(nextUser++),
    shard: 3,
    epoch: 0,
    expectedVersion: 0,
    flowId: 'f',
    flowVersion: 1,
    snapshot: { status: 'active', value: 'welcome', context: {} as never },
    effects: [],
    timersStarted: [],
    timersCancelled: [],
    inputKey: null,
    ...defaults,
    ...overrides,
  });
}
