/**
 * The stateless-looking Bot API methods of the fake (sending, buttons, invite links, join requests,
 * bans), validated with Telegram's limits and error descriptions so that bugs a real bot would hit in
 * production (64-byte callback data, 1024-char captions, member_limit with join requests) fail in tests.
 */
import { randomBytes } from 'node:crypto';
import { BotflowError } from '../errors.ts';
import { readBool, readInt, readString } from './bot-api-params.ts';

/** An update waiting for delivery (webhook) or for getUpdates. */
export interface PendingUpdate {
  id: number;
  update: Record<string, unknown>;
  /** Telegram's webhook queue: updates of one key are delivered one at a time, in order. */
  key: string;
  /** True once a getUpdates call has returned it. */
  handedOut: boolean;
}

/** Everything the fake keeps per bot token. */
export interface BotState {
  bot: { token: string; id: number; username: string; firstName: string };
  webhook: { url: string; secret: string | undefined; maxConnections: number } | null;
  /** The last allowed_updates given to setWebhook or getUpdates; undefined means "deliver everything". */
  allowedUpdates: string[] | undefined;
  pending: PendingUpdate[];
  nextUpdateId: number;
  lastError: { date: number; message: string } | undefined;
  /** Webhook queue keys with a delivery loop running, and the number of POSTs in flight. */
  inflight: Set<string>;
  posting: number;
  lastMessageId: Map<number, number>;
  messages: Map<string, Record<string, unknown>>;
  /** Users who blocked the bot: sends to their chat answer 403, like Telegram. */
  blockedBy: Set<number>;
  links: Map<string, Record<string, unknown>>;
  fileCount: number;
}

/** Creates the empty state of a bot. */
export function createBotState(bot: { token: string; id: number; username: string; firstName?: string }) {
  const state: BotState = {
    bot: { ...bot, firstName: bot.firstName ?? bot.username },
    webhook: null,
    allowedUpdates: undefined,
    pending: [],
    nextUpdateId: 100_000_001,
    lastError: undefined,
    inflight: new Set(),
    posting: 0,
    lastMessageId: new Map(),
    messages: new Map(),
    blockedBy: new Set(),
    links: new Map(),
    fileCount: 0,
  };
  return state;
}

type Params = Record<string, unknown>;
/** A method implementation; `signal` aborts when the caller hangs up (used by long polls). */
export type MethodRun = (state: BotState, p: Params, nowSeconds: number, signal?: AbortSignal) => unknown;
type Handler = MethodRun;

const badRequest = (description: string) => new BotflowError('BAD_REQUEST', `Bad Request: ${description}`);

/** A stable channel id for an "@username" (the same in every bot and every run). */
function channelIdOf(username: string): number {
  let hash = 0;
  for (const char of username.toLowerCase()) hash = (hash * 31 + char.charCodeAt(0)) % 1_000_000_000;
  return -1_001_000_000_000 - hash;
}

function botUser(state: BotState) {
  return { id: state.bot.id, is_bot: true, first_name: state.bot.firstName, username: state.bot.username };
}

/** The chat of `chat_id`: an integer (or its decimal string) or an "@channelusername". */
function readChat(p: Params): { id: number; type: string; title?: string; username?: string } {
  const raw = p['chat_id'];
  if (raw === undefined || raw === null || raw === '') throw badRequest('chat_id is empty');
  const id = readInt(raw);
  if (id !== undefined && !Number.isNaN(id) && id !== 0) {
    return id > 0 ? { id, type: 'private' } : { id, type: 'supergroup', title: `Group ${id}` };
  }
  if (typeof raw === 'string' && /^@[A-Za-z][A-Za-z0-9_]{3,31}$/.test(raw)) {
    const username = raw.slice(1);
    return { id: channelIdOf(username), type: 'channel', title: username, username };
  }
  throw badRequest('chat not found');
}

function readUserId(p: Params): number {
  const id = readInt(p['user_id']);
  if (id === undefined || Number.isNaN(id) || id <= 0) throw badRequest('invalid user_id specified');
  return id;
}

