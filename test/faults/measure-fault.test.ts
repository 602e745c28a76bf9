/**
 * The fault suite's detectors are not blind. A clean run of a few buyers on the real cluster
 * measures zero everywhere. Then one instance of each failure is planted through the real interfaces
 * (a committed input key removed, a message sent again, a second charge for an order, a second invite
 * link, a second Purchase, an effect left pending), and each counter must count exactly that one.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { driveBuyers, type PushedUpdates } from './drive-buyers.ts';
import { countStuck, measureGuarantees, settle } from './measure-fault.ts';
import { type Cluster, PIXEL, SANDBOX, startCluster } from './start-cluster.ts';

let cluster: Cluster;
const pushed: PushedUpdates = new Map();
const direct = new Map<number, number[]>();
let outcomes: Awaited<ReturnType<typeof driveBuyers>>['outcomes'];

before(async () => {
  cluster = await startCluster({
    label: 'detectors',
    logDir: join(tmpdir(), 'botflow-faults'),
    logLevel: 'warn',
    webhookRetry: { baseMs: 100, attempts: 5 },
  });
  // Buyers 0-2 pay; buyer 3 lets the charge expire.
  ({ outcomes } = await driveBuyers(cluster, { buyers: 4, concurrency: 4, waitMs: 20_000, pushed }));
  assert.ok(await settle(cluster, 30_000), 'the outbox drains');
  await Promise.race([cluster.fake.settled(), new Promise((r) => setTimeout(r, 10_000))]);
});

after(() => cluster?.close());

/** POSTs JSON and fails the test unless answered 2xx. */
async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  assert.ok(res.ok, `${url} answered ${res.status}: ${await res.text()}`);
}

test('a clean run measures no loss, duplicate or stuck effect', async () => {
  const clean = await measureGuarantees(cluster, { pushed, direct, outcomes });
  assert.equal(clean.buyers, 4);
  assert.equal(clean.buyer_errors, 0, JSON.stringify(clean.samples));
  assert.equal(clean.paid, 3);
  assert.ok(clean.acknowledged_must_commit >= 12, 'each buyer sent /start, an e-mail and a press');
  for (const counter of [
    'acknowledged_not_committed',
    'duplicate_charges',
    'duplicate_grants',
    'duplicate_purchases',
    'duplicate_sends',
    'paid_without_access',
    'paid_without_purchase',
  ] as const)
    assert.equal(clean[counter], 0, counter);
  assert.equal((await countStuck(cluster.db, 1000)).stuck, 0);
});

test('one planted failure of each kind is counted exactly once', async () => {
  const token = cluster.bot.token;
  const buyer = String(outcomes.find((o) => o.paid)!.userId);
  // An acknowledged update whose input key vanished.
  const [lostId] = [...pushed].find(([, p]) => p.mustCommit)!;
  await cluster.db.query('delete from processed_inputs where key = $1', [`tg:${cluster.bot.id}:${lostId}`]);
  // The e-mail prompt sent again to the same buyer.
  const prompt = cluster.fake
    .callsOf(token, 'sendMessage')
    .find((c) => String(c.params['chat_id']) === buyer && /e-?mail/i.test(String(c.params['text'])))!;
  await postJson(`${cluster.fake.url}/bot${token}/sendMessage`, {
    chat_id: Number(buyer),
    text: prompt.params['text'],
  });
  // A second invite link for the same buyer's order.
  await postJson(`${cluster.fake.url}/bot${token}/sendMessage`, {
    chat_id: Number(buyer),
    text: 'Seu acesso: https://t.me/+planted-second-link',
  });
  // A second charge for an order, under another idempotency key.
  const charge = [...cluster.sandbox.charges.values()][0]!;
  await postJson(
    `${cluster.sandbox.url}/v1/charges`,
    {
      order_id: charge.order_id,
      amount_cents: charge.amount_cents,
      description: charge.description,
      expires_in_seconds: 600,
      notification_url: charge.notification_url,
    },
    { authorization: `Bearer ${SANDBOX.apiKey}`, 'idempotency-key': 'planted-second-charge' },
  );
  // A second Purchase for a paid order, under another event id.
  const purchase = cluster.graph.events.get(PIXEL.pixel_id)!.find((e) => e['event_name'] === 'Purchase')!;
  await postJson(`${cluster.graph.url}/v21.0/${PIXEL.pixel_id}/events`, {
    access_token: PIXEL.access_token,
    data: [{ ...purchase, event_id: 'planted-second-purchase', event_time: Math.floor(Date.now() / 1000) }],
  });
  // An effect nobody runs, pending for an hour.
  await cluster.db.query(
    `insert into effects (bot_id, user_id, idempotency_key, effect, created_at, next_attempt_at)
     values ($1, $2, 'planted-stuck', '{"type":"notice","text":"x"}', now() - interval '1 hour', now() - interval '1 hour')`,
    [cluster.bot.id, buyer],
  );

  const planted = await measureGuarantees(cluster, { pushed, direct, outcomes });
  assert.equal(planted.acknowledged_not_committed, 1);
  assert.equal(planted.duplicate_sends, 1);
  assert.equal(planted.duplicate_grants, 1);
  assert.equal(planted.duplicate_charges, 1);
  assert.equal(planted.duplicate_purchases, 1);
  assert.equal((await countStuck(cluster.db, 30_000)).stuck, 1);
});
