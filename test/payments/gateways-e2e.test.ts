/**
 * Both real-gateway adapters end to end: botflow bootstrapped on real Postgres and Redis with a fake
 * Bot API, a VIP bot whose gateway points at the replay server, a buyer driven through the Telegram
 * webhook, the replay paying and posting its webhook to botflow, and the access invite that follows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reaisToCents } from '../../src/payments/reais.ts';
import type { UploadedFile } from '../../src/sim/bot-api-params.ts';
import { type MercadoPagoReplay, startMercadoPagoReplay } from '../../src/sim/mercado-pago-replay.ts';
import { type PushinPayReplay, startPushinPayReplay } from '../../src/sim/pushinpay-replay.ts';
import { startVipFunnel, type VipFunnel } from '../support/vip-funnel.ts';

const TOKEN = 'APP_USR-e2e-access-token';
const SECRET = 'mp-e2e-webhook-secret';
const PP_TOKEN = '4242|e2e-pushinpay-token';
const HOOK_TOKEN = 'e2e-hook-token';

describe('Mercado Pago end to end: VIP funnel through bootstrap', () => {
  let replay: MercadoPagoReplay;
  let vip: VipFunnel;
  before(async () => {
    replay = await startMercadoPagoReplay({ accessToken: TOKEN, webhookSecret: SECRET, retryBaseMs: 20 });
    vip = await startVipFunnel(7200000301, {
      botId: 'mpbot',
      gateway: { kind: 'mercadopago', access_token: TOKEN, webhook_secret: SECRET, api_base: replay.url },
    });
  });
  after(async () => {
    await vip?.close();
    await replay?.close();
  });

  it('a buyer pays, the signed webhook confirms it, and the bot sends an invite link', async () => {
    const payment = await vip.buy(901);
    assert.equal(payment.gateway, 'mercadopago');
    assert.equal(payment.status, 'pending');
    const mp = replay.payments.get(payment.gatewayChargeId!)!;
    assert.equal(mp.external_reference, payment.orderId);
    assert.equal(reaisToCents(mp.transaction_amount), payment.amountCents);
    assert.equal(mp.notification_url, `${vip.app.url}/payments/mpbot/webhook`);
    await replay.pay(payment.gatewayChargeId!);
    await replay.settled();
    assert.deepEqual(
      replay.deliveries.map((d) => d.status),
      [200],
    );
    await vip.app.runJobs();
    await vip.app.effects.idle();
    assert.equal((await vip.app.funnel.payments.get(payment.orderId))!.status, 'paid');
    assert.equal(vip.invitesSentTo(901).length, 1);
  });

  it("the charge's photo is the QR image Mercado Pago returned, not one rendered here", async () => {
    const payment = await vip.buy(903);
    await vip.app.effects.idle();
    const image = replay.payments.get(payment.gatewayChargeId!)!.point_of_interaction.transaction_data;
    const photos = vip.sentTo(903, 'sendPhoto').filter((c) => typeof c.params['photo'] === 'object');
    assert.equal(photos.length, 1);
    assert.equal(
      (photos[0]!.params['photo'] as UploadedFile).size,
      Buffer.from(image.qr_code_base64, 'base64').length,
    );
  });

  it('a forged webhook is refused with 401 and changes nothing', async () => {
    const payment = await vip.buy(902);
    const res = await fetch(
      `${vip.app.url}/payments/mpbot/webhook?data.id=${payment.gatewayChargeId}&type=payment`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-signature': `ts=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`,
          'x-request-id': 'forged',
        },
        body: JSON.stringify({ id: 1, type: 'payment', data: { id: payment.gatewayChargeId } }),
      },
    );
    assert.equal(res.status, 401);
    assert.equal((await vip.app.funnel.payments.get(payment.orderId))!.status, 'pending');
  });
});

describe('PushinPay end to end: VIP funnel through bootstrap', () => {
  let replay: PushinPayReplay;
  let vip: VipFunnel;
  before(async () => {
    replay = await startPushinPayReplay({
      token: PP_TOKEN,
      webhookToken: HOOK_TOKEN,
      enforceRateLimit: true,
      retryBaseMs: 20,
    });
    vip = await startVipFunnel(7200000302, {
      botId: 'ppbot',
      gateway: { kind: 'pushinpay', token: PP_TOKEN, webhook_token: HOOK_TOKEN, api_base: replay.url },
    });
  });
  after(async () => {
    await vip?.close();
    await replay?.close();
  });

  it('a buyer pays, the token-bearing webhook is confirmed by a lookup, and the bot sends an invite link', async () => {
    const payment = await vip.buy(801);
    assert.equal(payment.gateway, 'pushinpay');
    const transaction = replay.transactions.get(payment.gatewayChargeId!)!;
    assert.equal(transaction.value, payment.amountCents);
    assert.equal(transaction.webhook_url, `${vip.app.url}/payments/ppbot/webhook`);
    await replay.pay(payment.gatewayChargeId!);
    await replay.settled();
    assert.deepEqual(
      replay.deliveries.map((d) => d.status),
      [200],
    );
    const lookups = replay.lastRequests.filter(
      (r) => r.path === `/api/transactions/${payment.gatewayChargeId}`,
    );
    assert.equal(lookups.length, 1, 'confirmed with one lookup, within the rate limit');
    await vip.app.runJobs();
    await vip.app.effects.idle();
    assert.equal((await vip.app.funnel.payments.get(payment.orderId))!.status, 'paid');
    assert.equal(vip.invitesSentTo(801).length, 1);
  });

  it("the charge's photo is the QR image PushinPay returned, not one rendered here", async () => {
    const payment = await vip.buy(803);
    await vip.app.effects.idle();
    const image = replay.transactions.get(payment.gatewayChargeId!)!.qr_code_base64;
    const photos = vip.sentTo(803, 'sendPhoto').filter((c) => typeof c.params['photo'] === 'object');
    assert.equal(photos.length, 1);
    assert.equal(
      (photos[0]!.params['photo'] as UploadedFile).size,
      Buffer.from(image.replace(/^data:image\/png;base64,/, ''), 'base64').length,
    );
  });

  it('a webhook without the token is refused with 401 and changes nothing', async () => {
    const payment = await vip.buy(802);
    const res = await fetch(`${vip.app.url}/payments/ppbot/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-pushinpay-token': 'guess' },
      body: JSON.stringify({ id: payment.gatewayChargeId, status: 'paid', value: payment.amountCents }),
    });
    assert.equal(res.status, 401);
    assert.equal((await vip.app.funnel.payments.get(payment.orderId))!.status, 'pending');
  });
});
