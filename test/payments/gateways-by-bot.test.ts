/**
 * Each bot's gateway adapter: built from its settings, kept while they stay the same, rebuilt when
 * they change or are forgotten; a Mercado Pago charge's own QR image is kept for the charge's photo
 * (real HTTP: the Mercado Pago replay and the sandbox gateway).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewaySettings } from '../../src/payments/gateway-settings.ts';
import { createGatewaysByBot } from '../../src/payments/gateways-by-bot.ts';
import { createQrImages } from '../../src/payments/qr-images.ts';
import { type MercadoPagoReplay, startMercadoPagoReplay } from '../../src/sim/mercado-pago-replay.ts';
import { type SandboxGateway, startSandboxGateway } from '../../src/sim/sandbox-gateway.ts';

let replay: MercadoPagoReplay;
let sandbox: SandboxGateway;
before(async () => {
  replay = await startMercadoPagoReplay({ accessToken: 'APP_USR-gw-test', webhookSecret: 'mp-secret' });
  sandbox = await startSandboxGateway();
});
after(async () => {
  await replay.close();
  await sandbox.close();
});

const charge = (orderId: string) => ({
  orderId,
  idempotencyKey: orderId,
  amount: 1990,
  description: 'VIP',
  expiresInSeconds: 1800,
  notificationUrl: 'http://127.0.0.1:9/hook',
});

describe('gateways by bot', () => {
  it('refuses an unknown bot (NOT_FOUND) and a bot without a gateway (CONFIG_INVALID)', async () => {
    const settings = new Map<string, { gateway: GatewaySettings | null }>([['bare', { gateway: null }]]);
    const gateways = createGatewaysByBot({
      settingsOf: async (botId) => settings.get(botId) ?? null,
      qr: createQrImages(),
      now: Date.now,
    });
    await assert.rejects(gateways.gatewayOf('ghost'), { code: 'NOT_FOUND' });
    await assert.rejects(gateways.gatewayOf('bare'), { code: 'CONFIG_INVALID' });
    const unknown = { kind: 'stripe' } as unknown as GatewaySettings;
    settings.set('odd', { gateway: unknown });
    await assert.rejects(gateways.gatewayOf('odd'), { code: 'CONFIG_INVALID' });
  });

  it('keeps one adapter while the settings stay, a new one when they change or are forgotten', async () => {
    const sandboxSettings: GatewaySettings = {
      kind: 'sandbox',
      api_base: sandbox.url,
      api_key: 'sandbox-key',
      webhook_secret: 'sandbox-secret',
    };
    let current: GatewaySettings = sandboxSettings;
    const gateways = createGatewaysByBot({
      settingsOf: async () => ({ gateway: current }),
      qr: createQrImages(),
      now: Date.now,
    });
    const first = await gateways.gatewayOf('b1');
    assert.equal(first.id, 'sandbox');
    assert.equal(await gateways.gatewayOf('b1'), first, 'same settings: same adapter');
    gateways.forget('b1');
    const afterForget = await gateways.gatewayOf('b1');
    assert.notEqual(afterForget, first);
    current = {
      kind: 'mercadopago',
      access_token: 'APP_USR-gw-test',
      webhook_secret: 'mp-secret',
      api_base: replay.url,
    };
    const changed = await gateways.gatewayOf('b1');
    assert.equal(changed.id, 'mercadopago', 'changed settings: a new adapter of the new kind');
    const created = await afterForget.createCharge(charge('gw-sandbox-1'));
    assert.equal(
      sandbox.charges.get(created.gatewayChargeId)?.order_id,
      'gw-sandbox-1',
      'it talks to its gateway',
    );
  });

  it("keeps the QR image a gateway returns with a charge, so the charge's photo is that image", async () => {
    const qr = createQrImages();
    const gateways = createGatewaysByBot({
      settingsOf: async () => ({
        gateway: {
          kind: 'mercadopago',
          access_token: 'APP_USR-gw-test',
          webhook_secret: 'mp-secret',
          api_base: replay.url,
        },
      }),
      qr,
      now: Date.now,
    });
    const created = await (await gateways.gatewayOf('mp')).createCharge(charge('gw-mp-1'));
    assert.ok(created.qrImageBase64 !== undefined, 'Mercado Pago returns an image');
    const photo = await qr.render(created.brCode);
    assert.deepEqual(
      photo,
      Buffer.from(created.qrImageBase64.replace(/^data:image\/png;base64,/, ''), 'base64'),
    );
    await qr.close();
  });
});
