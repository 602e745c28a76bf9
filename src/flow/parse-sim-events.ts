/**
 * Reads simulator inputs from JSON Lines (one event per line, blank lines and `#` comments skipped),
 * reporting the first bad line with its number so an operator can fix the file.
 */
import { z } from 'zod';
import { BotflowError } from '../errors.ts';
import type { SimEvent } from './simulator.ts';

const simEventSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('start'), payload: z.string().optional() }),
  z.strictObject({ type: z.literal('text'), text: z.string() }),
  z.strictObject({ type: z.literal('click'), text: z.string(), step: z.string().optional() }),
  z.strictObject({ type: z.literal('pay') }),
  z.strictObject({ type: z.literal('expire') }),
  z.strictObject({ type: z.literal('fail') }),
  z.strictObject({ type: z.literal('check_payment') }),
  z.strictObject({
    type: z.literal('wait'),
    minutes: z
      .number()
      .nonnegative()
      .max(60 * 24 * 365),
  }),
]);

/** Parses a JSONL events file. Throws `BAD_REQUEST` naming the line of the first bad event. */
export function parseSimEvents(text: string): SimEvent[] {
  const events: SimEvent[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new BotflowError('BAD_REQUEST', `events line ${i + 1}: not JSON (${(error as Error).message})`);
    }
    const parsed = simEventSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
      throw new BotflowError('BAD_REQUEST', `events line ${i + 1}: ${issue.message}${where}`);
    }
    events.push(parsed.data as SimEvent);
  });
  return events;
}
