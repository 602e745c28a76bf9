/**
 * The shape of flow format v1 (docs/flow-format.md) as a zod schema: field names, types and
 * ranges, with unknown fields rejected. Rules that relate fields to each other (targets, cycles,
 * prices, what a condition needs) live in `validate-rules.ts` and the files it uses, and carry their own
 * codes, so this schema is deliberately lenient on the condition fields those rules own.
 */
import { z } from 'zod';

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const id = z.string().regex(ID_PATTERN, 'must be 1–64 characters of A-Z, a-z, 0-9, _ or -');
const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https URL' });
const hasAtMostTwoDecimals = (n: number) => Math.abs(Math.round(n * 100) - n * 100) < 1e-6;
/** A BRL amount: positive, at most two decimals (stored as integer centavos everywhere else). */
const brlAmount = z
  .number()
  .positive()
  .refine(Number.isFinite, 'must be finite')
  .refine(hasAtMostTwoDecimals, 'must have at most 2 decimals');

const offerSchema = z.strictObject({
  text: z.string().min(1),
  price: brlAmount,
  description: z.string().optional(),
  access_days: z.number().int().min(1).optional(),
});

const redirectButtonSchema = z.strictObject({
  text: z.string().min(1),
  url: httpsUrl,
});

const connectionsSchema = z.strictObject({
  next: id.optional(),
  pending: id.optional(),
  retry: id.optional(),
});

/** Fields every condition has. `max_attempts`' range is checked by the validator (`invalid_condition`). */
const conditionCommon = {
  target_step: id,
  order: z.number().optional(),
  max_attempts: z.number().optional(),
  fallback_step: id.optional(),
};

const conditionSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('text_validation'),
    ...conditionCommon,
    validation: z.string().optional(),
    value: z.string().optional(),
  }),
  z.strictObject({ type: z.literal('button_click'), ...conditionCommon, button_text: z.string().optional() }),
  z.strictObject({ type: z.literal('payment_status'), ...conditionCommon, status: z.string().optional() }),
  z.strictObject({ type: z.literal('time_elapsed'), ...conditionCommon, minutes: z.number().optional() }),
]);

export const TEXT_VALIDATIONS = ['email', 'phone', 'cpf', 'contains', 'equals', 'any'] as const;
export const PAYMENT_STATUSES = ['paid', 'pending', 'failed', 'expired'] as const;
const MEDIA_TYPES = ['photo', 'video', 'audio', 'document', 'animation'] as const;

const messageConfig = z
  .strictObject({
    text: z.string().min(1).max(4096),
    media_url: httpsUrl.optional(),
    media_type: z.enum(MEDIA_TYPES).optional(),
    parse_mode: z.enum(['HTML', 'MarkdownV2']).optional(),
  })
  .refine((c) => (c.media_url === undefined) === (c.media_type === undefined), {
    message: 'media_url and media_type go together',
    path: ['media_type'],
  });

const customButtonSchema = z.strictObject({
  text: z.string().min(1).max(64),
  main_button_index: z.number().int().min(0).optional(),
  url: httpsUrl.optional(),
});

const buttonsConfig = z.strictObject({
  text: z.string().min(1).max(4096),
  custom_buttons: z.array(customButtonSchema).min(1).max(20),
});

const inputConfig = z.strictObject({ text: z.string().min(1).max(4096) });

const paymentConfig = z.strictObject({
  amount: brlAmount.optional(),
  description: z.string().min(1).optional(),
  expires_in_minutes: z.number().int().min(1).max(1440).optional(),
});

const accessConfig = z
  .strictObject({
    chat_id: z.union([z.string().min(1), z.number().int()]).optional(),
    link: httpsUrl.optional(),
    access_days: z.number().int().min(1).optional(),
  })
  .refine((c) => c.chat_id !== undefined || c.link !== undefined, {
    message: 'an access step needs chat_id or link',
  });

const endConfig = z.strictObject({ text: z.string().min(1).max(4096).optional() });

const stepCommon = {
  id,
  connections: connectionsSchema.optional(),
  conditions: z.array(conditionSchema).optional(),
  delay_seconds: z.number().min(0).max(86400).optional(),
};

const stepSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...stepCommon, type: z.literal('message'), config: messageConfig }),
  z.strictObject({ ...stepCommon, type: z.literal('buttons'), config: buttonsConfig }),
  z.strictObject({ ...stepCommon, type: z.literal('input'), config: inputConfig }),
  z.strictObject({ ...stepCommon, type: z.literal('payment'), config: paymentConfig.default({}) }),
  z.strictObject({ ...stepCommon, type: z.literal('access'), config: accessConfig }),
  z.strictObject({ ...stepCommon, type: z.literal('end'), config: endConfig.default({}) }),
]);

/** The most steps a flow may have (FLOW_FORMAT.md: `flow_steps`, 1–500). */
export const MAX_FLOW_STEPS = 500;

export const flowSchema = z.strictObject({
  id,
  name: z.string().optional(),
  flow_enabled: z.boolean().default(true),
  welcome_message: z.string().min(1).max(4096).optional(),
  flow_start_step_id: z.string(),
  main_buttons: z.array(offerSchema).optional(),
  redirect_buttons: z.array(redirectButtonSchema).optional(),
  flow_steps: z.array(stepSchema).min(1).max(MAX_FLOW_STEPS, `a flow has at most ${MAX_FLOW_STEPS} steps`),
});

/** A flow that passed the schema, with defaults applied. */
export type Flow = z.output<typeof flowSchema>;
export type Step = Flow['flow_steps'][number];
export type Condition = NonNullable<Step['conditions']>[number];
export type Offer = z.output<typeof offerSchema>;
export type TextValidation = (typeof TEXT_VALIDATIONS)[number];
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** The JSON Schema of flow format v1, for editors (`botflow schema`). */
export function getFlowJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://botflow.dev/schemas/flow-v1.json',
    title: 'botflow flow definition (format v1)',
    ...z.toJSONSchema(flowSchema, { io: 'input', target: 'draft-2020-12' }),
  };
}
