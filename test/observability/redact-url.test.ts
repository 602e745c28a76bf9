import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrl } from '../../src/observability/redact-url.ts';

describe('redactUrl', () => {
  it('hides a password and keeps the rest', () => {
    assert.equal(redactUrl('postgres://bot:hunter2@db:5432/x'), 'postgres://bot:***@db:5432/x');
    assert.equal(redactUrl('postgres://db/x'), 'postgres://db/x');
    assert.equal(redactUrl('::nope::'), '<unparseable url>');
  });
});