/** Validates reply_markup; returns it when it is an inline keyboard (the only kind echoed back). */
function readMarkup(p: Params): Record<string, unknown> | undefined {
  const markup = p['reply_markup'];
  if (markup === undefined || markup === null) return undefined;
  if (typeof markup !== 'object' || Array.isArray(markup))
    throw badRequest("can't parse reply keyboard markup JSON object");
  const rows = (markup as Params)['inline_keyboard'];
  if (rows === undefined) return undefined;
  if (!Array.isArray(rows) || !rows.every((row) => Array.isArray(row)))
    throw badRequest('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
  for (const button of rows.flat() as unknown[]) {
    if (typeof button !== 'object' || button === null) throw badRequest("can't parse inline keyboard button");
    const b = button as Params;
    if (typeof b['text'] !== 'string' || b['text'] === '') throw badRequest('BUTTON_TEXT_INVALID');
    if (b['callback_data'] !== undefined) {
      const data = b['callback_data'];
      const bytes = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : 0;
      if (bytes < 1 || bytes > 64) throw badRequest('BUTTON_DATA_INVALID');
    } else if (typeof b['url'] === 'string') {
      if (!/^(https?|tg):\/\/\S+$/i.test(b['url'])) throw badRequest('BUTTON_URL_INVALID');
    } else if (!Object.keys(b).some((k) => k !== 'text')) {
      throw badRequest('text buttons are unallowed in the inline keyboard');
    }
  }
  return markup as Params;
}

/** Builds, stores and returns a sent Message. */
function storeMessage(state: BotState, chat: ReturnType<typeof readChat>, now: number, fields: Params) {
  const messageId = (state.lastMessageId.get(chat.id) ?? 0) + 1;
  state.lastMessageId.set(chat.id, messageId);
  const message = { message_id: messageId, from: botUser(state), chat, date: now, ...fields };
  state.messages.set(`${chat.id}:${messageId}`, message);
  return message;
}

/** The File object Telegram returns for a sent media: a new file_id for uploads and URLs. */
function describeFile(state: BotState, value: unknown, kind: string) {
  const reused = typeof value === 'string' && !/^(https?:\/\/|attach:\/\/)/i.test(value);
  const fileId = reused ? value : `fake-${kind}-${state.bot.id}-${++state.fileCount}`;
  const size = typeof value === 'object' && value !== null ? Number((value as Params)['size']) : 1024;
  const file = { file_id: fileId, file_unique_id: `u-${fileId}`, file_size: size };
  if (kind === 'photo') return [{ ...file, width: 800, height: 800 }];
  if (kind === 'video' || kind === 'animation') return { ...file, width: 640, height: 360, duration: 5 };
  if (kind === 'audio') return { ...file, duration: 5 };
  return file;
}

function sendMedia(kind: string): Handler {
  return (state, p, now) => {
    const chat = readChat(p);
    const media = p[kind];
    if (media === undefined || media === '') throw badRequest(`there is no ${kind} in the request`);
    if (typeof media === 'string' && media.startsWith('attach://'))
      throw badRequest('wrong file identifier/HTTP URL specified');
    const caption = readString(p['caption']) ?? '';
    if (caption.trim().length > 1024) throw badRequest('message caption is too long');
    const markup = readMarkup(p);
    return storeMessage(state, chat, now, {
      [kind]: describeFile(state, media, kind),
      ...(caption.trim() === '' ? {} : { caption }),
      ...(markup === undefined ? {} : { reply_markup: markup }),
    });
  };
}

function chatMemberAction(): Handler {
  return (_state, p) => {
    readChat(p);
    readUserId(p);
    return true;
  };
}

/** Handlers by canonical method name (getUpdates and the webhook methods live in the server). */
export const BASIC_METHODS: Record<string, Handler> = {
  getMe: (state) => ({
    ...botUser(state),
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
  }),
  sendMessage: (state, p, now) => {
    const chat = readChat(p);
    const text = readString(p['text']) ?? '';
    if (text.trim().length === 0) throw badRequest('message text is empty');
    if (text.trim().length > 4096) throw badRequest('message is too long');
    const markup = readMarkup(p);
    return storeMessage(state, chat, now, {
      text,
      ...(markup === undefined ? {} : { reply_markup: markup }),
    });
  },
  sendPhoto: sendMedia('photo'),
  sendVideo: sendMedia('video'),
  sendAudio: sendMedia('audio'),
  sendDocument: sendMedia('document'),
  sendAnimation: sendMedia('animation'),
  answerCallbackQuery: (_state, p) => {
    const id = readString(p['callback_query_id']);
    if (id === undefined || id === '')
      throw badRequest('query is too old and response timeout expired or query ID is invalid');
    if ((readString(p['text']) ?? '').length > 200) throw badRequest('MESSAGE_TOO_LONG');
    return true;
  },
  editMessageReplyMarkup: (state, p, now) => {
    const markup = readMarkup(p);
    if (p['inline_message_id'] !== undefined) return true;
    const chat = readChat(p);
    const messageId = readInt(p['message_id']);
    if (messageId === undefined || Number.isNaN(messageId) || messageId <= 0)
      throw badRequest('message identifier is not specified');
    const key = `${chat.id}:${messageId}`;
    const known = state.messages.get(key);
    if (known !== undefined && JSON.stringify(known['reply_markup']) === JSON.stringify(markup)) {
      throw badRequest(
        'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
      );
    }
    // A message the fake never sent (e.g. from a test-made callback_query) is edited as if it existed.
    const { reply_markup: _old, ...rest } = known ?? { message_id: messageId, chat, date: now };
    const edited = { ...rest, edit_date: now, ...(markup === undefined ? {} : { reply_markup: markup }) };
    state.messages.set(key, edited);
    return edited;
  },
  createChatInviteLink: (state, p) => {
    const chat = readChat(p);
    const name = readString(p['name']);
    if (name !== undefined && name.length > 32) throw badRequest('invite link name is too long');
    const memberLimit = readInt(p['member_limit']);
    if (memberLimit !== undefined && !(memberLimit >= 1 && memberLimit <= 99_999))
      throw badRequest('member limit must be between 1 and 99999');
    const joinRequest = readBool(p['creates_join_request']);
    if (joinRequest && memberLimit !== undefined)
      throw badRequest("member_limit can't be specified for links requiring administrator approval");
    const expireDate = readInt(p['expire_date']);
    const link = {
      invite_link: `https://t.me/+${randomBytes(12).toString('base64url')}`,
      creator: botUser(state),
      creates_join_request: joinRequest,
      is_primary: false,
      is_revoked: false,
      name,
      expire_date: Number.isNaN(expireDate) ? undefined : expireDate,
      member_limit: memberLimit,
    };
    state.links.set(link.invite_link, { ...link, chat_id: chat.id });
    return link;
  },
  revokeChatInviteLink: (state, p) => {
    const chat = readChat(p);
    const stored = state.links.get(readString(p['invite_link']) ?? '');
    if (stored === undefined || stored['chat_id'] !== chat.id) throw badRequest('INVITE_HASH_EXPIRED');
    stored['is_revoked'] = true;
    const { chat_id: _chat, ...link } = stored;
    return link;
  },
  approveChatJoinRequest: chatMemberAction(),
  declineChatJoinRequest: chatMemberAction(),
  banChatMember: chatMemberAction(),
  unbanChatMember: chatMemberAction(),
};
