/**
 * One simulated buyer, talking to botflow only the way a person would: through the tracking link
 * (real HTTP), Telegram updates pushed by the fake Bot API to botflow's webhook, and the sandbox
 * gateway paying or letting a charge expire. It reads what the bot sent from the fake's recorded
 * calls and reacts, so it walks any flow shaped like the VIP example.
 */
import type { FakeBotApi, RecordedCall } from '../sim/fake-bot-api.ts';
import type { SandboxGateway } from '../sim/sandbox-gateway.ts';

/** How a buyer behaves. */
export type Persona = 'payer' | 'expirer' | 'garbage';

export interface BuyerContext {
  appUrl: string;
  slug: string;
  token: string;
  fake: FakeBotApi;
  sandbox: SandboxGateway;
  inbox: Inbox;
  groupChatId: number;
}

/** What the buyer did and saw. */
export interface BuyerOutcome {
  userId: number;
  persona: Persona;
  tracked: boolean;
  clicked: boolean;
  started: boolean;
  chargeId: string | null;
  paid: boolean;
  expired: boolean;
  gotAccess: boolean;
  joined: boolean;
  error: string | null;
}

/** The bot's messages per chat, indexed incrementally from the fake's call log. */
export interface Inbox {
  /** Waits for the next call to `chatId` after `from` matching `test`; returns it and its position. */
  next(
    chatId: number,
    from: number,
    test: (call: RecordedCall) => boolean,
    timeoutMs?: number,
  ): Promise<[RecordedCall, number]>;
  /** Ends every wait at once (an interrupted demo): waiting buyers fail instead of polling on. */
  close(): void;
  isClosed(): boolean;
}

/** Creates the inbox over the fake's call log. */
export function createInbox(fake: FakeBotApi): Inbox {
  const byChat = new Map<number, RecordedCall[]>();
  let scanned = 0;
  let closed = false;
  const scan = () => {
    for (; scanned < fake.calls.length; scanned++) {
      const call = fake.calls[scanned]!;
      const chat = Number(call.params['chat_id']);
      if (!Number.isFinite(chat)) continue;
      const list = byChat.get(chat) ?? [];
      list.push(call);
      byChat.set(chat, list);
    }
  };
  return {
    async next(chatId, from, test, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        scan();
        const list = byChat.get(chatId) ?? [];
        for (let i = from; i < list.length; i++) if (test(list[i]!)) return [list[i]!, i + 1];
        if (Date.now() > deadline) throw new Error(`no expected message for chat ${chatId}`);
        if (closed) throw new Error('the demo stopped');
        await new Promise((r) => setTimeout(r, 15));
      }
    },
    close() {
      closed = true;
    },
    isClosed: () => closed,
  };
}

type Keyboard = { inline_keyboard?: Array<Array<{ text: string; callback_data?: string }>> };
const keyboardOf = (call: RecordedCall): Keyboard | null => {
  const markup = call.params['reply_markup'];
  const parsed =
    typeof markup === 'string' ? (JSON.parse(markup) as Keyboard) : (markup as Keyboard | undefined);
  return parsed?.inline_keyboard === undefined ? null : parsed;
};
const textOf = (call: RecordedCall) => String(call.params['text'] ?? call.params['caption'] ?? '');
const isSend = (call: RecordedCall) => call.method === 'sendMessage' || call.method.startsWith('send');

