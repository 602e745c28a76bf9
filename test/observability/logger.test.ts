import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, scrubSecrets } from '../../src/observability/logger.ts';

/** A logger writing its JSON lines into an array. */
function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

const TOKEN = '7200000999:AAsecret-token_value';

describe('createLogger', () => {
  it('scrubs bot tokens from a logged error: message, stack and cause', () => {
    const { logger, lines } = captureLogger();
    const cause = new Error(`connect ECONNREFUSED for https://api.telegram.org/bot${TOKEN}/getMe`);
    const error = new Error(`request to https://api.telegram.org/bot${TOKEN}/sendMessage failed`, { cause });
    logger.error({ err: error, bot_id: 'b1' }, 'request failed');
    const text = JSON.stringify(lines);
    assert.equal(lines.length, 1);
    assert.ok(!text.includes('AAsecret'), text);
    assert.match(String((lines[0]!['err'] as { message: string }).message), /bot\[REDACTED\]\/sendMessage/);
    assert.equal(lines[0]!['bot_id'], 'b1');
  });

  it('still redacts secret-bearing fields by name', () => {
    const { logger, lines } = captureLogger();
    logger.info({ bot: { token: TOKEN }, webhook_secret: 'shh' }, 'registered');
    assert.deepEqual(lines[0]!['bot'], { token: '[REDACTED]' });
    assert.equal(lines[0]!['webhook_secret'], '[REDACTED]');
  });
});

describe('scrubSecrets', () => {
  it('replaces bot<token> URL segments and known secret values', () => {
    assert.equal(scrubSecrets(`GET /bot${TOKEN}/getMe`), 'GET /bot[REDACTED]/getMe');
    assert.equal(scrubSecrets('key=abcd1234 ok', ['abcd1234']), 'key=[REDACTED] ok');
    assert.equal(scrubSecrets('short abc', ['abc']), 'short abc', 'values under 4 characters are left');
  });
});
