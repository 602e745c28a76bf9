import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import { startVipFunnel, type VipFunnel } from '../support/vip-funnel.ts';

let h: VipFunnel;
before(async () => {
  h = await startVipFunnel(7400000011);
});
after(() => h.close());

const sendTo = (userId: number, text: string) =>
  h.app.funnel.apis.call(h.botId, 'sendMessage', { chat_id: userId, text });
const callsTo = (userId: number) =>
  h.fake.callsOf(h.token, 'sendMessage').filter((c) => Number(c.params['chat_id']) === userId);

describe('a buyer who blocked the bot (real HTTP through the fake Bot API)', () => {
  it("is not written to again after Telegram's 403, until they write to the bot again", async () => {
    assert.equal((await h.say(741, '/start')).status, 200);
    await h.settle();
    h.fake.setBlocked(h.token, 741, true);
    const refused = (e: unknown) =>
      e instanceof BotflowError && e.code === 'UPSTREAM_REJECTED' && /blocked by the user/.test(e.message);
    const before = callsTo(741).length;
    await assert.rejects(sendTo(741, 'downsell'), refused);
    assert.equal(callsTo(741).length, before + 1, 'Telegram answered the first with 403');
    await assert.rejects(sendTo(741, 'another downsell'), refused);
    assert.equal(callsTo(741).length, before + 1, 'the second never left botflow');
    await sendTo(742, 'someone else');
    assert.equal(callsTo(742).length, 1, 'other buyers are written to as before');

    // The buyer unblocks the bot and writes: sends go to Telegram again.
    h.fake.setBlocked(h.token, 741, false);
    assert.equal((await h.say(741, '/start')).status, 200);
    await h.settle();
    const afterStart = callsTo(741).filter((c) => c.status === 200).length;
    assert.ok(afterStart > 0, 'the flow answered the new /start');
    await sendTo(741, 'welcome back');
    assert.equal(callsTo(741).at(-1)?.status, 200);
  });
});
