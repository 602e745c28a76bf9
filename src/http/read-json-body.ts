/**
 * Reads a request body with a hard size limit and parses it as JSON. The raw bytes are returned too:
 * payment webhooks verify signatures over them. Errors are coded: 413, INVALID_JSON, BAD_REQUEST (also
 * for a body nested deeper than any real one, which would overflow the stack of code downstream).
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { BotflowError } from '../errors.ts';
import { findDeepNesting } from '../flow/find-deep-nesting.ts';

/** Deeper than any body botflow accepts nests (Telegram updates, admin requests, flows). */
const MAX_BODY_DEPTH = 64;

/** Reads at most `limitBytes` bytes; refuses a larger body without buffering it. */
export async function readRawBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    throw new BotflowError('PAYLOAD_TOO_LARGE', `body exceeds ${limitBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) {
      req.resume();
      throw new BotflowError('PAYLOAD_TOO_LARGE', `body exceeds ${limitBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads and parses a JSON body, validated by `schema` when given. */
export async function readJsonBody<T = unknown>(
  req: IncomingMessage,
  options: { limitBytes: number; schema?: z.ZodType<T> },
): Promise<{ raw: Buffer; value: T }> {
  const raw = await readRawBody(req, options.limitBytes);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BotflowError('INVALID_JSON', 'the body is not valid JSON');
  }
  // Parsing accepts any depth, but JSON.stringify and schema checks later recurse: refuse it here.
  const deep = findDeepNesting(value, MAX_BODY_DEPTH);
  if (deep !== null)
    throw new BotflowError('BAD_REQUEST', `the body nests deeper than ${MAX_BODY_DEPTH} levels`, {
      details: [{ path: deep.slice(0, 200) }],
    });
  if (options.schema === undefined) return { raw, value: value as T };
  const parsed = options.schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new BotflowError('BAD_REQUEST', 'the body does not have the expected shape', { details: issues });
  }
  return { raw, value: parsed.data };
}
