/**
 * botflow's process configuration, read once from the environment. Every value is validated here so a
 * bad setting fails at start with a message naming the variable and what it expects, and never
 * echoes a value that could be a secret (tokens, URLs with passwords).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { BotflowError } from './errors.ts';
import { parseSecretKey } from './db/secret-box.ts';

/** The pino log levels botflow accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Validated configuration. Embedded mode (no REDIS_URL) always runs exactly one worker. */
export interface Config {
  port: number;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  dataDir: string;
  /** When undefined the admin API is off. */
  adminToken: string | undefined;
  workers: number;
  logLevel: LogLevel;
  /** Base URL for webhooks (no trailing slash), when set. */
  publicUrl: string | undefined;
  /** Bot API base (the fake Bot API in tests and the demo). */
  telegramApiRoot: string;
  /** Graph API base for Meta conversions (the fake Graph API in tests and the demo). */
  metaGraphUrl: string;
  /** Read the client IP of tracking clicks from `X-Forwarded-For` (behind a trusted proxy only). */
  trustProxy: boolean;
  /** How long an ad click stays resolvable (days). */
  trackingTtlDays: number;
  /** How long finished effects, timers and conversion events are kept (days). */
  retentionDays: number;
  /** Encrypts stored secrets at rest (AES-256-GCM) when set; never logged. */
  secretKey: string | undefined;
  /** Prefix of every Redis key and channel, so deployments can share one Redis. */
  redisPrefix: string;
  /** True when REDIS_URL is unset: in-process ports, one worker. */
  embedded: boolean;
  /** Broker mode (shards owned across hosts through RabbitMQ) when set: an amqp:// URL; never logged. */
  brokerUrl: string | undefined;
  /** How many partition queues carry the 1024 shards in broker mode (the same on every host). */
  brokerPartitions: number;
}

const optional = (s: string | undefined) => (s === undefined || s.trim() === '' ? undefined : s.trim());

function urlWithProtocols(protocols: readonly string[]) {
  return z.string().refine((s) => {
    try {
      return protocols.includes(new URL(s).protocol);
    } catch {
      return false;
    }
  });
}

interface Field<T> {
  schema: z.ZodType<T>;
  expected: string;
}

const FIELDS = {
  PORT: { schema: z.coerce.number().int().min(0).max(65535), expected: 'an integer port from 0 to 65535' },
  DATABASE_URL: {
    schema: urlWithProtocols(['postgres:', 'postgresql:']),
    expected: 'a postgres:// or postgresql:// URL',
  },
  REDIS_URL: { schema: urlWithProtocols(['redis:', 'rediss:']), expected: 'a redis:// or rediss:// URL' },
  BOTFLOW_DATA_DIR: { schema: z.string().min(1), expected: 'a directory path' },
  BOTFLOW_ADMIN_TOKEN: {
    schema: z.string().min(16).regex(/^\S+$/),
    expected: 'a token of at least 16 characters without spaces',
  },
  BOTFLOW_WORKERS: { schema: z.coerce.number().int().min(1).max(256), expected: 'an integer from 1 to 256' },
  LOG_LEVEL: { schema: z.enum(LOG_LEVELS), expected: `one of ${LOG_LEVELS.join(', ')}` },
  BOTFLOW_PUBLIC_URL: {
    schema: urlWithProtocols(['http:', 'https:']).transform((s) => s.replace(/\/+$/, '')),
    expected: 'an http:// or https:// base URL',
  },
  TELEGRAM_API_ROOT: {
    schema: urlWithProtocols(['http:', 'https:']).transform((s) => s.replace(/\/+$/, '')),
    expected: 'an http:// or https:// base URL',
  },
  META_GRAPH_URL: {
    schema: urlWithProtocols(['http:', 'https:']).transform((s) => s.replace(/\/+$/, '')),
    expected: 'an http:// or https:// base URL',
  },
  BOTFLOW_SECRET_KEY: {
    schema: z.string().refine((s) => {
      try {
        return parseSecretKey(s).length === 32;
      } catch {
        return false;
      }
    }),
    expected: '32 bytes as 64 hex characters or base64 (e.g. `openssl rand -hex 32`)',
  },
  BOTFLOW_REDIS_PREFIX: {
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
    expected: 'up to 32 letters, digits, _ or -',
  },
  BOTFLOW_TRUST_PROXY: { schema: z.enum(['true', 'false', '1', '0']), expected: 'true or false' },
  BOTFLOW_TRACKING_TTL_DAYS: {
    schema: z.coerce.number().int().min(1).max(365),
    expected: 'days from 1 to 365',
  },
  BOTFLOW_BROKER_URL: {
    schema: urlWithProtocols(['amqp:', 'amqps:']),
    expected: 'an amqp:// or amqps:// URL',
  },
  BOTFLOW_BROKER_PARTITIONS: {
    schema: z.coerce.number().int().min(1).max(1024),
    expected: 'an integer from 1 to 1024',
  },
  BOTFLOW_RETENTION_DAYS: {
    schema: z.coerce.number().int().min(8).max(3650),
    expected: 'days from 8 to 3650',
  },
} satisfies Record<string, Field<unknown>>;

