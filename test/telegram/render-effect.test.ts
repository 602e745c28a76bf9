import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashId } from '../../src/flow/hash-id.ts';
import { decodeCallbackData } from '../../src/telegram/callback-data.ts';
import {
  escapeHtml,
  formatBrl,
  renderAccessGranted,
  renderEffect,
} from '../../src/telegram/render-effect.ts';

const ctx = { chatId: 42, flowVersion: 5 };

describe('renderEffect', () => {
  it('a message with a keyboard: callback buttons carry flow, version, step and index; url buttons stay links', () => {
    const [call] = renderEffect(
      {
        type: 'send',
        step: 'menu',
        flow: 'vip-funnel',
        message: {
          text: 'Pick',
          buttons: [
            { text: 'VIP', index: 0 },
            { text: 'Site', index: 1, url: 'https://example.com' },
          ],
        },
      },
      ctx,
    );
    assert.equal(call!.method, 'sendMessage');
    const rows = (call!.params['reply_markup'] as { inline_keyboard: Array<Array<Record<string, string>>> })
      .inline_keyboard;
    assert.deepEqual(decodeCallbackData(rows[0]![0]!['callback_data']!), {
      kind: 'click',
      flow: hashId('vip-funnel'),
      version: 5,
      step: hashId('menu'),
      index: 0,
    });
    assert.deepEqual(rows[1]![0], { text: 'Site', url: 'https://example.com' });
  });

  it('a send effect committed before effects named their flow renders the older, untagged data', () => {
    const [call] = renderEffect(
      { type: 'send', step: 'menu', message: { text: 'Pick', buttons: [{ text: 'VIP', index: 0 }] } },
      ctx,
    );
    const rows = (call!.params['reply_markup'] as { inline_keyboard: Array<Array<Record<string, string>>> })
      .inline_keyboard;
    assert.deepEqual(decodeCallbackData(rows[0]![0]!['callback_data']!), {
      kind: 'click',
      flow: null,
      version: 5,
      step: hashId('menu'),
      index: 0,
    });
  });

  it('media and caption in one message when the caption fits, two messages when it does not', () => {
    const media = { url: 'https://example.com/a.jpg', type: 'photo' as const };
    const one = renderEffect({ type: 'send', step: 's', message: { text: 'short', media } }, ctx);
    assert.deepEqual(one, [
      { method: 'sendPhoto', params: { chat_id: 42, photo: media.url, caption: 'short' } },
    ]);
    const two = renderEffect({ type: 'send', step: 's', message: { text: 'x'.repeat(1025), media } }, ctx);
    assert.deepEqual(
      two.map((c) => c.method),
      ['sendPhoto', 'sendMessage'],
    );
  });

  it('the PIX message escapes its code and carries the "I have paid" button', () => {
    const [call] = renderEffect(
      {
        type: 'sendCharge',
        step: 'pay',
        order: 'pay:1',
        charge_id: 'c',
        br_code: '0002<01>&',
        amount_cents: 123450,
        description: 'VIP',
      },
      ctx,
    );
    assert.equal(call!.method, 'sendPhoto');
    assert.deepEqual(call!.files, { photo: { qr: '0002<01>&' } });
    assert.match(String(call!.params['caption']), /<code>0002&lt;01&gt;&amp;<\/code>/);
    assert.match(String(call!.params['caption']), /R\$ 1\.234,50/);
    const button = (
      call!.params['reply_markup'] as { inline_keyboard: Array<Array<{ callback_data: string }>> }
    ).inline_keyboard[0]![0]!;
    assert.deepEqual(decodeCallbackData(button.callback_data), { kind: 'paid' });
  });

  it('effects that are not messages render to nothing', () => {
    assert.deepEqual(renderEffect({ type: 'checkCharge', step: 'pay', order: 'pay:1' }, ctx), []);
    assert.deepEqual(renderEffect({ type: 'cancel', id: 'x' }, ctx), []);
  });

  it('helpers', () => {
    assert.equal(escapeHtml('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
    assert.equal(formatBrl(1990), 'R$ 19,90');
    assert.equal(formatBrl(5), 'R$ 0,05');
  });
});

describe('access messages', () => {
  it('hand over the link: to ask to join, for one member only, or a static link; with the days it lasts', () => {
    assert.deepEqual(renderAccessGranted({ kind: 'join_request', link: 'https://t.me/+a&b', days: 30 }, 42), {
      method: 'sendMessage',
      params: {
        chat_id: 42,
        parse_mode: 'HTML',
        text: 'Pagamento confirmado! Peça para entrar no grupo por este link: https://t.me/+a&amp;b Seu acesso vale 30 dias.',
      },
    });
    assert.equal(
      renderAccessGranted({ kind: 'single_use', link: 'https://t.me/+x', days: 1 }, 42).params['text'],
      'Pagamento confirmado! Entre no grupo por este link (só vale para você): https://t.me/+x Seu acesso vale 1 dia.',
    );
    assert.equal(
      renderAccessGranted({ kind: 'join_request', link: 'https://t.me/+x' }, 42).params['text'],
      'Pagamento confirmado! Peça para entrar no grupo por este link: https://t.me/+x',
    );
    assert.deepEqual(renderAccessGranted({ kind: 'static', link: 'https://example.com/vip' }, 42), {
      method: 'sendMessage',
      params: { chat_id: 42, text: 'Acesso liberado! Entre pelo link: https://example.com/vip' },
    });
  });

  it('access ended: run out or refunded; the access effects that are no message render to nothing', () => {
    assert.deepEqual(renderEffect({ type: 'accessEnded', reason: 'expired' }, ctx), [
      { method: 'sendMessage', params: { chat_id: 42, text: 'Seu acesso ao grupo expirou.' } },
    ]);
    assert.equal(
      renderEffect({ type: 'accessEnded', reason: 'refunded' }, ctx)[0]!.params['text'],
      'Seu pagamento foi estornado e o seu acesso ao grupo foi removido.',
    );
    assert.deepEqual(renderEffect({ type: 'removeMember', chat_id: '-100' }, ctx), []);
  });
});
