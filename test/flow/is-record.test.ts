import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRecord } from '../../src/flow/is-record.ts';

describe('isRecord', () => {
  it('accepts objects with string keys, parsed or built', () => {
    assert.equal(isRecord({}), true);
    assert.equal(isRecord(JSON.parse('{"a":1}')), true);
    assert.equal(isRecord(Object.create(null)), true);
  });

  it('refuses null, arrays and every primitive', () => {
    for (const value of [null, undefined, [], [1], 'x', 1, true, 1n]) {
      assert.equal(isRecord(value), false, JSON.stringify(String(value)));
    }
  });
});
