/**
 * An ad click as the tracking link sees it (pure): a new 32-hex token, the fbclid kept whole, the
 * `_fbc`/`_fbp` first-party cookies read or built per Meta's formats, IP, user agent and UTMs. The
 * redirect can only ever go to t.me.
 */
import { BotflowError } from '../errors.ts';

/** What is stored under the click's token. */
export interface ClickPayload {
  bot_id: string;
  slug: string;
  campaign?: string;
  created_at: number;
  fbclid?: string;
  fbc?: string;
  fbp?: string;
  ip?: string;
  user_agent?: string;
  utm?: Partial<Record<'source' | 'medium' | 'campaign' | 'content' | 'term', string>>;
  src?: string;
  sck?: string;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const COOKIE_DAYS = 90;
/** RFC 6265 cookie-octets: a value outside them cannot be set as a cookie (it is still stored whole). */
const COOKIE_SAFE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$/;

/**
 * Builds the click payload and the cookies to set (never one that is not a valid cookie value, such
 * as an fbc built from a mangled fbclid). `random10` gives 10 random digits for `_fbp`.
 */
export function captureClick(input: {
  slug: string;
  botId: string;
  campaign?: string;
  query: Record<string, string | string[] | undefined>;
  cookies: Record<string, string | undefined>;
  ip?: string;
  userAgent?: string;
  now: number;
  token: string;
  random10: string;
}): {
  token: string;
  payload: ClickPayload;
  setCookies: Array<{ name: string; value: string; maxAgeSeconds: number }>;
} {
  if (!/^[0-9a-f]{32}$/.test(input.token))
    throw new BotflowError('BAD_REQUEST', 'a click token is 32 hex characters');
  const fbclid = first(input.query['fbclid']);
  const fbc = input.cookies['_fbc'] ?? (fbclid ? `fb.1.${input.now}.${fbclid}` : undefined);
  const fbp = input.cookies['_fbp'] ?? `fb.1.${input.now}.${input.random10}`;
  const utm: NonNullable<ClickPayload['utm']> = {};
  for (const k of ['source', 'medium', 'campaign', 'content', 'term'] as const) {
    const v = first(input.query[`utm_${k}`]);
    if (v !== undefined && v !== '') utm[k] = v;
  }
  const src = first(input.query['src']);
  const sck = first(input.query['sck']);
  const payload: ClickPayload = {
    bot_id: input.botId,
    slug: input.slug,
    created_at: input.now,
    ...(input.campaign === undefined ? {} : { campaign: input.campaign }),
    ...(fbclid ? { fbclid } : {}),
    ...(fbc === undefined ? {} : { fbc }),
    fbp,
    ...(input.ip === undefined ? {} : { ip: input.ip }),
    ...(input.userAgent === undefined ? {} : { user_agent: input.userAgent }),
    ...(Object.keys(utm).length > 0 ? { utm } : {}),
    ...(src ? { src } : {}),
    ...(sck ? { sck } : {}),
  };
  const setCookies = [
    ...(fbc !== undefined && input.cookies['_fbc'] === undefined && COOKIE_SAFE.test(fbc)
      ? [{ name: '_fbc', value: fbc, maxAgeSeconds: COOKIE_DAYS * 86400 }]
      : []),
    ...(input.cookies['_fbp'] === undefined
      ? [{ name: '_fbp', value: fbp, maxAgeSeconds: COOKIE_DAYS * 86400 }]
      : []),
  ];
  return { token: input.token, payload, setCookies };
}

/** The redirect target: only `https://t.me/<username>?start=<token>`, with both validated. */
export function buildStartRedirect(botUsername: string, token: string): string {
  const bot = buildBotRedirect(botUsername);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(token))
    throw new BotflowError('BAD_REQUEST', 'not a valid /start payload');
  return `${bot}?start=${token}`;
}

/** The bot's own t.me link without a payload (where a buyer goes when the click cannot be kept). */
export function buildBotRedirect(botUsername: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]{3,31}$/.test(botUsername))
    throw new BotflowError('BAD_REQUEST', 'not a Telegram bot username');
  return `https://t.me/${botUsername}`;
}
