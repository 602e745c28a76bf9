import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashId } from '../../src/flow/hash-id.ts';

describe('hashId', () => {
  it('is the FNV-1a tag buttons already in chats carry: these values must never change', () => {
    assert.equal(hashId(''), 'ztntfp');
    assert.equal(hashId('offers'), '1nw0smi');
    assert.equal(hashId('vip-funnel'), '43rzev');
  });

  it('fits in 7 base36 characters for ids of any length', () => {
    for (const id of ['a', 'a'.repeat(64), 'x'.repeat(10_000)]) assert.match(hashId(id), /^[0-9a-z]{1,7}$/);
  });
});
