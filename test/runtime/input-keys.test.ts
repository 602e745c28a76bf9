import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inputKeys } from '../../src/runtime/input-keys.ts';

describe('inputKeys', () => {
  it('builds the stored key formats (rows already in processed_inputs depend on them)', () => {
    assert.equal(inputKeys.telegram('bot1', 42), 'tg:bot1:42');
    assert.equal(inputKeys.timer('bot1', '7', 't1', 1_700_000_000_000), 'timer:bot1:7:t1:1700000000000');
    assert.equal(inputKeys.effectDone('bot1:7:3:0'), 'effect:bot1:7:3:0');
    assert.equal(inputKeys.effectFailed('bot1:7:3:0'), 'effect-failed:bot1:7:3:0');
    assert.equal(inputKeys.payment('paid', 'o-1'), 'paid:o-1');
    assert.equal(inputKeys.payment('expired', 'o-1'), 'expired:o-1');
    assert.equal(inputKeys.accessEnded('o-1'), 'access-ended:o-1');
  });

  it('matches every Telegram key and no other kind with its like pattern', () => {
    const like = new RegExp(`^${inputKeys.telegramLikePattern.replaceAll('%', '.*')}$`);
    assert.match(inputKeys.telegram('b', 1), like);
    for (const other of [
      inputKeys.timer('tg', '1', 't', 1),
      inputKeys.effectDone('tg:1'),
      inputKeys.payment('paid', 'tg:1'),
    ]) {
      assert.doesNotMatch(other, like, other);
    }
  });
});
