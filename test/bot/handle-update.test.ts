import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createSql } from '../../src/db/sql-client.ts';
import { NOTICE_TEXTS } from '../../src/flow/collect-effects.ts';
import { encodeCallbackData, hashStepId } from '../../src/telegram/callback-data.ts';
import { startVipFunnel, type VipFunnel } from '../support/vip-funnel.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));

/** The VIP funnel with the offers' buttons and their conditions in reverse order. */
const reversedOffers = {
  ...vip,
  flow_steps: vip.flow_steps.map((step: { id: string; config: Record<string, unknown> }) =>
    step.id !== 'offers'
      ? step
      : {
          ...step,
          config: {
            ...step.config,
            custom_buttons: [...(step.config['custom_buttons'] as unknown[])].reverse(),
          },
          conditions: [...((step as { conditions?: unknown[] }).conditions ?? [])].reverse(),
        },
  ),
};

let h: VipFunnel;
before(async () => {
  h = await startVipFunnel(7500000001);
});
after(() => h.close());

const staleNotices = (userId: number) =>
  h.sentTo(userId, 'sendMessage').filter((c) => c.params['text'] === NOTICE_TEXTS.stale_button).length;
const payments = (userId: number) =>
  h.count('payments where bot_id = $1 and user_id = $2', [h.botId, String(userId)]);
const chargeEffects = (userId: number) =>
  h.count(`effects where bot_id = $1 and user_id = $2 and effect->>'type' = 'createCharge'`, [
    h.botId,
    String(userId),
  ]);

describe('a button press is resolved against the flow version it was rendered for', () => {
  it('a v1 offer pressed after the conversation moved to v2 is stale; the v2 button charges v2 price', async () => {
    const user = 880001;
    assert.equal((await h.say(user, '/start')).status, 200);
    assert.equal((await h.say(user, 'ana@example.com')).status, 200);
    await h.settle();
    const v1Mensal = encodeCallbackData({ version: 1, step: 'offers', index: 0 });

    const v2 = await h.app.publishFlow(h.botId, reversedOffers);
    assert.equal(v2, 2);
    assert.equal((await h.say(user, '/start')).status, 200);
    assert.equal((await h.say(user, 'ana@example.com')).status, 200);
    await h.settle();
    const offers = h
      .sentTo(user, 'sendMessage')
      .filter((c) => c.params['text'] === 'Escolha o seu plano:')
      .at(-1);
    const keyboard = (offers?.params['reply_markup'] as { inline_keyboard: Array<Array<{ text: string }>> })
      .inline_keyboard;
    assert.equal(keyboard[0]![0]!.text, 'VIP Vitalício', 'the buyer sees v2 offers');

    assert.equal((await h.press(user, v1Mensal)).status, 200);
    await h.settle();
    assert.equal(staleNotices(user), 1);
    assert.equal(await chargeEffects(user), 0);
    assert.equal(await payments(user), 0);
    assert.equal(h.sandbox.charges.size, 0);

    const v2First = encodeCallbackData({ version: v2, step: 'offers', index: 0 });
    assert.equal((await h.press(user, v2First)).status, 200);
    await h.settle();
    const rows = await createSql(h.app.db.orm)<{ amount_cents: number; description: string }>(
      'select amount_cents, description from payments where bot_id = $1 and user_id = $2',
      [h.botId, String(user)],
    );
    assert.deepEqual(
      rows.map((r) => [Number(r.amount_cents), r.description]),
      [[9700, 'Grupo VIP - vitalício']],
    );
  });

  it('forged or undecodable callbacks get 200 and the stale notice, and charge nothing', async () => {
    const user = 880002;
    assert.equal((await h.say(user, '/start')).status, 200);
    assert.equal((await h.say(user, 'bia@example.com')).status, 200);
    await h.settle();
    const offers = hashStepId('offers');
    const forged = [
      'c.zzzzzzz.0.0', // a version beyond any integer version
      `c.${(2 ** 31).toString(36)}.${offers}.0`,
      `c.z.${offers}.0`, // an unpublished version
      'c.0.0.0', // version 0 is never published
      'c.1.zzzzzz.0', // a step hash no step has
      `c.1.${offers}.zz`, // a button index the step does not have
      `c.1.${offers}.-1`,
      'buy_vip', // not ours
      'c.1',
    ];
    for (const [i, data] of forged.entries()) {
      const res = await h.press(user, data);
      assert.equal(res.status, 200, data);
      await h.settle();
      assert.equal(staleNotices(user), i + 1, `a stale notice for ${data}`);
    }
    assert.equal(await chargeEffects(user), 0);
    assert.equal(await payments(user), 0);
    const answered = h.fake.callsOf(h.token, 'answerCallbackQuery').filter((c) => c.status === 200);
    assert.ok(answered.length >= forged.length, 'every press is answered');
  });
});
