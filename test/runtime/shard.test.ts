import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashText, SHARD_COUNT, shardOf } from '../../src/runtime/shard.ts';

describe('shardOf', () => {
  it('is MurmurHash3 x86_32 (published vectors, including multi-byte UTF-8)', () => {
    const vectors: Array<[string, number, number]> = [
      ['', 0, 0],
      ['', 1, 0x514e28b7],
      ['', 0xffffffff, 0x81f16f39],
      ['\0\0\0\0', 0, 0x2362f9de],
      ['a', 0x9747b28c, 0x7fa09ea6],
      ['abc', 0x9747b28c, 0xc84a62dd],
      ['abcd', 0x9747b28c, 0xf0478627],
      ['Hello, world!', 0x9747b28c, 0x24884cba],
      ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
      ['ππππππππ', 0x9747b28c, 0xd58063c1],
    ];
    for (const [text, seed, expected] of vectors) assert.equal(hashText(text, seed), expected, text);
  });

  it('is stable: fixed ids keep their shards forever', () => {
    assert.equal(shardOf('bot1', 1), shardOf('bot1', '1'), 'numeric and string user ids agree');
    assert.deepEqual([shardOf('bot1', 1), shardOf('bot1', 123456789), shardOf('42', 'x')], [124, 910, 790]);
  });

  it('spreads 100k sequential user ids evenly over the 1024 shards (chi-square)', () => {
    const counts = new Array<number>(SHARD_COUNT).fill(0);
    const n = 100_000;
    for (let user = 1; user <= n; user++) counts[shardOf('bot-7', 5_000_000_000 + user)]!++;
    const expected = n / SHARD_COUNT;
    const chi = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    // 1023 degrees of freedom: mean 1023, sd ~45; 1250 is 5 sd above the mean.
    assert.ok(chi < 1250, `chi-square ${chi.toFixed(1)}`);
    assert.ok(Math.min(...counts) > 0);
  });

  it('returns integers in range for any input', () => {
    for (const user of [0, -1, '', 'x'.repeat(1000), '\u{1F600}', Number.MAX_SAFE_INTEGER]) {
      const shard = shardOf('bot', user);
      assert.ok(Number.isInteger(shard) && shard >= 0 && shard < SHARD_COUNT);
    }
  });
});
