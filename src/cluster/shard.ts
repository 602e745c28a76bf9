// TEMP (replaced by the cluster branch)
export const SHARD_COUNT = 1024;
export function shardOf(botId: string, userId: string | number): number {
  let h = 0x811c9dc5;
  const s = `${botId}:${userId}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % SHARD_COUNT;
}
