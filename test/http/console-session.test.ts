import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConsoleSessions, SESSION_COOKIE } from '../../src/http/console-session.ts';

describe('console sessions (signed cookie)', () => {
  it('accepts its own unexpired session only', () => {
    let now = 1_000_000;
    const sessions = createConsoleSessions({ adminToken: 'tok-1', ttlSeconds: 60, now: () => now });
    const { value, maxAgeSeconds } = sessions.issue();
    assert.equal(maxAgeSeconds, 60);
    assert.equal(sessions.check(`other=1; ${SESSION_COOKIE}=${value}`), true);
    assert.notEqual(sessions.issue().value, value, 'each session id is random');
    const [id, expires, mac] = value.split('.');
    assert.equal(
      sessions.check(`${SESSION_COOKIE}=${id}.${Number(expires) + 3600}.${mac}`),
      false,
      'expiry is signed',
    );
    assert.equal(sessions.check(`${SESSION_COOKIE}=x${id}.${expires}.${mac}`), false);
    assert.equal(sessions.check(undefined), false);
    const otherToken = createConsoleSessions({ adminToken: 'tok-2', ttlSeconds: 60, now: () => now });
    assert.equal(
      otherToken.check(`${SESSION_COOKIE}=${value}`),
      false,
      'a new admin token ends every session',
    );
    now += 61_000;
    assert.equal(sessions.check(`${SESSION_COOKIE}=${value}`), false, 'expired');
  });
});
