/**
 * Reads a Telegram update (pure) into what botflow acts on: a /start with its payload, text, a
 * button press, a join request, a member joining a chat (`chat_member`). Only private chats drive
 * conversations; everything else is ignored with a reason, and a body that is not an update at all is
 * a coded BAD_REQUEST.
 */
import { BotflowError } from '../errors.ts';
import { parseStartCommand } from './parse-start.ts';

/** What an update means to botflow. */
export type MappedUpdate =
  | { kind: 'start'; userId: string; payload?: string; firstName?: string; lastName?: string }
  | { kind: 'text'; userId: string; text: string }
  | { kind: 'callback'; userId: string; callbackQueryId: string; data: string }
  | { kind: 'join_request'; userId: string; chatId: string; inviteLink?: string; inviteLinkName?: string }
  | { kind: 'member_joined'; userId: string; chatId: string; inviteLink?: string; inviteLinkName?: string }
  | { kind: 'ignored'; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const idOf = (v: unknown): string | null =>
  typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : null;

/** Maps one update; throws BAD_REQUEST when `update_id` is missing or not an integer. */
export function mapUpdate(update: unknown): { updateId: number; mapped: MappedUpdate } {
  if (!isObject(update) || !Number.isSafeInteger(update['update_id']))
    throw new BotflowError('BAD_REQUEST', 'not a Telegram update: update_id is missing');
  return { updateId: update['update_id'] as number, mapped: mapBody(update) };
}

function mapBody(update: Record<string, unknown>): MappedUpdate {
  const message = update['message'];
  if (isObject(message)) {
    const chat = message['chat'];
    const from = message['from'];
    if (!isObject(chat) || chat['type'] !== 'private')
      return { kind: 'ignored', reason: 'not a private chat' };
    const userId = isObject(from) ? idOf(from['id']) : null;
    if (userId === null) return { kind: 'ignored', reason: 'no sender' };
    const text = message['text'];
    if (typeof text !== 'string') return { kind: 'ignored', reason: 'not a text message' };
    const start = parseStartCommand(text);
    if (start !== null)
      return {
        kind: 'start',
        userId,
        ...(start.payload === undefined ? {} : { payload: start.payload }),
        ...namesOf(from as Record<string, unknown>),
      };
    return { kind: 'text', userId, text };
  }
  const query = update['callback_query'];
  if (isObject(query)) {
    const from = query['from'];
    const userId = isObject(from) ? idOf(from['id']) : null;
    const id = query['id'];
    if (userId === null || typeof id !== 'string')
      return { kind: 'ignored', reason: 'malformed callback query' };
    const data = typeof query['data'] === 'string' ? query['data'] : '';
    return { kind: 'callback', userId, callbackQueryId: id, data };
  }
  const join = update['chat_join_request'];
  if (isObject(join)) {
    const from = join['from'];
    const chat = join['chat'];
    const userId = isObject(from) ? idOf(from['id']) : null;
    const chatId = isObject(chat) ? idOf(chat['id']) : null;
    if (userId === null || chatId === null) return { kind: 'ignored', reason: 'malformed join request' };
    return { kind: 'join_request', userId, chatId, ...linkFields(join['invite_link']) };
  }
  const member = update['chat_member'];
  if (isObject(member)) return mapChatMember(member);
  return { kind: 'ignored', reason: 'update type not handled' };
}

/** The sender's Telegram first and last names, when present. */
function namesOf(from: Record<string, unknown>): { firstName?: string; lastName?: string } {
  const first = from['first_name'];
  const last = from['last_name'];
  return {
    ...(typeof first === 'string' && first !== '' ? { firstName: first } : {}),
    ...(typeof last === 'string' && last !== '' ? { lastName: last } : {}),
  };
}

/** The link fields of an update's `invite_link`, when present. */
function linkFields(link: unknown): { inviteLink?: string; inviteLinkName?: string } {
  if (!isObject(link)) return {};
  return {
    ...(typeof link['invite_link'] === 'string' ? { inviteLink: link['invite_link'] } : {}),
    ...(typeof link['name'] === 'string' ? { inviteLinkName: link['name'] } : {}),
  };
}

/** Whether a ChatMember is in the chat (restricted members count when `is_member`). */
function isIn(m: unknown): boolean {
  if (!isObject(m)) return false;
  const status = m['status'];
  if (status === 'restricted') return m['is_member'] === true;
  return status === 'member' || status === 'administrator' || status === 'creator';
}

/** A `chat_member` update matters only as a join: out of the chat before, in it now. */
function mapChatMember(update: Record<string, unknown>): MappedUpdate {
  const chat = update['chat'];
  const chatId = isObject(chat) ? idOf(chat['id']) : null;
  const next = update['new_chat_member'];
  const user = isObject(next) ? next['user'] : undefined;
  const userId = isObject(user) ? idOf(user['id']) : null;
  if (chatId === null || userId === null) return { kind: 'ignored', reason: 'malformed chat member update' };
  if (!isIn(next) || isIn(update['old_chat_member'])) return { kind: 'ignored', reason: 'not a join' };
  return { kind: 'member_joined', userId, chatId, ...linkFields(update['invite_link']) };
}
