/**
 * Meta's normalization and SHA-256 hashing of `user_data` values, rule for rule the one of Meta's official
 * Node SDK (`facebook-nodejs-business-sdk` 24.0.1, `ServerSideUtils.normalizeAndHash`), so botflow's
 * hashes equal the SDK's (test/tracking/hash-for-meta.test.ts checks it against the SDK itself).
 * Pure: no I/O. Where the SDK throws (bad e-mail, phone or country) this returns null and the field is
 * left out of the event, so one bad answer never sinks the event.
 *
 * Deliberate differences, each documented in the oracle test and the README:
 * - every value is Unicode-composed (NFC) first, so a decomposed "é" hashes like a composed one;
 * - a phone loses every non-digit (the SDK keeps `.`, `/` and the like, which Meta never matches), and a
 *   Brazilian number written without its country code (DDD + number, optionally after the trunk `0`
 *   and a carrier code) gets `55`;
 * - a city or state left empty by the normalization is null (the SDK hashes the empty string).
 */
import { createHash } from 'node:crypto';

export type MetaHashedField = 'em' | 'ph' | 'fn' | 'ln' | 'ct' | 'st' | 'zp' | 'country' | 'external_id';

const SHA256_HEX = /^[a-f0-9]{64}$/;
const MD5_HEX = /^[a-f0-9]{32}$/;
// email-validator 2.0.4, the SDK's e-mail check.
const EMAIL =
  /^[-!#$%&'*+/0-9=?A-Z^_a-z{|}~](\.?[-!#$%&'*+/0-9=?A-Z^_a-z`{|}~])*@[a-zA-Z0-9](-*\.?[a-zA-Z0-9])*\.[a-zA-Z](-?[a-zA-Z0-9])+$/;
const US_PHONE = /^1\(?\d{3}\)?\d{7}$/;
const INTL_PHONE = /^\d{1,4}\(?\d{2,3}\)?\d{4,}$/;
// A Brazilian number without its country code: trunk 0 (and a carrier code) optional, DDD 11–99 with
// no zero digit, then a 9-digit mobile starting with 9 or an 8-digit landline starting with 2–8.
const BR_NATIONAL = /^(?:0(?:\d{2})?)?([1-9][1-9](?:9\d{8}|[2-8]\d{7}))$/;
// ISO 3166-1 alpha-2 (iso-3166-1 2.1.1, the SDK's list), upper case as the SDK compares.
const COUNTRIES = new Set(
  (
    'AF AX AL DZ AS AD AO AI AQ AG AR AM AW AU AT AZ BS BH BD BB BY BE BZ BJ BM BT BO BQ BA BW BV BR IO BN ' +
    'BG BF BI CV KH CM CA KY CF TD CL CN CX CC CO KM CG CD CK CR CI HR CU CW CY CZ DK DJ DM DO EC EG SV GQ ' +
    'ER EE ET FK FO FJ FI FR GF PF TF GA GM GE DE GH GI GR GL GD GP GU GT GG GN GW GY HT HM VA HN HK HU IS ' +
    'IN ID IR IQ IE IM IL IT JM JP JE JO KZ KE KI KP KR KW KG LA LV LB LS LR LY LI LT LU MO MK MG MW MY MV ' +
    'ML MT MH MQ MR MU YT MX FM MD MC MN ME MS MA MZ MM NA NR NP NL NC NZ NI NE NG NU NF MP NO OM PK PW PS ' +
    'PA PG PY PE PH PN PL PT PR QA RE RO RU RW BL SH KN LC MF PM VC WS SM ST SA SN RS SC SL SG SX SK SI SB ' +
    'SO ZA GS SS ES LK SD SR SJ SZ SE CH SY TW TJ TZ TH TL TG TK TO TT TN TR TM TC TV UG UA AE GB US UM UY ' +
    'UZ VU VE VN VG VI WF EH YE ZM ZW'
  ).split(' '),
);

/** The SDK's e-mail validity check (email-validator): the regex, 254 chars, 64 local, 63 per label. */
function isSdkEmail(email: string): boolean {
  if (email.length > 254 || !EMAIL.test(email)) return false;
  const [local, domain] = email.split('@') as [string, string];
  return local.length <= 64 && domain.split('.').every((label) => label.length <= 63);
}

/** Whether the SDK reads a digit string as an international number (it then drops leading zeros). */
function isInternationalPhone(digits: string): boolean {
  const p = digits.replace(/^0{0,2}/, '');
  if (p.startsWith('0')) return false;
  return p.startsWith('1') ? US_PHONE.test(p) : INTL_PHONE.test(p);
}

/** Digits only, `55` before a Brazilian national number, then the SDK's zero-dropping and 7–16 length check. */
function normalizePhone(value: string): string | null {
  let digits = value.replace(/\D/g, '');
  const explicitInternational = /^\D*\+/.test(value) || digits.startsWith('00');
  const national = explicitInternational ? null : BR_NATIONAL.exec(digits);
  if (national) digits = `55${national[1]}`;
  if (isInternationalPhone(digits)) digits = digits.replace(/^0{0,2}/, '');
  return digits.length < 7 || digits.length > 16 ? null : digits;
}

/** A zip keeps the part before its first `-`, without spaces; under 2 characters is no zip. */
function normalizeZip(value: string): string | null {
  const zip = value.replace(/\s/g, '').split('-', 1)[0]!;
  return zip.length < 2 ? null : zip;
}

/** City and state lose digits, spaces and `().-`; nothing left is no value. */
function normalizePlace(value: string): string | null {
  const place = value.replace(/[0-9\s().-]/g, '');
  return place.length === 0 ? null : place;
}

/** The string the SDK hashes for an already trimmed, lower-cased `v` as `field`, or null for none. */
function normalizeField(field: MetaHashedField, v: string): string | null {
  switch (field) {
    case 'em':
      return isSdkEmail(v) ? v : null;
    case 'ph':
      return normalizePhone(v);
    case 'ct':
    case 'st':
      return normalizePlace(v);
    case 'zp':
      return normalizeZip(v);
    case 'country':
      return COUNTRIES.has(v.toUpperCase()) ? v : null;
    default:
      return v;
  }
}

/**
 * The SHA-256 hex Meta's SDK sends for `value` as `field` (an already-hashed value as it stands), or
 * null when the SDK would send nothing or refuse the value.
 */
export function hashForMeta(field: MetaHashedField, value: string): string | null {
  const v = value.normalize('NFC').trim().toLowerCase();
  if (v.length === 0) return null;
  if (SHA256_HEX.test(v) || MD5_HEX.test(v)) return v;
  const normalized = normalizeField(field, v);
  return normalized === null ? null : createHash('sha256').update(normalized, 'utf8').digest('hex');
}