type FieldName = keyof typeof FIELDS;

function read<K extends FieldName>(
  env: Record<string, string | undefined>,
  name: K,
): z.output<(typeof FIELDS)[K]['schema']> | undefined {
  const raw = optional(env[name]);
  if (raw === undefined) return undefined;
  const field: Field<unknown> = FIELDS[name];
  const parsed = field.schema.safeParse(raw);
  if (!parsed.success) {
    // Only the variable's name and what it expects: the value may be a secret.
    throw new BotflowError('CONFIG_INVALID', `${name} must be ${field.expected}`, {
      details: { variable: name },
    });
  }
  return parsed.data as z.output<(typeof FIELDS)[K]['schema']>;
}

/** Parses botflow's environment variables into a `Config`; throws CONFIG_INVALID naming a bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const redisUrl = read(env, 'REDIS_URL');
  const embedded = redisUrl === undefined;
  const workers = read(env, 'BOTFLOW_WORKERS');
  const brokerUrl = read(env, 'BOTFLOW_BROKER_URL');
  // Hosts share conversations through Postgres and clicks and flow changes through Redis.
  if (brokerUrl !== undefined && (embedded || read(env, 'DATABASE_URL') === undefined))
    throw new BotflowError('CONFIG_INVALID', 'BOTFLOW_BROKER_URL needs DATABASE_URL and REDIS_URL', {
      details: { variable: 'BOTFLOW_BROKER_URL' },
    });
  return {
    port: read(env, 'PORT') ?? 3000,
    databaseUrl: read(env, 'DATABASE_URL'),
    redisUrl,
    dataDir: read(env, 'BOTFLOW_DATA_DIR') ?? './.botflow',
    adminToken: read(env, 'BOTFLOW_ADMIN_TOKEN'),
    workers: embedded ? 1 : (workers ?? availableParallelism()),
    logLevel: read(env, 'LOG_LEVEL') ?? 'info',
    publicUrl: read(env, 'BOTFLOW_PUBLIC_URL'),
    telegramApiRoot: read(env, 'TELEGRAM_API_ROOT') ?? 'https://api.telegram.org',
    metaGraphUrl: read(env, 'META_GRAPH_URL') ?? 'https://graph.facebook.com',
    trustProxy: ['true', '1'].includes(read(env, 'BOTFLOW_TRUST_PROXY') ?? 'false'),
    trackingTtlDays: read(env, 'BOTFLOW_TRACKING_TTL_DAYS') ?? 30,
    retentionDays: read(env, 'BOTFLOW_RETENTION_DAYS') ?? 14,
    secretKey: read(env, 'BOTFLOW_SECRET_KEY'),
    redisPrefix: read(env, 'BOTFLOW_REDIS_PREFIX') ?? 'bf',
    embedded,
    brokerUrl,
    brokerPartitions: read(env, 'BOTFLOW_BROKER_PARTITIONS') ?? 64,
  };
}
