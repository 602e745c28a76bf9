/**
 * Which of the buyer's facts a pixel sends to Meta (pure). The operator turns each field on or off
 * per pixel (`user_data` in its settings): e-mail, phone and the hashed Telegram id are sent unless
 * turned off; the Telegram first and last names only when turned on (privacy).
 */
import type { BuyerFacts } from '../flow/machine-setup.ts';

/** The hashed `user_data` fields an operator can switch per pixel. */
export type UserDataField = 'em' | 'ph' | 'fn' | 'ln' | 'external_id';
/** Per-field switches of a pixel; an absent field takes its default (`USER_DATA_DEFAULTS`). */
export type UserDataSwitches = Partial<Record<UserDataField, boolean>>;

/** What is sent when a pixel says nothing: everything the buyer typed and their id, not their names. */
const USER_DATA_DEFAULTS: Record<UserDataField, boolean> = {
  em: true,
  ph: true,
  fn: false,
  ln: false,
  external_id: true,
};

/** Whether `field` is sent under `switches`. */
export function sendsField(switches: UserDataSwitches | undefined, field: UserDataField): boolean {
  return switches?.[field] ?? USER_DATA_DEFAULTS[field];
}

/**
 * The `user` and `telegramUserId` inputs of `buildConversionEvent` for a buyer: only the fields the
 * pixel sends, only those the buyer gave.
 */
export function pickUserData(
  switches: UserDataSwitches | undefined,
  buyer: BuyerFacts | null | undefined,
  telegramUserId: string,
): {
  user: { email?: string; phone?: string; firstName?: string; lastName?: string };
  telegramUserId?: string;
} {
  const b = buyer ?? {};
  const on = (field: UserDataField, value: string | undefined) => sendsField(switches, field) && !!value;
  return {
    user: {
      ...(on('em', b.email) ? { email: b.email } : {}),
      ...(on('ph', b.phone) ? { phone: b.phone } : {}),
      ...(on('fn', b.first_name) ? { firstName: b.first_name } : {}),
      ...(on('ln', b.last_name) ? { lastName: b.last_name } : {}),
    },
    ...(sendsField(switches, 'external_id') ? { telegramUserId } : {}),
  };
}
