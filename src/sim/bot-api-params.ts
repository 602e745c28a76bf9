/**
 * Reads a Bot API call's parameters the way Telegram does: query string, then a JSON, urlencoded or
 * multipart body, with JSON-valued fields (reply_markup, allowed_updates...) decoded from strings.
 * The multipart parser is tolerant on purpose: grammY writes `content-disposition:form-data;name=".."`
 * without spaces and with unquoted filenames, which undici's `Request.formData()` refuses.
 */
import { BotflowError } from '../errors.ts';

/** A file part of a multipart upload, as it appears in recorded params. */
export interface UploadedFile {
  filename: string;
  size: number;
  mimeType: string;
}

/** Fields Telegram decodes from JSON strings, with the error it gives when they do not parse. */
const JSON_FIELDS: Record<string, string> = {
  reply_markup: "Bad Request: can't parse reply keyboard markup JSON object",
  allowed_updates: "Bad Request: can't parse allowed updates JSON object",
  entities: "Bad Request: can't parse entities JSON object",
  caption_entities: "Bad Request: can't parse entities JSON object",
  link_preview_options: "Bad Request: can't parse link preview options JSON object",
  reply_parameters: "Bad Request: can't parse reply parameters JSON object",
  media: "Bad Request: can't parse InputMedia JSON object",
};

const badRequest = (description: string) => new BotflowError('BAD_REQUEST', description);

interface Part {
  name: string;
  filename: string | undefined;
  mimeType: string;
  data: Buffer;
}

/** Splits a multipart/form-data body into parts; headers are matched case-insensitively. */
function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const from = start + delimiter.length;
    if (body.subarray(from, from + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, from);
    if (next === -1) break;
    const chunk = body.subarray(from + 2, next - 2); // drop the CRLF after the delimiter and before the next
    const split = chunk.indexOf('\r\n\r\n');
    const head = (split === -1 ? chunk : chunk.subarray(0, split)).toString('utf8');
    const disposition = /content-disposition\s*:([^\r\n]*)/i.exec(head)?.[1] ?? '';
    const name = /(?:^|;)\s*name\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(disposition);
    const filename = /filename\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(disposition);
    if (name !== null) {
      parts.push({
        name: name[1] ?? name[2] ?? '',
        filename: filename === null ? undefined : (filename[1] ?? filename[2] ?? ''),
        mimeType: /content-type\s*:\s*([^\r\n;]*)/i.exec(head)?.[1]?.trim() ?? 'application/octet-stream',
        data: split === -1 ? Buffer.alloc(0) : chunk.subarray(split + 4),
      });
    }
    start = next;
  }
  return parts;
}

/** Adds the fields of a multipart body, resolving `attach://<part>` references to their files. */
function addMultipart(params: Record<string, unknown>, body: Buffer, contentType: string): void {
  const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (boundary === null) throw badRequest('Bad Request: multipart boundary is missing');
  const parts = parseMultipart(body, boundary[1] ?? boundary[2]!);
  const files = new Map<string, UploadedFile>();
  for (const part of parts) {
    if (part.filename !== undefined) {
      files.set(part.name, { filename: part.filename, size: part.data.length, mimeType: part.mimeType });
    } else {
      params[part.name] = part.data.toString('utf8');
    }
  }
  const attached = new Set<string>();
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'string' && value.startsWith('attach://')) {
      const file = files.get(value.slice('attach://'.length));
      if (file !== undefined) {
        params[key] = file;
        attached.add(value.slice('attach://'.length));
      }
    }
  }
  for (const [name, file] of files) if (!attached.has(name) && !(name in params)) params[name] = file;
}

/** Returns the call's parameters; throws a BAD_REQUEST `BotflowError` carrying Telegram's description. */
export function readBotParams(url: URL, contentType: string, body: Buffer): Record<string, unknown> {
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const type = contentType.toLowerCase();
  if (body.length > 0) {
    if (type.startsWith('application/json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw badRequest("Bad Request: can't parse JSON object");
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw badRequest("Bad Request: can't parse JSON object");
      }
      Object.assign(params, parsed);
    } else if (type.startsWith('application/x-www-form-urlencoded')) {
      Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
    } else if (type.startsWith('multipart/form-data')) {
      addMultipart(params, body, contentType);
    }
  }
  for (const [field, error] of Object.entries(JSON_FIELDS)) {
    const value = params[field];
    if (typeof value !== 'string') continue;
    try {
      params[field] = JSON.parse(value);
    } catch {
      throw badRequest(error);
    }
  }
  return params;
}

/** An integer parameter (numbers or decimal strings); `undefined` when absent, NaN when malformed. */
export function readInt(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return Number.isInteger(value) ? value : Number.NaN;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return Number.NaN;
}

/** A boolean parameter as Telegram reads it (`true`, `"true"`, `1`, `"1"`). */
export function readBool(value: unknown): boolean {
  return value === true || value === 'true' || value === 1 || value === '1';
}

/** A string parameter (numbers are accepted, as form bodies carry everything as text). */
export function readString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}
