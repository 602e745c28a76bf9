import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeBackoff } from '../../src/runtime/compute-backoff.ts';

describe('computeBackoff', () => {
  it('starts at the base and doubles per attempt', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((attempt) => computeBackoff(attempt, 200)),
      [200, 400, 800, 1600],
    );
  });

  it('is capped at the maximum', () => {
    assert.deepEqual(
      [7, 8, 9].map((attempt) => computeBackoff(attempt, 200, 10_000)),
      [10_000, 10_000, 10_000],
    );
    assert.equal(computeBackoff(6, 200, 10_000), 6400);
  });

  it('stays finite on a long failure streak', () => {
    assert.equal(computeBackoff(5000, 500, 30_000), 30_000);
    assert.ok(Number.isFinite(computeBackoff(5000, 1)));
  });
});
