/**
 * Each bot's PIX gateway adapter, built from its settings and kept while they stay the same (a
 * changed gateway in the settings builds a new adapter; `forget` drops one at once). The adapter keeps
 * the QR image a gateway returns with a charge (Mercado Pago, PushinPay), for the charge's photo. All
 * adapters call their gateways over one keep-alive pool, closed with `close`.
 */
import { BotflowError } from '../errors.ts';
import type { PixGateway } from './gateway.ts';
import type { GatewaySettings } from './gateway-settings.ts';
import { createGatewayPool, type GatewayPool } from './gateway-request.ts';
import { createMercadoPagoGateway } from './mercado-pago.ts';
import { createPushinPayGateway } from './pushinpay.ts';
import type { QrRenderer } from './qr-images.ts';
import { createSandboxGateway } from './sandbox.ts';

/** The gateways of the bots, by bot id. */
export interface GatewaysByBot {
  /** The bot's adapter; NOT_FOUND for an unknown bot, CONFIG_INVALID for one without a gateway. */
  gatewayOf(botId: string): Promise<PixGateway>;
  /** Drops the bot's adapter (its settings changed or it was removed). */
  forget(botId: string): void;
  /** Closes the keep-alive pool the adapters call their gateways over (at shutdown). */
  close(): Promise<void>;
}

/** Creates the adapters' cache over the bots' settings (`null`: no such bot). */
export function createGatewaysByBot(options: {
  settingsOf(botId: string): Promise<{ gateway: GatewaySettings | null } | null>;
  qr: QrRenderer;
  now: () => number;
}): GatewaysByBot {
  const gateways = new Map<string, { settings: string; gateway: PixGateway }>();
  const pool = createGatewayPool();
  return {
    async gatewayOf(botId) {
      const bot = await options.settingsOf(botId);
      if (bot === null) throw new BotflowError('NOT_FOUND', `no bot ${botId}`);
      if (bot.gateway === null || bot.gateway === undefined)
        throw new BotflowError('CONFIG_INVALID', `bot ${botId} has no payment gateway configured`);
      const key = JSON.stringify(bot.gateway);
      const cached = gateways.get(botId);
      if (cached !== undefined && cached.settings === key) return cached.gateway;
      const gateway = rememberingQrImages(buildGateway(bot.gateway, options.now, pool), options.qr);
      gateways.set(botId, { settings: key, gateway });
      return gateway;
    },
    forget(botId) {
      gateways.delete(botId);
    },
    close: () => pool.close(),
  };
}

/** Builds a gateway adapter from a bot's settings. */
function buildGateway(settings: GatewaySettings, now: () => number, pool: GatewayPool): PixGateway {
  switch (settings.kind) {
    case 'sandbox':
      return createSandboxGateway({
        apiBase: settings.api_base,
        apiKey: settings.api_key,
        webhookSecret: settings.webhook_secret,
        now,
        pool,
      });
    case 'mercadopago':
      return createMercadoPagoGateway({
        accessToken: settings.access_token,
        webhookSecret: settings.webhook_secret,
        ...(settings.api_base === undefined ? {} : { apiBase: settings.api_base }),
        now,
        pool,
      });
    case 'pushinpay':
      return createPushinPayGateway({
        token: settings.token,
        webhookToken: settings.webhook_token,
        ...(settings.api_base === undefined ? {} : { apiBase: settings.api_base }),
        now,
        pool,
      });
    default:
      throw new BotflowError(
        'CONFIG_INVALID',
        `payment gateway ${String((settings as { kind: unknown }).kind)} is not available`,
      );
  }
}

/** The gateway, with the QR image of each charge it creates (Mercado Pago and PushinPay return one) kept for the charge's photo. */
function rememberingQrImages(gateway: PixGateway, qr: QrRenderer): PixGateway {
  const refund = gateway.refund?.bind(gateway);
  return {
    id: gateway.id,
    async createCharge(input) {
      const charge = await gateway.createCharge(input);
      if (charge.qrImageBase64 !== undefined && charge.brCode !== '')
        qr.remember(charge.brCode, charge.qrImageBase64);
      return charge;
    },
    getCharge: (id) => gateway.getCharge(id),
    verifyAndParseWebhook: (request) => gateway.verifyAndParseWebhook(request),
    ...(refund === undefined ? {} : { refund }),
  };
}
