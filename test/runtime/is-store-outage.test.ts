import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import { isStoreOutage } from '../../src/runtime/is-store-outage.ts';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isStoreOutage', () => {
  it('is true for STORE_UNAVAILABLE and for raw driver errors of a lost or refused connection', () => {
    assert.equal(isStoreOutage(new BotflowError('STORE_UNAVAILABLE', 'the database did not answer')), true);
    assert.equal(isStoreOutage(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')), true);
    assert.equal(
      isStoreOutage(withCode('terminating connection due to administrator command', '57P01')),
      true,
    );
    assert.equal(isStoreOutage(withCode('connection failure', '08006')), true);
    assert.equal(isStoreOutage(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isStoreOutage(new Error('Connection is closed.')), true);
    assert.equal(
      isStoreOutage(new Error('query failed', { cause: withCode('read ECONNRESET', 'ECONNRESET') })),
      true,
    );
  });

  it('is false for everything else, and a coded error is judged by its code alone', () => {
    // Telegram or a gateway unreachable is the effect's own failure, counted and retried as such.
    const upstream = new BotflowError('UPSTREAM_FAILED', 'Telegram sendMessage: network error', {
      cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED'),
    });
    assert.equal(isStoreOutage(upstream), false);
    assert.equal(isStoreOutage(new BotflowError('UPSTREAM_REJECTED', 'chat not found')), false);
    assert.equal(isStoreOutage(withCode('duplicate key value', '23505')), false);
    assert.equal(isStoreOutage(new TypeError('x is not a function')), false);
    assert.equal(isStoreOutage('down'), false);
  });
});
