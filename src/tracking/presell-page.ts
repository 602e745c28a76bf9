/**
 * The presell page (pure): a tiny HTML page that loads Meta's `fbevents.js` (the only external
 * script), fires `PageView` with the same `eventID` as the server's PageView so Meta deduplicates the
 * pair, then continues to the t.me link (a button, and a redirect after a short moment). Every
 * value is escaped for where it lands, and a nonce-based Content-Security-Policy allows nothing else.
 */
import { BotflowError } from '../errors.ts';

const FBEVENTS = 'https://connect.facebook.net/en_US/fbevents.js';

/** Escapes text for HTML content and double-quoted attributes. */
function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** A JSON string literal that is safe inside an inline `<script>` (no `<`, `>`, `&`, U+2028/9). */
function scriptString(value: string): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Renders the page and its Content-Security-Policy. `target` must be the t.me start link. */
export function renderPresellPage(input: {
  pixelId: string;
  eventId: string;
  target: string;
  nonce: string;
  /** How long the page waits before continuing to Telegram (ms). */
  delayMs?: number;
}): { html: string; csp: string } {
  if (!/^https:\/\/t\.me\/[A-Za-z0-9_]+\?start=[A-Za-z0-9_-]+$/.test(input.target))
    throw new BotflowError('BAD_REQUEST', 'a presell page continues only to a t.me start link');
  if (!/^[A-Za-z0-9+/=]{16,}$/.test(input.nonce)) throw new BotflowError('INTERNAL', 'weak CSP nonce');
  const delayMs = input.delayMs ?? 1200;
  const target = escapeHtml(input.target);
  const noscriptPixel = `https://www.facebook.com/tr?id=${encodeURIComponent(input.pixelId)}&ev=PageView&eid=${encodeURIComponent(input.eventId)}&noscript=1`;
  const script = [
    `!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments):n.queue.push(arguments)};`,
    `if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];t=b.createElement(e);t.async=!0;t.src=v;`,
    `s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}(window,document,'script',${scriptString(FBEVENTS)});`,
    `fbq('init',${scriptString(input.pixelId)});`,
    `fbq('track','PageView',{},{eventID:${scriptString(input.eventId)}});`,
    `setTimeout(function(){location.replace(${scriptString(input.target)})},${Math.max(0, Math.floor(delayMs))});`,
  ].join('\n');
  const html = `<!doctype html>
<html lang="pt-BR">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="${Math.ceil(delayMs / 1000) + 1};url=${target}">
<title>Abrindo o Telegram…</title>
<style nonce="${escapeHtml(input.nonce)}">body{font-family:system-ui,sans-serif;display:flex;min-height:90vh;align-items:center;justify-content:center;text-align:center}a{display:inline-block;margin-top:1em;padding:.8em 1.6em;border-radius:2em;background:#229ed9;color:#fff;text-decoration:none}</style>
<script nonce="${escapeHtml(input.nonce)}">
${script}
</script>
</head>
<body>
<main>
<p>Abrindo o Telegram…</p>
<a id="continue" href="${target}">Abrir no Telegram</a>
</main>
<noscript><img height="1" width="1" alt="" src="${escapeHtml(noscriptPixel)}"></noscript>
</body>
</html>
`;
  const nonce = `'nonce-${input.nonce}'`;
  const csp = [
    `default-src 'none'`,
    `script-src ${nonce} https://connect.facebook.net`,
    `style-src ${nonce}`,
    `img-src https://www.facebook.com`,
    `connect-src https://www.facebook.com https://connect.facebook.net`,
    `base-uri 'none'`,
    `form-action 'none'`,
    `frame-ancestors 'none'`,
  ].join('; ');
  return { html, csp };
}
