import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAccessRemoval } from '../../src/bot/access-removal.ts';
import type { AccessGrantRecord, AccessRepository } from '../../src/db/access-repository.ts';
import { BotflowError } from '../../src/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Dispatch } from '../../src/runtime/conversation-host.ts';

const grant = (
  orderId: string,
  userId: string,
  over: Partial<AccessGrantRecord> = {},
): AccessGrantRecord => ({
  id: orderId,
  orderId,
  botId: 'b',
  userId,
  chatId: '-100',
  inviteLink: `https://t.me/+${orderId}`,
  linkName: null,
  status: 'granted',
  expiresAt: 0,
  joinedAt: null,
  ...over,
});

/** The removal over recording stand-ins: grants by order, `due` and `refunded` lists, marks recorded. */
function setup(
  grants: AccessGrantRecord[],
  options: { failFor?: string; owned?: (userId: string) => boolean } = {},
) {
  const dispatched: Dispatch[] = [];
  const marks: string[] = [];
  const access = {
    findByOrder: async (orderId: string) => grants.find((g) => g.orderId === orderId) ?? null,
    due: async () => grants,
    refundedStillOpen: async () => grants,
    markExpired: async (orderId: string) => void marks.push(`expired ${orderId}`),
    markRevoked: async (orderId: string) => {
      marks.push(`revoked ${orderId}`);
      return true;
    },
  } as unknown as AccessRepository;
  const removal = createAccessRemoval({
    access,
    dispatch: async (input) => {
      if (input.userId === options.failFor) throw new BotflowError('STORE_UNAVAILABLE', 'down');
      dispatched.push(input);
    },
    owns: (_bot, userId) => options.owned?.(userId) ?? true,
    now: () => 0,
    logger: createLogger({ level: 'silent' }),
  });
  return { removal, dispatched, marks };
}

describe('access removal commits the take-back, then marks the grant', () => {
  it('a refund: removal, revocation and notice for the buyer, under the order key; then revoked', async () => {
    const { removal, dispatched, marks } = setup([grant('o1', '7')]);
    await removal.revoke('o1');
    assert.deepEqual(dispatched, [
      {
        botId: 'b',
        userId: '7',
        inputKey: 'access-ended:o1',
        effects: [
          { type: 'removeMember', chat_id: '-100' },
          { type: 'revokeInvite', chat_id: '-100', invite_link: 'https://t.me/+o1' },
          { type: 'accessEnded', reason: 'refunded' },
        ],
      },
    ]);
    assert.deepEqual(marks, ['revoked o1']);
  });

  it('a grant already ended, or unknown, commits nothing', async () => {
    const { removal, dispatched, marks } = setup([grant('o1', '7', { status: 'expired' })]);
    await removal.revoke('o1');
    await removal.revoke('nope');
    assert.deepEqual([dispatched, marks], [[], []]);
  });

  it('the expiry job: owned grants only; a failed commit is logged, marks nothing, and the rest go on', async () => {
    const grants = [grant('o1', '7'), grant('o2', '8'), grant('o3', '9')];
    const { removal, dispatched, marks } = setup(grants, { failFor: '8', owned: (u) => u !== '9' });
    assert.equal(await removal.expireDue(), 1);
    assert.deepEqual(
      dispatched.map((d) => [d.inputKey, d.effects?.at(-1)]),
      [['access-ended:o1', { type: 'accessEnded', reason: 'expired' }]],
    );
    assert.deepEqual(marks, ['expired o1']);
  });

  it('a commit that fails on a refund throws, so the webhook is delivered again', async () => {
    const { removal, marks } = setup([grant('o1', '7')], { failFor: '7' });
    await assert.rejects(
      removal.revoke('o1'),
      (e: unknown) => (e as BotflowError).code === 'STORE_UNAVAILABLE',
    );
    assert.deepEqual(marks, []);
  });
});
