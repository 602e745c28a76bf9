/** A bot's PIX gateway settings: payments' own type (the bot repository stores them sealed). */

/** Payment gateway settings of a bot (credentials: never logged). */
export type GatewaySettings =
  | { kind: 'sandbox'; api_base: string; api_key: string; webhook_secret: string }
  | { kind: 'mercadopago'; access_token: string; webhook_secret: string; api_base?: string }
  | { kind: 'pushinpay'; token: string; webhook_token: string; api_base?: string };
