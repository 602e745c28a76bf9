import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClickPayload } from '../../src/tracking/click.ts';
import { createBindingMemory, type TrackingBinding } from '../../src/tracking/remember-bindings.ts';

const click = (slug: string): ClickPayload => ({ bot_id: 'b', slug, created_at: 1 });
const bind = (token: string | null, payload: ClickPayload | null = null, fbclid: string | null = null) => [
  { kind: 'bindTracking', token, payload, fbclid },
];
const NONE: TrackingBinding = { tracking_token: null, tracking_payload: null, fbclid: null };

/** A memory over a fake store that answers `stored` and counts its reads; epochs are settable. */
function memory(maxEntries?: number) {
  const reads: string[] = [];
  const epochs = new Map<string, number>();
  const stored: TrackingBinding = { tracking_token: 'db', tracking_payload: click('db'), fbclid: null };
  const bindings = createBindingMemory({
    read: async (botId, userId) => {
      reads.push(`${botId}:${userId}`);
      return stored;
    },
    epochOf: (botId, userId) => epochs.get(`${botId}:${userId}`) ?? 1,
    ...(maxEntries === undefined ? {} : { maxEntries }),
  });
  return { bindings, reads, epochs, stored };
}

describe('remember bindings', () => {
  it('knows the binding a /start committed here without a read, as the upsert writes it', async () => {
    const { bindings, reads } = memory();
    bindings.remember({ botId: 'b', userId: '1', records: bind(null), created: true });
    assert.deepEqual(await bindings.bindingOf('b', '1'), NONE, 'a new buyer without a click');
    bindings.remember({ botId: 'b', userId: '1', records: bind('t1', click('s1'), 'fb1'), created: false });
    const clicked = { tracking_token: 't1', tracking_payload: click('s1'), fbclid: 'fb1' };
    assert.deepEqual(await bindings.bindingOf('b', '1'), clicked);
    // A plain /start later keeps the click; a click without a payload keeps the old payload.
    bindings.remember({ botId: 'b', userId: '1', records: bind(null), created: false });
    assert.deepEqual(await bindings.bindingOf('b', '1'), clicked);
    bindings.remember({ botId: 'b', userId: '1', records: bind('t2'), created: false });
    assert.deepEqual(await bindings.bindingOf('b', '1'), { ...clicked, tracking_token: 't2', fbclid: null });
    assert.deepEqual(reads, []);
  });

  it('reads what it cannot know: an old buyer, another epoch, an evicted entry, another owner', async () => {
    const { bindings, reads, epochs, stored } = memory(1);
    // A plain /start of a stored conversation: the row may hold an older click.
    bindings.remember({ botId: 'b', userId: '2', records: bind(null), created: false });
    assert.equal(await bindings.bindingOf('b', '2'), stored);
    // Remembered under epoch 1; the shard was lost and claimed again (epoch 2): another owner may have written it.
    bindings.remember({ botId: 'b', userId: '3', records: bind('t3', click('s3')), created: true });
    epochs.set('b:3', 2);
    assert.equal(await bindings.bindingOf('b', '3'), stored);
    // Only one entry is kept: the older is forgotten.
    bindings.remember({ botId: 'b', userId: '4', records: bind(null), created: true });
    bindings.remember({ botId: 'b', userId: '5', records: bind(null), created: true });
    assert.equal(bindings.size, 1);
    assert.equal(await bindings.bindingOf('b', '4'), stored);
    assert.deepEqual(await bindings.bindingOf('b', '5'), NONE);
    // An input without a binding record teaches nothing.
    bindings.remember({ botId: 'b', userId: '6', records: [], created: true });
    assert.equal(await bindings.bindingOf('b', '6'), stored);
    assert.deepEqual(reads, ['b:2', 'b:3', 'b:4', 'b:6']);
  });
});