/** Runs one buyer to the end of their story. */
export async function runBuyer(
  ctx: BuyerContext,
  userId: number,
  persona: Persona,
  tracked: boolean,
): Promise<BuyerOutcome> {
  const out: BuyerOutcome = {
    userId,
    persona,
    tracked,
    clicked: false,
    started: false,
    chargeId: null,
    paid: false,
    expired: false,
    gotAccess: false,
    joined: false,
    error: null,
  };
  const from = { id: userId, is_bot: false, first_name: `Buyer${userId}` };
  const chat = { id: userId, type: 'private' };
  let messageId = 1;
  const say = (text: string) =>
    ctx.fake.pushUpdate(ctx.token, {
      message: { message_id: messageId++, date: Math.floor(Date.now() / 1000), chat, from, text },
    });
  const press = (data: string) =>
    ctx.fake.pushUpdate(ctx.token, {
      callback_query: { id: `${userId}-${messageId++}`, from, chat_instance: String(userId), data },
    });
  let cursor = 0;
  const expect = async (test: (c: RecordedCall) => boolean) => {
    const [call, next] = await ctx.inbox.next(userId, cursor, test);
    cursor = next;
    return call;
  };
  try {
    let payload = '';
    if (tracked) {
      const fbclid = `IwAR${userId.toString(36)}${'x'.repeat(200)}_${Math.random().toString(36).slice(2)}`;
      const res = await fetch(
        `${ctx.appUrl}/r/${ctx.slug}?fbclid=${fbclid}&utm_source=facebook&utm_campaign=bf`,
        {
          redirect: 'manual',
          headers: {
            'user-agent': `Mozilla/5.0 (Buyer ${userId})`,
            'x-forwarded-for': `203.0.113.${userId % 250}`,
          },
        },
      );
      const location = res.headers.get('location') ?? '';
      payload = new URL(location).searchParams.get('start') ?? '';
      out.clicked = res.status === 302 && location.startsWith('https://t.me/');
    }
    say(payload === '' ? '/start' : `/start ${payload}`);
    out.started = true;
    await expect((c) => isSend(c) && /e-?mail/i.test(textOf(c)));
    if (persona === 'garbage') {
      say('asdf qwer');
      // A button no flow version knows: answered (the spinner stops), nothing else changes.
      const id = `${userId}-stale`;
      ctx.fake.pushUpdate(ctx.token, {
        callback_query: { id, from, chat_instance: String(userId), data: 'c.zz.zz.0' },
      });
      const deadline = Date.now() + 20_000;
      while (
        !ctx.fake.calls.some(
          (c) => c.method === 'answerCallbackQuery' && c.params['callback_query_id'] === id,
        )
      ) {
        if (Date.now() > deadline || ctx.inbox.isClosed())
          throw new Error('the stale button was never answered');
        await new Promise((r) => setTimeout(r, 15));
      }
      return out;
    }
    say(`buyer${userId}@example.com`);
    const offers = await expect((c) => isSend(c) && keyboardOf(c) !== null);
    const buttons = keyboardOf(offers)!.inline_keyboard!.flat();
    press(buttons[userId % buttons.length]!.callback_data!);
    const pix = await expect((c) => c.method === 'sendPhoto' && textOf(c).includes('PIX'));
    const code = /<code>([^<]+)<\/code>/.exec(textOf(pix))?.[1] ?? textOf(pix);
    const charge = [...ctx.sandbox.charges.values()].find(
      (c) => code.includes(c.br_code.slice(-20)) && c.order_id.includes(`:${userId}:`),
    );
    if (charge === undefined) throw new Error('the PIX message matches no sandbox charge');
    out.chargeId = charge.id;
    if (persona === 'payer') {
      await ctx.sandbox.pay(charge.id);
      out.paid = true;
      const access = await expect((c) => c.method === 'sendMessage' && textOf(c).includes('https://t.me/+'));
      out.gotAccess = true;
      const link = /https:\/\/t\.me\/\+[A-Za-z0-9_-]+/.exec(textOf(access))![0];
      ctx.fake.pushUpdate(ctx.token, {
        chat_join_request: {
          chat: { id: ctx.groupChatId, type: 'supergroup', title: 'VIP' },
          from,
          user_chat_id: userId,
          date: Math.floor(Date.now() / 1000),
          invite_link: {
            invite_link: link,
            creates_join_request: true,
            is_primary: false,
            is_revoked: false,
          },
        },
      });
      await ctx.inbox.next(
        ctx.groupChatId,
        0,
        (c) => c.method === 'approveChatJoinRequest' && Number(c.params['user_id']) === userId,
      );
      out.joined = true;
    } else {
      await ctx.sandbox.expire(charge.id);
      out.expired = true;
      const downsell = await expect((c) => isSend(c) && keyboardOf(c) !== null);
      const no = keyboardOf(downsell)!.inline_keyboard!.flat().at(-1)!;
      press(no.callback_data!);
      await expect((c) => c.method === 'sendMessage');
    }
  } catch (error) {
    out.error = (error as Error).message;
  }
  return out;
}
