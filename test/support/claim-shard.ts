/** Test helper: claims one shard through the store's real path (`claimShards`), as a worker does at start. */
import type { PostgresConversationStore } from '../../src/db/conversation-store.ts';

/** Claims `shard` for `owner` and returns its new epoch. */
export async function claimShard(
  store: Pick<PostgresConversationStore, 'claimShards'>,
  shard: number,
  owner: string,
): Promise<number> {
  return (await store.claimShards([shard], owner)).get(shard)!;
}
