/**
 * Hostile webhooks against the cluster under test, posted straight to botflow's HTTP port: forged
 * Telegram updates (wrong secret, unknown bot, undecodable callback data), earlier updates replayed
 * late and twice at once (duplicated and reordered), and gateway notifications that are forged (bad
 * signature), misaddressed (unknown bot, unknown charge) or stale (a paid charge claimed pending).
 * Each answer is recorded by label so the report can show what a forger gets back.
 */
import { createHmac } from 'node:crypto';
import type { PushedUpdates } from './drive-buyers.ts';
import { type Cluster, SANDBOX } from './start-cluster.ts';

/** What the hostile inputs got back. */
export interface HostileResult {
  sent: number;
  /** Forged inputs (bad secret or signature) answered 2xx: botflow believed a forger. */
  forged_accepted: number;
  /** Inputs no redelivery can fix answered 5xx: Telegram or the gateway would retry them forever. */
  retryable_answers: number;
  /** Late and concurrent replays of acknowledged updates answered other than 2xx. */
  replays_refused: number;
  /** Charges paid before their create request was answered (their paid webhook may come first). */
  paid_before_created: number;
  /** Gateway webhook deliveries (each sent twice, held and reordered) and how many were answered 2xx. */
  gateway_deliveries: number;
  gateway_deliveries_2xx: number;
  answers: Record<string, number | string>;
}

/** Update ids of forged updates: far above the fake Bot API's numbering. */
const FORGED_BASE = 900_000_000;

async function post(url: string, body: string, headers: Record<string, string>): Promise<number | 'error'> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(15_000),
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.status;
  } catch {
    return 'error';
  }
}

/** Signs a sandbox webhook body the way the sandbox gateway does. */
export function signSandbox(body: string, secret = SANDBOX.webhookSecret): string {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** Records answers and classifies them. */
function createTally(result: HostileResult) {
  return (label: string, status: number | 'error', kind: 'forged' | 'unroutable') => {
    result.sent += 1;
    result.answers[label] = status;
    const ok = typeof status === 'number' && status >= 200 && status < 300;
    if (kind === 'forged' && ok) result.forged_accepted += 1;
    if (typeof status === 'number' && status >= 500) result.retryable_answers += 1;
  };
}

/** Forged Telegram updates and gateway notifications, posted while buyers walk the funnel. */
export async function sendForgeries(cluster: Cluster, userId: number, result: HostileResult): Promise<void> {
  const record = createTally(result);
  const from = { id: userId, is_bot: false, first_name: 'Forger' };
  const callback = (n: number, data: string) =>
    JSON.stringify({
      update_id: FORGED_BASE + n,
      callback_query: { id: `forged-${n}`, from, chat_instance: String(userId), data },
    });
  const tg = (bot: string) => `${cluster.url}/telegram/${bot}`;
  const right = { 'x-telegram-bot-api-secret-token': cluster.secret };
  const message = JSON.stringify({
    update_id: FORGED_BASE,
    message: { message_id: 1, date: 0, chat: { id: userId, type: 'private' }, from, text: '/start' },
  });
  record(
    'tg_bad_secret',
    await post(tg(cluster.bot.id), message, { 'x-telegram-bot-api-secret-token': 'x'.repeat(32) }),
    'forged',
  );
  record('tg_no_secret', await post(tg(cluster.bot.id), message, {}), 'forged');
  record('tg_unknown_bot', await post(tg('nosuchbot'), message, right), 'forged');
  const forgedData = ['c.zzzzzzz.0.0', 'c.1.0000000.99', 'c.zz.zz.0', 'c.', 'zzz', 'p.1'];
  for (const [i, data] of forgedData.entries())
    record(`tg_callback ${data}`, await post(tg(cluster.bot.id), callback(i + 1, data), right), 'unroutable');

  const charge = [...cluster.sandbox.charges.values()].at(-1);
  const pay = (bot: string) => `${cluster.url}/payments/${bot}/webhook`;
  const notice = (chargeId: string, orderId: string) =>
    JSON.stringify({
      id: `evt_forged_${chargeId}`,
      type: 'charge.updated',
      charge_id: chargeId,
      order_id: orderId,
      status: 'paid',
      amount_cents: 2990,
    });
  if (charge !== undefined) {
    const body = notice(charge.id, charge.order_id);
    record(
      'pay_bad_signature',
      await post(pay(cluster.bot.id), body, { 'x-sandbox-signature': signSandbox(body, 'wrong-secret') }),
      'forged',
    );
    record('pay_no_signature', await post(pay(cluster.bot.id), body, {}), 'forged');
    record(
      'pay_unknown_bot',
      await post(pay('nosuchbot'), body, { 'x-sandbox-signature': signSandbox(body) }),
      'unroutable',
    );
  }
  const unknown = notice('ch_00000000000000000000ff', 'no-such-order');
  record(
    'pay_unknown_charge',
    await post(pay(cluster.bot.id), unknown, { 'x-sandbox-signature': signSandbox(unknown) }),
    'unroutable',
  );
}

/**
 * Replays acknowledged buyer updates late, newest first, each twice at once (Telegram redelivering
 * what it thinks was lost), and claims every paid charge is pending again with a valid signature.
 */
export async function replayLate(
  cluster: Cluster,
  pushed: PushedUpdates,
  direct: Map<number, number[]>,
  result: HostileResult,
  limit: number,
): Promise<void> {
  const sample = [...pushed.entries()]
    .filter(([, p]) => p.mustCommit)
    .slice(-limit)
    .reverse();
  const url = `${cluster.url}/telegram/${cluster.bot.id}`;
  const headers = { 'x-telegram-bot-api-secret-token': cluster.secret };
  for (const [id, p] of sample) {
    const body = JSON.stringify(p.update);
    const statuses = await Promise.all([post(url, body, headers), post(url, body, headers)]);
    const numbers = statuses.map((s) => (s === 'error' ? 0 : s));
    direct.set(id, [...(direct.get(id) ?? []), ...numbers]);
    result.sent += 2;
    result.replays_refused += numbers.filter((s) => s < 200 || s >= 300).length;
  }
  for (const charge of cluster.sandbox.charges.values())
    if (charge.status === 'paid') cluster.sandbox.notify(charge.id, 'pending');
}

/** Pays some payers' charges before their create request is answered (paid-before-created). */
export function payBeforeCreated(
  cluster: Cluster,
  isPayer: (userId: number) => boolean,
  result: HostileResult,
): void {
  cluster.sandbox.onCreate(async (charge) => {
    const userId = Number(/:(\d+):/.exec(charge.order_id)?.[1] ?? NaN);
    if (!Number.isFinite(userId) || userId % 3 !== 0 || !isPayer(userId)) return;
    await cluster.sandbox.pay(charge.id);
    result.paid_before_created += 1;
  });
}

/** Counts the gateway's webhook deliveries into the result. */
export function countGatewayDeliveries(cluster: Cluster, result: HostileResult): void {
  const deliveries = cluster.sandbox.deliveries;
  result.gateway_deliveries = deliveries.length;
  result.gateway_deliveries_2xx = deliveries.filter(
    (d) => typeof d.status === 'number' && d.status >= 200 && d.status < 300,
  ).length;
}

/** An empty result. */
export const emptyHostileResult = (): HostileResult => ({
  sent: 0,
  forged_accepted: 0,
  retryable_answers: 0,
  replays_refused: 0,
  paid_before_created: 0,
  gateway_deliveries: 0,
  gateway_deliveries_2xx: 0,
  answers: {},
});
