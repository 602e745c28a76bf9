/**
 * fast-check generators of flows that are valid by construction (FLOW_FORMAT.md): unique ids, real
 * button texts, prices available, no dead ends, and no eventless cycle (steps that run without
 * waiting only lead forward).
 */
import fc from 'fast-check';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- generated JSON
type Json = any;

const KINDS = ['message', 'buttons', 'input', 'payment', 'end', 'access'] as const;

/** A valid flow of 2 to `maxSteps` steps. */
export function validFlowArbitrary(maxSteps = 30): fc.Arbitrary<Json> {
  return fc
    .record({
      n: fc.integer({ min: 2, max: maxSteps }),
      offers: fc.integer({ min: 0, max: 4 }),
      seed: fc.array(fc.nat(), { minLength: 600, maxLength: 600 }),
    })
    .map(({ n, offers, seed }) => {
      let k = 0;
      const r = (m: number) => (m <= 0 ? 0 : seed[k++ % seed.length]! % m);
      const id = (i: number) => `s${i}`;
      const any = () => id(r(n));
      const forward = (i: number) => id(i + 1 + r(n - i - 1));
      const steps: Json[] = [];
      for (let i = 0; i < n; i++) {
        const kind = i === n - 1 ? (r(2) === 0 ? 'end' : 'access') : KINDS[r(4)]!;
        const step: Json = { id: id(i), type: kind };
        if (r(5) === 0 && kind !== 'end' && kind !== 'access') step.delay_seconds = 1 + r(600);
        switch (kind) {
          case 'message':
            step.config = { text: `message ${i}` };
            if (r(4) === 0) {
              step.conditions = [{ type: 'time_elapsed', minutes: 1 + r(30), target_step: any() }];
              if (r(2) === 0) step.connections = { next: any() };
            } else {
              step.connections = { next: forward(i) };
            }
            break;
          case 'buttons': {
            const count = 1 + r(4);
            step.config = {
              text: `pick ${i}`,
              custom_buttons: Array.from({ length: count }, (_, j) => ({
                text: `Button ${i}.${j}`,
                ...(offers > 0 && r(2) === 0 ? { main_button_index: r(offers) } : {}),
              })),
            };
            step.conditions = step.config.custom_buttons
              .filter((_: unknown, j: number) => j === 0 || r(2) === 0)
              .map((b: Json) => ({
                type: 'button_click',
                button_text: b.text,
                target_step: any(),
                order: r(3),
              }));
            if (r(2) === 0) step.connections = { next: any() };
            break;
          }
          case 'input':
            step.config = { text: `question ${i}` };
            step.conditions = [
              r(2) === 0
                ? {
                    type: 'text_validation',
                    validation: ['email', 'phone', 'cpf', 'any'][r(4)],
                    target_step: any(),
                  }
                : { type: 'text_validation', validation: 'contains', value: 'sim', target_step: any() },
            ];
            if (r(3) === 0) step.connections = { next: any() };
            else if (r(2) === 0)
              Object.assign(step.conditions[0], { max_attempts: 1 + r(5), fallback_step: any() });
            break;
          case 'payment':
            step.config = offers === 0 || r(3) === 0 ? { amount: 1 + r(20000) / 100 } : {};
            step.connections =
              r(3) === 0 ? { pending: any() } : { next: any(), ...(r(2) === 0 ? { pending: any() } : {}) };
            if (r(3) === 0) step.connections.retry = any();
            if (r(3) === 0)
              step.conditions = [{ type: 'time_elapsed', minutes: 1 + r(60), target_step: any() }];
            if (r(4) === 0)
              (step.conditions ??= []).push({ type: 'payment_status', status: 'paid', target_step: any() });
            break;
          case 'end':
            step.config = r(2) === 0 ? { text: 'bye' } : {};
            break;
          case 'access':
            step.config = r(2) === 0 ? { chat_id: -1000 - i } : { link: 'https://t.me/+invite' };
            break;
        }
        steps.push(step);
      }
      return {
        id: 'generated',
        flow_start_step_id: 's0',
        ...(offers > 0
          ? { main_buttons: Array.from({ length: offers }, (_, j) => ({ text: `Offer ${j}`, price: 5 + j })) }
          : {}),
        flow_steps: steps,
      };
    });
}
