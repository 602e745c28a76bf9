/** A bot's Meta pixel settings: tracking's own type (the bot repository stores it sealed). */
import type { UserDataSwitches } from './pick-user-data.ts';

/** Meta pixel settings of a bot. */
export interface PixelSettings {
  pixel_id: string;
  access_token: string;
  test_event_code?: string;
  /** Lead, InitiateCheckout and Purchase as `chat` (default) or, where the click allows, `website`. */
  action_source?: 'chat' | 'website';
  /** Hashed user_data fields sent or not (em, ph, external_id on by default; fn, ln off). */
  user_data?: UserDataSwitches;
}
