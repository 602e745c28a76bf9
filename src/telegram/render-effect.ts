/**
 * Renders effects as Bot API calls (pure), the one place buyer-facing text is written: media, caption
 * and keyboard in one message where Telegram allows it (captions up to 1024 characters; each button's
 * data names its flow, version, step and index), the PIX charge as its QR image captioned with the
 * copyable code and an "I have paid" button, notices as short messages, the access messages (the
 * invite link handed over, access ended). Effects Telegram does not carry as a message render to nothing.
 */
import type { Effect, OutMessage } from '../flow/types.ts';
import { encodeCallbackData } from './callback-data.ts';

/** The Bot API methods rendered effects use (the Telegram edge checks each is one of grammY's). */
export type RenderedMethod = 'sendMessage' | (typeof MEDIA_METHOD)[keyof typeof MEDIA_METHOD][0];

/** One Bot API call. */
export interface BotApiCall {
  method: RenderedMethod;
  params: Record<string, unknown>;
  /** Files to upload with the call, by field: `qr` is a QR code of that text, rendered at the edge. */
  files?: Record<string, { qr: string }>;
}

const CAPTION_LIMIT = 1024;
const MEDIA_METHOD = {
  photo: ['sendPhoto', 'photo'],
  video: ['sendVideo', 'video'],
  audio: ['sendAudio', 'audio'],
  document: ['sendDocument', 'document'],
  animation: ['sendAnimation', 'animation'],
} as const;

/** Escapes text for HTML parse mode. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** Where a message's buttons come from: flow (absent in effects committed before it was recorded), version, step. */
interface ButtonOrigin {
  flow?: string;
  version: number;
  step: string;
}

function keyboard(message: OutMessage, origin: ButtonOrigin) {
  if (message.buttons === undefined || message.buttons.length === 0) return {};
  return {
    reply_markup: {
      inline_keyboard: message.buttons.map((b) => [
        b.url === undefined
          ? { text: b.text, callback_data: encodeCallbackData({ ...origin, index: b.index }) }
          : { text: b.text, url: b.url },
      ]),
    },
  };
}

function renderMessage(message: OutMessage, origin: ButtonOrigin, chatId: number): BotApiCall[] {
  const parse = message.parse_mode === undefined ? {} : { parse_mode: message.parse_mode };
  const markup = keyboard(message, origin);
  if (message.media === undefined) {
    return [{ method: 'sendMessage', params: { chat_id: chatId, text: message.text, ...parse, ...markup } }];
  }
  const [method, field] = MEDIA_METHOD[message.media.type];
  if (message.text.length <= CAPTION_LIMIT) {
    return [
      {
        method,
        params: { chat_id: chatId, [field]: message.media.url, caption: message.text, ...parse, ...markup },
      },
    ];
  }
  return [
    { method, params: { chat_id: chatId, [field]: message.media.url } },
    { method: 'sendMessage', params: { chat_id: chatId, text: message.text, ...parse, ...markup } },
  ];
}

/** Formats centavos as Brazilian reais ("R$ 1.234,50"). */
export function formatBrl(cents: number): string {
  const reais = Math.floor(cents / 100).toLocaleString('pt-BR');
  return `R$ ${reais},${String(cents % 100).padStart(2, '0')}`;
}

/** The paid access handed over: a static link, or an invite link that asks to join or admits one member. */
export interface GrantedAccess {
  kind: 'static' | 'join_request' | 'single_use';
  link: string;
  /** How long the access lasts, in days, when it runs out. */
  days?: number;
}

/** The message handing a buyer their access (the link is known only once issued, at the edge). */
export function renderAccessGranted(access: GrantedAccess, chatId: number): BotApiCall {
  if (access.kind === 'static')
    return {
      method: 'sendMessage',
      params: { chat_id: chatId, text: `Acesso liberado! Entre pelo link: ${access.link}` },
    };
  const days = access.days;
  const until = days === undefined ? '' : ` Seu acesso vale ${days} dia${days === 1 ? '' : 's'}.`;
  const link = escapeHtml(access.link);
  const text =
    access.kind === 'join_request'
      ? `Pagamento confirmado! Peça para entrar no grupo por este link: ${link}${until}`
      : `Pagamento confirmado! Entre no grupo por este link (só vale para você): ${link}${until}`;
  return { method: 'sendMessage', params: { chat_id: chatId, parse_mode: 'HTML', text } };
}

const ACCESS_ENDED = {
  expired: 'Seu acesso ao grupo expirou.',
  refunded: 'Seu pagamento foi estornado e o seu acesso ao grupo foi removido.',
} as const;

/** The Bot API calls for one effect. */
export function renderEffect(
  effect: Effect,
  ctx: { chatId: number; flowVersion: number; payButtonText?: string },
): BotApiCall[] {
  switch (effect.type) {
    case 'send':
      return renderMessage(
        effect.message,
        {
          ...(effect.flow === undefined ? {} : { flow: effect.flow }),
          version: ctx.flowVersion,
          step: effect.step,
        },
        ctx.chatId,
      );
    case 'sendCharge':
      return [
        {
          method: 'sendPhoto',
          files: { photo: { qr: effect.br_code } },
          params: {
            chat_id: ctx.chatId,
            parse_mode: 'HTML',
            caption:
              `<b>${escapeHtml(effect.description)}</b>\n${formatBrl(effect.amount_cents)}\n\n` +
              `PIX copia e cola:\n<code>${escapeHtml(effect.br_code)}</code>`,
            reply_markup: {
              inline_keyboard: [
                [
                  {
                    text: ctx.payButtonText ?? 'Já paguei',
                    callback_data: encodeCallbackData({ kind: 'paid' }),
                  },
                ],
              ],
            },
          },
        },
      ];
    case 'notice':
    case 'error':
      return [{ method: 'sendMessage', params: { chat_id: ctx.chatId, text: effect.text } }];
    case 'accessEnded':
      return [{ method: 'sendMessage', params: { chat_id: ctx.chatId, text: ACCESS_ENDED[effect.reason] } }];
    default:
      return [];
  }
}
