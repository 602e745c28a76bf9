import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bootstrap } from '../src/bootstrap.ts';
import { BotflowError } from '../src/errors.ts';
import type { KeyedEffect } from '../src/runtime/conversation-host.ts';
import { createFreshDatabase, type FreshDatabase } from './db/fresh-database.ts';

const vip = JSON.parse(await readFile(new URL('../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));

/** Effect handlers standing in for a gateway that creates every charge at once, recording what ran. */
function recordingHandlers(ran: KeyedEffect[]) {
  return {
    send: async (e: KeyedEffect) => {
      ran.push(e);
      return null;
    },
    createCharge: async (e: KeyedEffect) => {
      ran.push(e);
      if (e.effect.type !== 'createCharge') return null;
      return {
        type: 'payment.created' as const,
        order: e.effect.order,
        charge_id: `ch-${e.effect.order}`,
        br_code: '000201',
      };
    },
    sendCharge: async (e: KeyedEffect) => {
      ran.push(e);
      return null;
    },
    grantAccess: async (e: KeyedEffect) => {
      ran.push(e);
      return null;
    },
  };
}

describe('bootstrap', () => {
  let fresh: FreshDatabase;
  before(async () => {
    fresh = await createFreshDatabase();
  });
  after(() => fresh.drop());

  it('runs a funnel on Postgres end to end: effects run after commit and feed results back', async () => {
    const ran: KeyedEffect[] = [];
    const app = await bootstrap({
      env: { DATABASE_URL: fresh.url, LOG_LEVEL: 'silent' },
      effectHandlers: recordingHandlers(ran),
      timerIntervalMs: 0,
      http: false,
    });
    try {
      await app.addBot({ id: 'bot1', username: 'vip_bot', token: '123:secret' });
      assert.equal(await app.publishFlow('bot1', vip), 1);
      await app.inject('bot1', '42', { type: 'start' }, 'tg:1');
      await app.inject('bot1', '42', { type: 'text', text: 'ana@example.com' }, 'tg:2');
      const atPay = await app.inject('bot1', '42', { type: 'click', step: 'offers', index: 1 }, 'tg:3');
      assert.equal(atPay.currentStep, 'pay');
      await app.effects.idle();
      await app.host.drain();
      const charge = ran.find((e) => e.effect.type === 'sendCharge');
      assert.ok(charge, 'the created charge came back and its PIX message was sent');
      assert.equal(charge.effect.type === 'sendCharge' && charge.effect.amount_cents, 9700);
      const paid = await app.inject(
        'bot1',
        '42',
        { type: 'payment.paid', order: 'pay:1', step: 'pay' },
        'pay:1:paid',
      );
      assert.equal(paid.currentStep, 'access');
      await app.effects.idle();
      assert.equal(ran.filter((e) => e.effect.type === 'grantAccess').length, 1);
      const statuses = await app.db.orm.em
        .getConnection()
        .execute<{ status: string; n: string }[]>(
          `select status, count(*)::text as n from effects group by status`,
        );
      assert.deepEqual(statuses, [{ status: 'done', n: String(ran.length) }]);
    } finally {
      await app.close();
    }
  });

  it('refuses an invalid flow with INVALID_FLOW and publishes nothing', async () => {
    const app = await bootstrap({
      env: { DATABASE_URL: fresh.url, TELEGRAM_API_ROOT: 'http://127.0.0.1:9' },
      timerIntervalMs: 0,
      http: false,
    });
    try {
      await assert.rejects(
        app.publishFlow('bot1', { ...vip, flow_start_step_id: 'nowhere' }),
        (e: unknown) => {
          return e instanceof BotflowError && e.code === 'INVALID_FLOW';
        },
      );
      assert.equal((await app.flows.listVersions('vip-funnel')).length, 1);
    } finally {
      await app.close();
    }
  });

  it('runs on embedded PGlite with no server, and keeps conversations across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'botflow-embedded-'));
    const first = await bootstrap({
      env: { BOTFLOW_DATA_DIR: dataDir },
      effectHandlers: recordingHandlers([]),
      timerIntervalMs: 0,
      http: false,
    });
    assert.equal(first.db.embedded, true);
    await first.addBot({ id: 'bot1', username: 'vip_bot', token: '123:secret' });
    await first.publishFlow('bot1', vip);
    await first.inject('bot1', '7', { type: 'start' });
    await first.inject('bot1', '7', { type: 'text', text: 'ana@example.com' });
    await first.close();

    const second = await bootstrap({
      env: { BOTFLOW_DATA_DIR: dataDir },
      effectHandlers: recordingHandlers([]),
      timerIntervalMs: 0,
      http: false,
    });
    try {
      const r = await second.inject('bot1', '7', { type: 'click', step: 'offers', index: 0 });
      assert.equal(r.currentStep, 'pay');
      assert.equal((await second.store.load('bot1', '7'))?.rowVersion, 3);
    } finally {
      await second.close();
    }
  });
});
