import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advanceConversation, startConversation } from '../../src/flow/advance-conversation.ts';
import { compileFlow } from '../../src/flow/compile.ts';
import { BotflowError } from '../../src/errors.ts';
import { hashId } from '../../src/flow/hash-id.ts';
import type { AdvanceResult } from '../../src/flow/advance-conversation.ts';
import type { FlowEvent } from '../../src/flow/types.ts';

/** A Telegram press: what the callback data of `flow`'s (null: untagged, older data) button names. */
const press = (flow: string | null, version: number, step: string, index: number): FlowEvent => ({
  type: 'click',
  step: '',
  index,
  callback: { flow: flow === null ? null : hashId(flow), version, step: hashId(step) },
});

/** The amount of the charge an event opened, or null. */
const chargeOf = (r: AdvanceResult): number | null => {
  const charge = r.effects.find((e) => e.type === 'createCharge');
  return charge?.type === 'createCharge' ? charge.amount_cents : null;
};

const flow = {
  id: 'f1',
  welcome_message: 'Oi',
  flow_start_step_id: 'ask',
  main_buttons: [{ text: 'Plan', price: 5 }],
  flow_steps: [
    {
      id: 'ask',
      type: 'buttons',
      config: { text: 'Buy?', custom_buttons: [{ text: 'Yes', main_button_index: 0 }] },
      conditions: [
        { type: 'button_click', button_text: 'Yes', target_step: 'pay' },
        { type: 'time_elapsed', minutes: 2, target_step: 'later' },
      ],
    },
    { id: 'pay', type: 'payment', config: { expires_in_minutes: 10 }, connections: { next: 'vip' } },
    { id: 'later', type: 'end', config: { text: 'bye' } },
    { id: 'vip', type: 'access', config: { chat_id: '@vip', access_days: 3 } },
  ],
};

