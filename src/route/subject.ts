/**
 * NATS subjects for change events: `<topicPrefix>.<schema>.<table>.<action>`.
 *
 * PostgreSQL allows any character in a quoted identifier, but a NATS subject token may not
 * contain `.`, `*`, `>` or white space. Schema and table names are therefore escaped by one
 * reversible rule: every byte of the name's UTF-8 form that is not printable ASCII
 * (0x21–0x7E), and each of `.` `*` `>` `%`, is written as `%` and two upper-case hex digits.
 * `decodeURIComponent` reverses it. So `public.users` stays as it is, a table `my.table`
 * becomes `my%2Etable`, and `Straße` becomes `Stra%C3%9Fe`. No name can produce a wildcard or
 * an extra token.
 */
import { actionName, type Action } from '../event/action.js';

const SAFE = new Uint8Array(128);
for (let c = 0x21; c <= 0x7e; c++) SAFE[c] = 1;
for (const ch of '.*>%') SAFE[ch.charCodeAt(0)] = 0;

/** True when every character of `name` can stand in a subject token as it is. */
function isSafeToken(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || SAFE[c] !== 1) return false;
  }
  return true;
}

/** Escapes a schema or table name into one valid subject token (see the module comment). */
export function escapeToken(name: string): string {
  if (isSafeToken(name)) return name;
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    out +=
      byte < 128 && SAFE[byte] === 1
        ? String.fromCharCode(byte)
        : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Reverses `escapeToken`. */
export function unescapeToken(token: string): string {
  return decodeURIComponent(token);
}

/** True when `prefix` is one or more dot-separated tokens of printable ASCII with no wildcard. */
export function isValidSubjectPrefix(prefix: string): boolean {
  return prefix.split('.').every((t) => t.length > 0 && /^[\x21-\x7e]+$/.test(t) && !/[*>]/.test(t));
}

/** The subject of a change: `<prefix>.<schema>.<table>.<action in lower case>`. */
export function changeSubject(prefix: string, schema: string, table: string, action: Action): string {
  return `${prefix}.${escapeToken(schema)}.${escapeToken(table)}.${actionName(action)}`;
}

/** The subject of a table's snapshot events: `<prefix>.<schema>.<table>.snapshot`. */
export function snapshotSubject(prefix: string, schema: string, table: string): string {
  return `${prefix}.${escapeToken(schema)}.${escapeToken(table)}.snapshot`;
}
