/**
 * A short, stable tag of a flow or step id (FNV-1a, 32 bit, base36: at most 7 characters), so a
 * button's callback data can name its flow and step within Telegram's 64 bytes. Buttons already in
 * chats carry these tags: the function must never change.
 */
export function hashId(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}