describe('advanceConversation', () => {
  const compiled = compileFlow(flow, { version: 7 });

  it('returns effects as data, timers included, and a JSON snapshot', () => {
    const r = advanceConversation(compiled, null, { type: 'start', payload: 'tok' });
    assert.equal(r.currentStep, 'ask');
    assert.deepEqual(
      r.effects.map((e) => e.type),
      ['send', 'schedule'],
    );
    const schedule = r.effects[1];
    assert.equal(schedule?.type, 'schedule');
    if (schedule?.type === 'schedule') {
      assert.equal(schedule.delay_ms, 120_000);
      assert.equal(schedule.event.type, schedule.id);
    }
    assert.deepEqual(JSON.parse(JSON.stringify(r.snapshot)), r.snapshot);
  });

  it('leaving a step cancels its timer; the charge carries order, price and expiry', () => {
    const started = advanceConversation(compiled, null, { type: 'start' });
    const r = advanceConversation(compiled, started.snapshot, { type: 'click', step: 'ask', index: 0 });
    assert.equal(r.currentStep, 'pay');
    assert.deepEqual(r.effects, [
      { type: 'cancel', id: (started.effects[1] as { id: string }).id },
      {
        type: 'createCharge',
        step: 'pay',
        order: 'pay:1',
        amount_cents: 500,
        description: 'Plan',
        expires_in_minutes: 10,
        offer: 0,
      },
    ]);
  });

  it('a fired timer event moves the conversation', () => {
    const started = advanceConversation(compiled, null, { type: 'start' });
    const timer = started.effects[1] as { event: { type: string } };
    const r = advanceConversation(compiled, started.snapshot, timer.event as never);
    assert.equal(r.currentStep, 'later');
    assert.equal(r.status, 'done');
  });

  it('lists the steps each event entered, in order; an event that moves nowhere entered none', () => {
    const started = advanceConversation(compiled, null, { type: 'start' });
    assert.deepEqual(started.enteredSteps, ['ask']);
    const bought = advanceConversation(compiled, started.snapshot, { type: 'click', step: 'ask', index: 0 });
    assert.deepEqual(bought.enteredSteps, ['pay']);
    const chatter = advanceConversation(compiled, bought.snapshot, { type: 'text', text: 'hello?' });
    assert.deepEqual(chatter.enteredSteps, []);
    const order = (bought.effects[1] as { order: string }).order;
    const paid = advanceConversation(compiled, chatter.snapshot, {
      type: 'payment.paid',
      order,
      step: 'pay',
    });
    assert.deepEqual(paid.enteredSteps, ['vip']);
  });

  it('a paid order grants access once, carrying the order', () => {
    let s = advanceConversation(compiled, null, { type: 'start' }).snapshot;
    s = advanceConversation(compiled, s, { type: 'click', step: 'ask', index: 0 }).snapshot;
    const paid = advanceConversation(compiled, s, { type: 'payment.paid', order: 'pay:1', step: 'pay' });
    assert.deepEqual(paid.effects, [
      { type: 'grantAccess', step: 'vip', order: 'pay:1', chat_id: '@vip', access_days: 3 },
    ]);
    const again = advanceConversation(compiled, paid.snapshot, {
      type: 'payment.paid',
      order: 'pay:1',
      step: 'pay',
    });
    assert.deepEqual(again.effects, []);
  });

  it('a charge created after its order was paid (early webhook) is not sent to the buyer', () => {
    let s = advanceConversation(compiled, null, { type: 'start' }).snapshot;
    s = advanceConversation(compiled, s, { type: 'click', step: 'ask', index: 0 }).snapshot;
    s = advanceConversation(compiled, s, { type: 'payment.paid', order: 'pay:1', step: 'pay' }).snapshot;
    const late = { type: 'payment.created', order: 'pay:1', charge_id: 'c1', br_code: 'x' } as const;
    const r = advanceConversation(compiled, s, late);
    assert.equal(r.currentStep, 'vip');
    assert.deepEqual(r.effects, []);
    assert.equal((r.snapshot.context as { charge: { status: string } }).charge.status, 'paid');
  });

  it('a payment event for another order changes nothing', () => {
    let s = advanceConversation(compiled, null, { type: 'start' }).snapshot;
    s = advanceConversation(compiled, s, { type: 'click', step: 'ask', index: 0 }).snapshot;
    const r = advanceConversation(compiled, s, { type: 'payment.expired', order: 'pay:9', step: 'pay' });
    assert.equal(r.currentStep, 'pay');
    assert.deepEqual(r.effects, []);
  });

  it('a press rendered for another version, step or button is stale and never charged', () => {
    // v8 of the same flow offers a second, dearer plan first: its `ask` index 0 is not v7's index 0.
    const v8 = compileFlow(
      {
        ...flow,
        main_buttons: [
          { text: 'Plan', price: 5 },
          { text: 'Lifetime', price: 97 },
        ],
        flow_steps: [
          {
            ...flow.flow_steps[0],
            config: {
              text: 'Buy?',
              custom_buttons: [
                { text: 'Lifetime', main_button_index: 1 },
                { text: 'Yes', main_button_index: 0 },
                { text: 'Site', url: 'https://example.com' },
              ],
            },
            conditions: [
              { type: 'button_click', button_text: 'Lifetime', target_step: 'pay' },
              { type: 'button_click', button_text: 'Yes', target_step: 'pay' },
            ],
          },
          ...flow.flow_steps.slice(1),
        ],
      },
      { version: 8 },
    );
    const at = advanceConversation(v8, null, { type: 'start' }).snapshot;
    const stale: FlowEvent[] = [
      press('f1', 7, 'ask', 0),
      press('f1', 9, 'ask', 0),
      press('f1', 8, 'pay', 0),
      press('f1', 8, 'gone', 0),
      press('f1', 8, 'ask', 3),
      press('f1', 8, 'ask', -1),
      press('f1', 8, 'ask', 2), // a link button
      press(null, 7, 'ask', 0), // older data, without a flow tag
      { type: 'click', step: '', index: 0 },
    ];
    for (const event of stale) {
      const r = advanceConversation(v8, at, event);
      assert.equal(r.currentStep, 'ask', JSON.stringify(event));
      assert.deepEqual(
        r.effects.map((e) => (e.type === 'notice' ? e.code : e.type)),
        ['stale_button'],
        JSON.stringify(event),
      );
    }
    assert.equal(chargeOf(advanceConversation(v8, at, press('f1', 8, 'ask', 0))), 9700);
    assert.equal(
      chargeOf(advanceConversation(v8, at, press(null, 8, 'ask', 0))),
      9700,
      'older data: by version',
    );
    const simulated = advanceConversation(v8, at, { type: 'click', step: 'ask', index: 1 });
    assert.equal(chargeOf(simulated), 500, 'no callback: its own version');
  });

  it("a press of another flow's button is stale even when its version, step id and index exist here", () => {
    // Flow Y: a copy of f1 (same step ids, same version number) whose first offer is dearer.
    const y = compileFlow(
      {
        ...flow,
        id: 'y',
        main_buttons: [{ text: 'Lifetime', price: 97 }],
        flow_steps: [
          {
            ...flow.flow_steps[0],
            config: { text: 'Buy?', custom_buttons: [{ text: 'Lifetime', main_button_index: 0 }] },
            conditions: [{ type: 'button_click', button_text: 'Lifetime', target_step: 'pay' }],
          },
          ...flow.flow_steps.slice(1),
        ],
      },
      { version: 7 },
    );
    const at = advanceConversation(y, null, { type: 'start' }).snapshot;
    const x = advanceConversation(y, at, press('f1', 7, 'ask', 0));
    assert.deepEqual(
      x.effects.map((e) => (e.type === 'notice' ? e.code : e.type)),
      ['stale_button'],
    );
    assert.equal(x.currentStep, 'ask');
    assert.equal(chargeOf(advanceConversation(y, at, press('y', 7, 'ask', 0))), 9700);
  });

  it('a step tag two steps of the version share names neither: the press is stale', () => {
    assert.equal(hashId('s6rnw'), hashId('snpba'), 'an FNV-1a collision');
    const twins = compileFlow(
      {
        id: 'twins',
        flow_start_step_id: 's6rnw',
        flow_steps: [
          {
            id: 's6rnw',
            type: 'buttons',
            config: { text: 'Go?', custom_buttons: [{ text: 'Go' }] },
            conditions: [{ type: 'button_click', button_text: 'Go', target_step: 'snpba' }],
          },
          { id: 'snpba', type: 'end', config: { text: 'done' } },
        ],
      },
      { version: 1 },
    );
    const at = advanceConversation(twins, null, { type: 'start' }).snapshot;
    assert.equal(advanceConversation(twins, at, press('twins', 1, 's6rnw', 0)).currentStep, 's6rnw');
    assert.equal(
      advanceConversation(twins, at, { type: 'click', step: 's6rnw', index: 0 }).currentStep,
      'snpba',
      'the simulator names the step itself',
    );
  });

  it("a step's message names the flow it belongs to, for its buttons' data", () => {
    const r = advanceConversation(compiled, null, { type: 'start' });
    assert.deepEqual(r.effects[0], {
      type: 'send',
      step: 'ask',
      flow: 'f1',
      message: { text: 'Buy?', buttons: [{ text: 'Yes', index: 0 }] },
    });
  });

  it('a snapshot that no longer resolves restarts from the start step', () => {
    const stale = { ...startConversation(compiled), value: 'removed_step' };
    const r = advanceConversation(compiled, stale, { type: 'text', text: 'hello' });
    assert.equal(r.restarted, true);
    assert.equal(r.currentStep, 'ask');
    assert.equal(r.effects[0]?.type, 'send');
  });

  it('garbage instead of a snapshot restarts instead of throwing', () => {
    for (const junk of [{}, { status: 'active' }, { status: 'active', value: 5, context: null }, 'x', 42]) {
      const r = advanceConversation(compiled, junk as never, { type: 'start' });
      assert.equal(r.restarted, true);
      assert.equal(r.currentStep, 'ask');
    }
  });

  it('compileFlow refuses an invalid flow with every problem in details', () => {
    assert.throws(
      () => compileFlow({ id: 'x', flow_start_step_id: 'a', flow_steps: [] }),
      (error: unknown) =>
        error instanceof BotflowError && error.code === 'INVALID_FLOW' && Array.isArray(error.details),
    );
  });

  it('the machine config is plain JSON with step ids as state keys and maxIterations set', () => {
    const { config } = compiled;
    assert.deepEqual(JSON.parse(JSON.stringify(config)), config);
    assert.deepEqual(
      Object.keys(config.states ?? {}).filter((k) => !k.startsWith('@')),
      ['ask', 'pay', 'later', 'vip'],
    );
    assert.ok(config.options.maxIterations > 50 && Number.isFinite(config.options.maxIterations));
    assert.equal(config.version, '7');
  });
});

