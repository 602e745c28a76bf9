/**
 * The one catalog of botflow's coded errors. Every failure that crosses a boundary (HTTP, Telegram,
 * CLI) is a `BotflowError` with a stable `code`; each transport maps codes to responses in one place.
 * Messages never carry secrets: callers pass identifiers, never tokens or keys.
 */

/** What a code means to a caller: who failed, whether to retry, and the HTTP status it maps to. */
export interface ErrorSpec {
  /** HTTP status used by the HTTP transport. */
  readonly status: number;
  /** True when the same request may succeed later (the caller should retry; Telegram will redeliver). */
  readonly retryable: boolean;
  /** One sentence for the docs. */
  readonly description: string;
}

/** Stable error codes. Add here, document in README, never rename. */
export const ERROR_CATALOG = {
  BAD_REQUEST: { status: 400, retryable: false, description: 'The request or its arguments are malformed.' },
  INVALID_FLOW: { status: 422, retryable: false, description: 'The flow definition failed validation.' },
  INVALID_JSON: { status: 400, retryable: false, description: 'A body or file is not valid JSON.' },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, description: 'A request body exceeds the size limit.' },
  UNAUTHORIZED: { status: 401, retryable: false, description: 'Missing or wrong credentials or secret.' },
  NOT_FOUND: { status: 404, retryable: false, description: 'The named resource does not exist.' },
  CONFLICT: {
    status: 409,
    retryable: false,
    description: 'The resource already exists or changed meanwhile.',
  },
  CONFIG_INVALID: {
    status: 500,
    retryable: false,
    description: 'A configuration value is missing or malformed.',
  },
  MAILBOX_FULL: {
    status: 503,
    retryable: true,
    description: "A conversation's mailbox is full; retry later.",
  },
  STALE_OWNER: {
    status: 503,
    retryable: true,
    description: 'This worker no longer owns the conversation shard.',
  },
  BROKER_UNAVAILABLE: {
    status: 503,
    retryable: true,
    description: 'RabbitMQ (broker mode) did not confirm the message or its owner did not answer in time.',
  },
  STORE_UNAVAILABLE: { status: 503, retryable: true, description: 'Postgres or Redis did not answer.' },
  UPSTREAM_FAILED: {
    status: 502,
    retryable: true,
    description: 'An outside service (Telegram, gateway, Meta) failed.',
  },
  UPSTREAM_REJECTED: {
    status: 502,
    retryable: false,
    description:
      'An outside service refused the request for good (bad parameters, a bot blocked by the user).',
  },
  UPSTREAM_UNAVAILABLE: {
    status: 503,
    retryable: true,
    description: 'An outside service (Telegram, gateway, Meta) could not be reached: refused or timed out.',
  },
  PORT_IN_USE: {
    status: 500,
    retryable: false,
    description: 'The HTTP port is taken by another process; set PORT to a free one.',
  },
  PAYMENT_MISMATCH: {
    status: 409,
    retryable: false,
    description:
      'A gateway reported a payment whose amount or currency differs from the order; it grants nothing.',
  },
  SHUTTING_DOWN: {
    status: 503,
    retryable: true,
    description: 'The process is draining and accepts no new work.',
  },
  INTERNAL: { status: 500, retryable: true, description: 'An unexpected failure; it has been logged.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** A coded failure. `details` must be JSON-safe and free of secrets. */
export class BotflowError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options?: { details?: unknown; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BotflowError';
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }

  get retryable(): boolean {
    return ERROR_CATALOG[this.code].retryable;
  }

  /** The public, JSON-safe shape every transport sends. */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details?: unknown } {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** Wraps anything thrown into a `BotflowError`, keeping coded errors as they are. */
export function toBotflowError(error: unknown): BotflowError {
  if (error instanceof BotflowError) return error;
  return new BotflowError('INTERNAL', 'Internal error', { cause: error });
}

/** An error as it crosses to another process: its code and message only (an INTERNAL one says nothing more). */
export function toWireError(error: unknown): { code: ErrorCode; message: string } {
  const coded = toBotflowError(error);
  return { code: coded.code, message: coded.code === 'INTERNAL' ? 'internal error' : coded.message };
}
