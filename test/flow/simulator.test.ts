import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compileFlow } from '../../src/flow/compile.ts';
import { createSimulator, type SimEvent, type SimOutput } from '../../src/flow/simulator.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));

function run(flow: unknown, events: SimEvent[]) {
  const sim = createSimulator(compileFlow(flow));
  for (const e of events) sim.apply(e);
  return sim.transcript();
}

const kinds = (outputs: SimOutput[]) => outputs.map((o) => `${o.kind}:${o.step}`);

/** Two offers on buttons whose texts share a prefix: "VIP" and "VIP Plus". */
const prefixFlow = {
  id: 'prefix',
  flow_start_step_id: 'menu',
  main_buttons: [
    { text: 'VIP', price: 10 },
    { text: 'VIP Plus', price: 25.5 },
  ],
  flow_steps: [
    {
      id: 'menu',
      type: 'buttons',
      config: {
        text: 'Pick',
        custom_buttons: [
          { text: 'VIP', main_button_index: 0 },
          { text: 'VIP Plus', main_button_index: 1 },
        ],
      },
      conditions: [
        { type: 'button_click', button_text: 'VIP', target_step: 'pay_vip' },
        { type: 'button_click', button_text: 'VIP Plus', target_step: 'pay_plus' },
      ],
    },
    { id: 'pay_vip', type: 'payment', config: {}, connections: { next: 'access' } },
    { id: 'pay_plus', type: 'payment', config: {}, connections: { next: 'access' } },
    { id: 'access', type: 'access', config: { chat_id: -100 } },
  ],
};

