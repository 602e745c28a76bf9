/**
 * Encryption at rest for the secrets botflow stores (bot tokens, webhook secrets, gateway keys, Meta
 * access tokens): AES-256-GCM under BOTFLOW_SECRET_KEY, each value bound to where it lives (its bot
 * and field), so a sealed value copied into another row does not open. Without a key values are
 * stored as given; plain values written before a key was set still open, and are sealed when saved.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { BotflowError } from '../errors.ts';

const PREFIX = 'bf1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals and opens stored secrets. */
export interface SecretBox {
  /** True when a key is set (new values are encrypted). */
  readonly sealing: boolean;
  /** Encrypts `plain` for the place `where` names (e.g. `bots.token:<bot id>`); returns it as is without a key. */
  seal(plain: string, where: string): string;
  /** Decrypts a stored value (plain values pass through); CONFIG_INVALID when the key is missing or wrong. */
  open(stored: string, where: string): string;
}

/** Parses a 32-byte key given as 64 hex characters or base64; CONFIG_INVALID otherwise. */
export function parseSecretKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32)
    throw new BotflowError(
      'CONFIG_INVALID',
      'BOTFLOW_SECRET_KEY must be 32 bytes, as 64 hex characters or base64',
      {
        details: { variable: 'BOTFLOW_SECRET_KEY' },
      },
    );
  return key;
}

/** Creates the box; `key` is BOTFLOW_SECRET_KEY's text (undefined: store secrets as given). */
export function createSecretBox(key?: string): SecretBox {
  const bytes = key === undefined ? undefined : parseSecretKey(key);
  return {
    sealing: bytes !== undefined,
    seal(plain, where) {
      if (bytes === undefined) return plain;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', bytes, iv);
      cipher.setAAD(Buffer.from(where, 'utf8'));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    open(stored, where) {
      if (!stored.startsWith(PREFIX)) return stored;
      if (bytes === undefined)
        throw new BotflowError('CONFIG_INVALID', 'stored secrets are encrypted: set BOTFLOW_SECRET_KEY', {
          details: { variable: 'BOTFLOW_SECRET_KEY' },
        });
      const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url');
      try {
        const decipher = createDecipheriv('aes-256-gcm', bytes, raw.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(where, 'utf8'));
        decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        return Buffer.concat([
          decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new BotflowError(
          'CONFIG_INVALID',
          `BOTFLOW_SECRET_KEY does not open the stored secret (${where})`,
          {
            details: { variable: 'BOTFLOW_SECRET_KEY' },
          },
        );
      }
    },
  };
}
