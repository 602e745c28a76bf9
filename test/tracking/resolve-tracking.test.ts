import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { preferLaterClick, resolveTracking } from '../../src/tracking/resolve-tracking.ts';

describe('resolveTracking', () => {
  const click = (fbclid: string) => ({ bot_id: 'b1', slug: 's', created_at: 1, fbclid });
  it("prefers the user binding, then the chat index, the fbclid index, the user's fields, none", () => {
    const all = {
      userBinding: { token: 't1', payload: click('a') },
      chatIndex: { token: 't2', payload: click('b') },
      fbclidIndex: { token: 't3', payload: click('c') },
      userFields: { fbclid: 'd' },
    };
    assert.equal(resolveTracking(all).source, 'user_binding');
    assert.equal(resolveTracking({ ...all, userBinding: null }).token, 't2');
    assert.equal(resolveTracking({ ...all, userBinding: null, chatIndex: null }).source, 'fbclid_index');
    assert.deepEqual(resolveTracking({ userFields: { fbclid: 'd' } }), {
      token: null,
      payload: { fbclid: 'd' },
      source: 'user_fields',
    });
    assert.deepEqual(resolveTracking({}), { token: null, payload: null, source: 'none' });
  });
  it('a token whose payload expired does not win', () => {
    const r = resolveTracking({
      userBinding: { token: 'old', payload: null },
      chatIndex: { token: 't2', payload: click('b') },
    });
    assert.equal(r.source, 'chat_index');
  });
});

describe('preferLaterClick', () => {
  const at = (
    token: string | null,
    created_at: number,
    source: 'user_binding' | 'user_fields' = 'user_binding',
  ) => ({
    token,
    payload: { bot_id: 'b1', slug: 's', created_at },
    source,
  });
  it('takes a newer click made before the order was placed', () => {
    assert.equal(preferLaterClick(at('old', 100), at('new', 200), 300)?.token, 'new');
    assert.equal(
      preferLaterClick({ token: null, payload: null, source: 'none' }, at('new', 200), 300)?.token,
      'new',
    );
    assert.equal(preferLaterClick(null, at('new', 200), 300)?.token, 'new');
  });
  it('keeps the charge click against a click made after the order, an older one, or no click', () => {
    assert.equal(preferLaterClick(at('old', 100), at('late', 400), 300)?.token, 'old');
    assert.equal(preferLaterClick(at('old', 100), at('older', 50), 300)?.token, 'old');
    assert.equal(preferLaterClick(at('old', 100), at(null, 200, 'user_fields'), 300)?.token, 'old');
    assert.equal(preferLaterClick(null, { token: null, payload: null, source: 'none' }, 300), null);
  });
});
