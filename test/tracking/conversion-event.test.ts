import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  buildConversionEvent,
  eventIdFor,
  hashForMeta,
  pickActionSource,
} from '../../src/tracking/conversion-event.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('conversion events', () => {
  it('a chat-funnel event is website only when the pixel asks and the click has a user agent and a link', () => {
    const url = (slug: string) => `https://bf.example/r/${slug}`;
    const click = { slug: 'fb-nov', user_agent: 'Mozilla/5.0' };
    assert.deepEqual(pickActionSource('website', click, url), {
      actionSource: 'website',
      eventSourceUrl: 'https://bf.example/r/fb-nov',
    });
    assert.deepEqual(pickActionSource(undefined, click, url), { actionSource: 'chat' });
    assert.deepEqual(pickActionSource('chat', click, url), { actionSource: 'chat' });
    assert.deepEqual(pickActionSource('website', { slug: 'fb-nov' }, url), { actionSource: 'chat' });
    assert.deepEqual(pickActionSource('website', null, url), { actionSource: 'chat' });
  });

  it("hashes user data per Meta's normalization and leaves IP, UA, fbc, fbp unhashed", () => {
    const event = buildConversionEvent({
      name: 'Purchase',
      eventId: eventIdFor('Purchase', 'pay-17'),
      eventTime: 1_763_800_000,
      telegramUserId: '42',
      click: { ip: '203.0.113.9', user_agent: 'UA', fbc: 'fb.1.1.abc', fbp: 'fb.1.1.123' },
      user: { email: '  Ana@Example.COM ', phone: '(11) 91234-5678', city: 'São Paulo' },
      valueCents: 2990,
      orderId: 'pay-17',
    });
    assert.equal(event['event_id'], 'purchase:pay-17');
    assert.equal(event['action_source'], 'chat');
    const ud = event['user_data'] as Record<string, unknown>;
    assert.deepEqual(ud['em'], [sha('ana@example.com')]);
    assert.deepEqual(ud['ph'], [sha('5511912345678')]);
    assert.deepEqual(ud['ct'], [sha('são paulo'.normalize('NFC').replace(/\s+/g, ''))]);
    assert.deepEqual(ud['external_id'], [sha('42')]);
    assert.equal(ud['client_ip_address'], '203.0.113.9');
    assert.equal(ud['fbc'], 'fb.1.1.abc');
    assert.equal(ud['fbp'], 'fb.1.1.123');
    assert.deepEqual(event['custom_data'], { value: 29.9, currency: 'BRL', order_id: 'pay-17' });
  });
  it('a phone already carrying 55 is not prefixed twice', () => {
    assert.equal(hashForMeta('ph', '+55 11 91234-5678'), sha('5511912345678'));
  });
});