describe('simulator: the behavioural contract of a flow', () => {
  it('walks the VIP funnel to access and charges the chosen offer', () => {
    const t = run(vip, [
      { type: 'start' },
      { type: 'text', text: 'ana@example.com' },
      { type: 'click', text: 'VIP Vitalício' },
      { type: 'pay' },
    ]);
    assert.deepEqual(kinds(t.outputs), [
      'message:welcome',
      'message:ask_email',
      'buttons:offers',
      'charge:pay',
      'access:access',
    ]);
    assert.equal(t.outputs[3]!.amount, 97);
    assert.equal(t.outputs[3]!.description, 'Grupo VIP - vitalício');
    assert.equal(t.outputs[4]!.chat_id, -1001234567890);
    assert.equal(t.status, 'done');
    assert.equal(t.current_step, 'access');
  });

  it('clicking "VIP Plus" never matches "VIP" (identity, not substring) and charges its own price', () => {
    const plus = run(prefixFlow, [{ type: 'start' }, { type: 'click', text: 'VIP Plus' }]);
    assert.equal(plus.current_step, 'pay_plus');
    assert.equal(plus.outputs.at(-1)!.amount, 25.5);
    const vipOnly = run(prefixFlow, [{ type: 'start' }, { type: 'click', text: 'VIP' }]);
    assert.equal(vipOnly.current_step, 'pay_vip');
    assert.equal(vipOnly.outputs.at(-1)!.amount, 10);
  });

  it('the step amount overrides the offer chosen by the button', () => {
    const flow = structuredClone(prefixFlow);
    flow.flow_steps[2] = {
      id: 'pay_plus',
      type: 'payment',
      config: { amount: 7.77 } as never,
      connections: { next: 'access' },
    };
    const t = run(flow, [{ type: 'start' }, { type: 'click', text: 'VIP Plus' }]);
    assert.equal(t.outputs.at(-1)!.amount, 7.77);
  });

  it('without a chosen offer the price is main_buttons[0]', () => {
    const flow = {
      id: 'first-offer',
      flow_start_step_id: 'pay',
      main_buttons: [
        { text: 'Base', price: 12.34, description: 'Base plan' },
        { text: 'Other', price: 99 },
      ],
      flow_steps: [
        { id: 'pay', type: 'payment', config: {}, connections: { next: 'done' } },
        { id: 'done', type: 'end', config: { text: 'ok' } },
      ],
    };
    const t = run(flow, [{ type: 'start' }]);
    assert.deepEqual(t.outputs.at(-1), {
      step: 'pay',
      kind: 'charge',
      amount: 12.34,
      description: 'Base plan',
    });
  });

  it('a stale button from an earlier step creates no charge and changes nothing', () => {
    const t = run(prefixFlow, [
      { type: 'start' },
      { type: 'click', text: 'VIP' },
      { type: 'click', text: 'VIP Plus', step: 'menu' },
    ]);
    assert.equal(t.current_step, 'pay_vip');
    assert.equal(t.outputs.filter((o) => o.kind === 'charge').length, 1);
    assert.equal(t.outputs.at(-1)!.kind, 'notice');
  });

  it('re-asks on a bad e-mail, counts attempts, and goes to the fallback after max_attempts', () => {
    const twoBad = run(vip, [
      { type: 'start' },
      { type: 'text', text: 'nope' },
      { type: 'text', text: 'still no' },
    ]);
    assert.equal(twoBad.current_step, 'ask_email');
    assert.equal(twoBad.outputs.filter((o) => o.step === 'ask_email').length, 3);
    const threeBad = run(vip, [
      { type: 'start' },
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b' },
      { type: 'text', text: 'c' },
    ]);
    assert.equal(threeBad.current_step, 'offers');
  });

  it('the default `next` of a waiting step takes any non-matching input', () => {
    const flow = {
      id: 'default-next',
      flow_start_step_id: 'q',
      flow_steps: [
        {
          id: 'q',
          type: 'input',
          config: { text: 'Say yes' },
          conditions: [{ type: 'text_validation', validation: 'equals', value: 'yes', target_step: 'yes' }],
          connections: { next: 'other' },
        },
        { id: 'yes', type: 'end', config: { text: 'yes!' } },
        { id: 'other', type: 'end', config: { text: 'other' } },
      ],
    };
    assert.equal(run(flow, [{ type: 'start' }, { type: 'text', text: '  YES ' }]).current_step, 'yes');
    assert.equal(run(flow, [{ type: 'start' }, { type: 'text', text: 'maybe' }]).current_step, 'other');
  });

  it('time-based downsell: the timer fires after 15 minutes, the delayed step waits its 60 s', () => {
    const base: SimEvent[] = [
      { type: 'start' },
      { type: 'text', text: 'a@b.co' },
      { type: 'click', text: 'VIP Mensal' },
    ];
    const early = run(vip, [...base, { type: 'wait', minutes: 14 }]);
    assert.equal(early.current_step, 'pay');
    const fired = run(vip, [...base, { type: 'wait', minutes: 15.5 }]);
    assert.equal(fired.current_step, 'downsell_intro');
    assert.equal(fired.outputs.at(-1)!.kind, 'charge', 'the delayed step has not sent yet');
    const sent = run(vip, [...base, { type: 'wait', minutes: 16 }]);
    assert.equal(sent.current_step, 'downsell_offer');
    assert.deepEqual(kinds(sent.outputs.slice(-2)), ['message:downsell_intro', 'buttons:downsell_offer']);
  });

  it('a charge paid after the downsell began still grants access (payment_status on a later step)', () => {
    const t = run(vip, [
      { type: 'start' },
      { type: 'text', text: 'a@b.co' },
      { type: 'click', text: 'VIP Mensal' },
      { type: 'wait', minutes: 16 },
      { type: 'pay' },
    ]);
    assert.equal(t.current_step, 'access');
    assert.equal(t.outputs.filter((o) => o.kind === 'access').length, 1);
  });

  it('a charge paid while the delayed step is still waiting grants access through the paying step', () => {
    const t = run(vip, [
      { type: 'start' },
      { type: 'text', text: 'a@b.co' },
      { type: 'click', text: 'VIP Mensal' },
      { type: 'wait', minutes: 15.2 },
      { type: 'pay' },
      { type: 'pay' },
    ]);
    assert.equal(t.current_step, 'access');
    assert.equal(t.outputs.filter((o) => o.kind === 'access').length, 1, 'access once per order');
    assert.equal(t.outputs.filter((o) => o.kind === 'message' && o.step === 'downsell_intro').length, 0);
  });

  it('leaving the payment step cancels its timer: paying before 15 min means no downsell ever', () => {
    const t = run(vip, [
      { type: 'start' },
      { type: 'text', text: 'a@b.co' },
      { type: 'click', text: 'VIP Mensal' },
      { type: 'pay' },
      { type: 'wait', minutes: 120 },
    ]);
    assert.equal(t.current_step, 'access');
    assert.equal(
      t.outputs.some((o) => o.step?.startsWith('downsell')),
      false,
    );
  });

  it('expiry follows `pending`; the downsell charge has the step amount', () => {
    const t = run(vip, [
      { type: 'start' },
      { type: 'text', text: 'a@b.co' },
      { type: 'click', text: 'VIP Mensal' },
      { type: 'expire' },
      { type: 'wait', minutes: 1 },
      { type: 'click', text: 'Quero!' },
    ]);
    assert.equal(t.current_step, 'pay_downsell');
    assert.equal(t.outputs.at(-1)!.amount, 14.9);
  });

  it('"I have paid" on an unpaid charge matches payment_status pending', () => {
    const flow = JSON.parse(
      readFileSync(new URL('../../machines/multi-offer-menu.flow.json', import.meta.url), 'utf8'),
    );
    const t = run(flow, [
      { type: 'start' },
      { type: 'click', text: 'Mensal - R$ 24,90' },
      { type: 'check_payment' },
    ]);
    assert.equal(t.current_step, 'still_pending');
    assert.equal(t.outputs.find((o) => o.kind === 'charge')!.amount, 24.9);
    const paid = run(flow, [
      { type: 'start' },
      { type: 'click', text: 'Mensal - R$ 24,90' },
      { type: 'check_payment' },
      { type: 'pay' },
    ]);
    assert.equal(paid.current_step, 'access');
  });

  it('"I have paid" without a pending condition answers with a notice and stays', () => {
    const t = run(prefixFlow, [{ type: 'start' }, { type: 'click', text: 'VIP' }, { type: 'check_payment' }]);
    assert.equal(t.current_step, 'pay_vip');
    assert.equal(t.outputs.at(-1)!.kind, 'notice');
  });

  it('a flow disabled sends only the welcome message on /start', () => {
    const flow = { ...structuredClone(prefixFlow), flow_enabled: false, welcome_message: 'Volte mais tarde' };
    const t = run(flow, [{ type: 'start' }, { type: 'text', text: 'hi' }]);
    assert.deepEqual(t.outputs, [{ step: '@disabled', kind: 'message', text: 'Volte mais tarde' }]);
    assert.equal(t.status, 'done');
  });

  it('stops after 50 steps in one event with an error, at that step', () => {
    const steps = Array.from({ length: 60 }, (_, i) => ({
      id: `m${i}`,
      type: 'message',
      config: { text: `step ${i}` },
      connections: { next: `m${i + 1}` },
    }));
    steps.push({ id: 'm60', type: 'end', config: { text: 'end' } } as never);
    const t = run({ id: 'long', flow_start_step_id: 'm0', flow_steps: steps }, [{ type: 'start' }]);
    assert.equal(t.outputs.filter((o) => o.kind === 'message').length, 50);
    assert.equal(t.outputs.at(-1)!.kind, 'error');
    assert.equal(t.current_step, 'm49');
    assert.equal(t.status, 'error');
    const restarted = run({ id: 'long', flow_start_step_id: 'm0', flow_steps: steps }, [
      { type: 'start' },
      { type: 'start' },
    ]);
    assert.equal(restarted.outputs.filter((o) => o.kind === 'error').length, 2, '/start runs the flow again');
  });

  it('/start restarts from the first step and forgets the chosen offer', () => {
    const t = run(prefixFlow, [{ type: 'start' }, { type: 'click', text: 'VIP Plus' }, { type: 'start' }]);
    assert.equal(t.current_step, 'menu');
  });
});