/** The VIP funnel compiled from `machines/`. */
async function compileVip() {
  const { readFileSync } = await import('node:fs');
  return compileFlow(
    JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8')),
  );
}

/** Executed actions as type and params only (what XState and the reused scope both fill). */
const strip = (actions: Array<{ type: string; params?: unknown }>) =>
  actions.map((x) => ({ type: x.type, params: x.params }));

describe('fastTransition', () => {
  it('gives the same snapshots and actions as XState transition() over a whole funnel', async () => {
    const { transition } = await import('xstate');
    const { fastTransition } = await import('../../src/flow/advance-conversation.ts');
    const vip = await compileVip();
    const events = [
      { type: 'start' },
      { type: 'text', text: 'bad' },
      { type: 'text', text: 'ana@example.com' },
      { type: 'click', step: 'offers', index: 1 },
      { type: 'payment.created', order: 'pay:1', charge_id: 'c1', br_code: 'x' },
      { type: 'xstate.after.elapsed_pay_0.vip-funnel.pay' },
      { type: 'xstate.after.delay_downsell_intro.vip-funnel.downsell_intro' },
      { type: 'click', step: 'downsell_offer', index: 0 },
      { type: 'payment.paid', order: 'pay:1', step: 'pay' },
    ] as const;
    let a = vip.machine.resolveState({ value: '@idle', context: startConversation(vip).context });
    let b = a;
    for (const event of events) {
      const [na, aa] = transition(vip.machine, a, event as never);
      const [nb, ab] = fastTransition(vip, b, event as never);
      assert.deepEqual(nb.value, na.value);
      assert.deepEqual(nb.context, na.context);
      assert.deepEqual(strip(ab), strip(aa as never));
      a = na;
      b = nb;
    }
    assert.equal(b.value, 'access');
  });

  it('fastInitialTransition gives the same snapshot and actions as XState initialTransition()', async () => {
    const { initialTransition } = await import('xstate');
    const { fastInitialTransition } = await import('../../src/flow/advance-conversation.ts');
    const vip = await compileVip();
    const [expected, expectedActions] = initialTransition(vip.machine);
    // Twice: the reused scope must not carry anything from one call to the next.
    for (let i = 0; i < 2; i++) {
      const [made, actions] = fastInitialTransition(vip);
      assert.deepEqual(made.value, expected.value);
      assert.deepEqual(made.context, expected.context);
      assert.equal(made.status, expected.status);
      assert.deepEqual(strip(actions), strip(expectedActions as never));
    }
  });
});
