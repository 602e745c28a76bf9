/**
 * Conversation addressing: `shard = murmur3_32(`${botId}:${userId}`) % 1024`. The hash is fixed
 * forever (stored data and shard epochs depend on it), fast on ASCII ids, and spreads sequential ids
 * evenly over the shards.
 */

/** The number of virtual shards; a power of two, so `% SHARD_COUNT` keeps the hash's low bits. */
export const SHARD_COUNT = 1024;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function hashBytes(bytes: ArrayLike<number>, seed: number): number {
  const length = bytes.length;
  const whole = length & ~3;
  let h = seed | 0;
  for (let i = 0; i < whole; i += 4) {
    h = mixBlock(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[whole]!;
    if (tail > 1) k |= bytes[whole + 1]! << 8;
    if (tail > 2) k |= bytes[whole + 2]! << 16;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86 32-bit of the UTF-8 bytes of `text` (unsigned); exported for its test vectors. */
export function hashText(text: string, seed = 0): number {
  // ASCII (every bot and Telegram id) is hashed from char codes without allocating a buffer.
  const codes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return hashBytes(Buffer.from(text, 'utf8'), seed);
    codes.push(c);
  }
  return hashBytes(codes, seed);
}

/** The shard (0..1023) of the conversation between a bot and a user; stable across processes and releases. */
export function shardOf(botId: string, userId: string | number): number {
  return hashText(`${botId}:${userId}`) % SHARD_COUNT;
}
