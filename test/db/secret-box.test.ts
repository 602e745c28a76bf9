import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSecretBox, parseSecretKey } from '../../src/db/secret-box.ts';
import type { BotflowError } from '../../src/errors.ts';

const KEY = '0f'.repeat(32);
const TOKEN = '7100000001:AAsecret-bot-token';

describe('secret box', () => {
  it('seals a secret so the stored text does not contain it, and opens it again', () => {
    const box = createSecretBox(KEY);
    const sealed = box.seal(TOKEN, 'bots.token:b1');
    assert.ok(sealed.startsWith('bf1:'));
    assert.ok(!sealed.includes(TOKEN) && !sealed.includes('secret-bot-token'));
    assert.notEqual(box.seal(TOKEN, 'bots.token:b1'), sealed, 'a fresh IV per seal');
    assert.equal(box.open(sealed, 'bots.token:b1'), TOKEN);
  });

  it('refuses a sealed value moved to another bot or field, a wrong key, or a missing key', () => {
    const sealed = createSecretBox(KEY).seal(TOKEN, 'bots.token:b1');
    const refused = (fn: () => unknown, message: RegExp) =>
      assert.throws(fn, (e: BotflowError) => e.code === 'CONFIG_INVALID' && message.test(e.message));
    refused(() => createSecretBox(KEY).open(sealed, 'bots.token:b2'), /does not open/);
    refused(() => createSecretBox(KEY).open(sealed, 'bots.webhook_secret:b1'), /does not open/);
    refused(() => createSecretBox('1e'.repeat(32)).open(sealed, 'bots.token:b1'), /does not open/);
    refused(() => createSecretBox().open(sealed, 'bots.token:b1'), /set BOTFLOW_SECRET_KEY/);
  });

  it('passes plain values through both ways without a key, and opens plain values with one', () => {
    assert.equal(createSecretBox().seal(TOKEN, 'x'), TOKEN);
    assert.equal(createSecretBox(KEY).open(TOKEN, 'x'), TOKEN);
  });

  it('takes a key as 64 hex characters or base64 of 32 bytes, nothing else', () => {
    assert.equal(parseSecretKey(KEY).length, 32);
    assert.equal(parseSecretKey(Buffer.alloc(32, 7).toString('base64')).length, 32);
    assert.throws(() => parseSecretKey('short'), /32 bytes/);
  });
});
