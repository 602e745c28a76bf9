/**
 * Drives the demo's simulated buyers (src/demo/buyer.ts) against the cluster under test, recording
 * every Telegram update they cause so the report can tell which acknowledged updates had to be
 * committed. Buyers wait longer than in the demo: a fault may hold their next message for the whole cut.
 */
import { createInbox, type BuyerOutcome, type Persona, runBuyer } from '../../src/demo/buyer.ts';
import type { FakeBotApi } from '../../src/sim/fake-bot-api.ts';
import type { SandboxGateway } from '../../src/sim/sandbox-gateway.ts';
import { type FunnelUnderTest, GROUP_CHAT_ID } from './start-cluster.ts';

/** The updates pushed to the bot, by update_id: whether each must leave its input key committed. */
export type PushedUpdates = Map<number, { mustCommit: boolean; update: Record<string, unknown> }>;

/** Buyer i's persona, as in the demo: most pay, some let the charge expire, a few send garbage. */
export function personaOf(i: number): Persona {
  if (i % 10 === 9) return 'garbage';
  if (i % 5 === 3) return 'expirer';
  return 'payer';
}

/** Whether an update reaches a conversation (and so commits its key): text, and buttons the bot sent. */
function mustCommit(update: Record<string, unknown>): boolean {
  const message = update['message'] as { text?: unknown } | undefined;
  if (message !== undefined) return typeof message.text === 'string';
  const callback = update['callback_query'] as { data?: unknown } | undefined;
  // The garbage persona's `c.zz.zz.0` decodes to nothing: answered, never dispatched.
  return callback !== undefined && typeof callback.data === 'string' && callback.data !== 'c.zz.zz.0';
}

/** A view of the fake Bot API whose pushUpdate records (and, when hostile, duplicates) each update. */
function recordingFake(fake: FakeBotApi, pushed: PushedUpdates, duplicateEvery: number): FakeBotApi {
  let count = 0;
  return {
    ...fake,
    pushUpdate(token, update) {
      const id = fake.pushUpdate(token, update);
      const full = { update_id: id, ...update };
      pushed.set(id, { mustCommit: mustCommit(update), update: full });
      count += 1;
      // Telegram redelivers an update it thinks was lost: the same update_id again.
      if (duplicateEvery > 0 && count % duplicateEvery === 0) fake.pushUpdate(token, full);
      return id;
    },
  };
}

/** A view of the sandbox whose pay() accepts a charge already paid (the paid-before-created payer). */
function tolerantSandbox(sandbox: SandboxGateway): SandboxGateway {
  return {
    ...sandbox,
    async pay(id) {
      if (sandbox.charges.get(id)?.status === 'paid') return;
      await sandbox.pay(id);
    },
  };
}

/** What the buyers did, and how often one clicked the ad again because botflow was not reachable. */
export interface BuyersRun {
  outcomes: BuyerOutcome[];
  clickRetries: number;
}

/**
 * Runs `buyers` buyers, `concurrency` at a time; `onProgress` sees each finished buyer. A buyer whose
 * click on the tracking link fails (a cut, a killed worker) clicks again, like a person would, until
 * their wait runs out, so a fault does not burn through the buyers who had not started yet.
 */
export async function driveBuyers(
  cluster: FunnelUnderTest,
  options: {
    buyers: number;
    concurrency: number;
    /** How long a buyer waits for the bot's next message. */
    waitMs: number;
    /** Push every Nth update twice (0: never). */
    duplicateEvery?: number;
    pushed: PushedUpdates;
    onProgress?(done: number): void;
  },
): Promise<BuyersRun> {
  const fake = recordingFake(cluster.fake, options.pushed, options.duplicateEvery ?? 0);
  const inbox = createInbox(cluster.fake);
  const ctx = {
    appUrl: cluster.url,
    slug: cluster.slug,
    token: cluster.bot.token,
    fake,
    sandbox: tolerantSandbox(cluster.sandbox),
    inbox: {
      next: inbox.next.bind(inbox),
      close: inbox.close.bind(inbox),
      isClosed: inbox.isClosed.bind(inbox),
    },
    groupChatId: GROUP_CHAT_ID,
  };
  const next = ctx.inbox.next;
  ctx.inbox.next = (chat, from, test, timeoutMs) => next(chat, from, test, timeoutMs ?? options.waitMs);
  const base = 6_000_000_000 + Math.floor(Math.random() * 1_000_000) * 1000;
  const outcomes: BuyerOutcome[] = [];
  let clickRetries = 0;
  let cursor = 0;
  const walk = async (i: number) => {
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      const outcome = await runBuyer(ctx, base + i, personaOf(i), i % 20 !== 7);
      if (outcome.started || outcome.error === null || Date.now() > deadline) return outcome;
      clickRetries += 1;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };
  const lane = async () => {
    while (cursor < options.buyers) {
      outcomes.push(await walk(cursor++));
      options.onProgress?.(outcomes.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, options.buyers) }, lane));
  } finally {
    inbox.close();
  }
  return { outcomes, clickRetries };
}
