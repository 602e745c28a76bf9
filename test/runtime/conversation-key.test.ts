import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conversationKeyOf } from '../../src/runtime/conversation-key.ts';

describe('conversationKeyOf', () => {
  it('is one key per bot and user, distinct across bots and users', () => {
    assert.equal(conversationKeyOf('bot1', '42'), conversationKeyOf('bot1', '42'));
    const keys = new Set([
      conversationKeyOf('bot1', '42'),
      conversationKeyOf('bot1', '43'),
      conversationKeyOf('bot2', '42'),
    ]);
    assert.equal(keys.size, 3);
  });
});
