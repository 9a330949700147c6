/**
 * Routing: which changes are published, and on which subject.
 *
 * The filter is `database.filter.tables`: a table name (any schema) or `schema.table` maps to
 * the actions to publish. No filter, or an empty one, publishes everything. A change that is
 * filtered out is still counted in its transaction, so the slot moves past it.
 *
 * Logical messages go to `<topicPrefix>.message.<prefix>`, filtered by `database.filter.messages`
 * (absent: all). Commit markers go to `<topicPrefix>.transaction.commit`. Both have three tokens
 * after the prefix and row subjects four, so they never share a subject; subscribe to
 * `<topicPrefix>.message.*` for messages only.
 */
import { ACTIONS, actionIndex, type Action } from '../event/action.js';
import type { Change, Relation } from '../event/transaction.js';
import { HEARTBEAT_PREFIX, WATERMARK_PREFIX } from '../source/slot-status.js';
import { changeSubject, escapeToken, snapshotSubject } from './subject.js';

/** Table key (`users` or `public.users`) → actions in lower case (`insert`, `update`, ...). */
export type TableFilter = Readonly<Record<string, readonly string[]>>;

/** What the router needs from the configuration; both parts may change on a reload. */
export interface RouteSettings {
  topicPrefix: string;
  tables?: TableFilter | undefined;
  /** Message prefixes to publish; absent: every message. */
  messages?: readonly string[] | undefined;
  /** Publish a commit marker after each transaction with events. */
  transactionEvents?: boolean | undefined;
}

/** Decides, per relation and action, the subject to publish on, or `null` to skip. */
export class Router {
  // Per relation: the subject of each action in ACTIONS order, null where filtered out.
  private readonly cache = new WeakMap<Relation, (string | null)[]>();
  private readonly tables: Map<string, Set<string>> | null;
  private readonly messages: Set<string> | null;
  private readonly messageSubjects = new Map<string, string>();
  /** Subject of commit markers; `null` when they are not published. */
  readonly commitSubject: string | null;
  /** Every subject starts with `<topicPrefix>.`. */
  readonly topicPrefix: string;

  constructor(private readonly settings: RouteSettings) {
    this.topicPrefix = settings.topicPrefix;
    const entries = Object.entries(settings.tables ?? {});
    this.tables =
      entries.length === 0
        ? null
        : new Map(entries.map(([key, actions]) => [key, new Set(actions.map((a) => a.toLowerCase()))]));
    this.messages = settings.messages ? new Set(settings.messages) : null;
    this.commitSubject = settings.transactionEvents ? `${settings.topicPrefix}.transaction.commit` : null;
  }

  /** The subject for a change or message, or `null` when the filter leaves it out. */
  routeChange(change: Change): string | null {
    return change.kind === 'row'
      ? this.route(change.relation, change.action)
      : this.routeMessage(change.prefix);
  }

  /** The subject for a logical message with this prefix, or `null` when filtered out. */
  routeMessage(prefix: string): string | null {
    if (
      prefix === HEARTBEAT_PREFIX ||
      prefix === WATERMARK_PREFIX ||
      (this.messages && !this.messages.has(prefix))
    )
      return null;
    let subject = this.messageSubjects.get(prefix);
    if (subject === undefined) {
      subject = `${this.settings.topicPrefix}.message.${escapeToken(prefix)}`;
      this.messageSubjects.set(prefix, subject);
    }
    return subject;
  }

  /** The subject for a row change, or `null` when the filter leaves it out. */
  route(relation: Relation, action: Action): string | null {
    let subjects = this.cache.get(relation);
    if (!subjects) {
      subjects = ACTIONS.map((a) =>
        this.accepts(relation.schema, relation.table, a) ? this.subject(relation, a) : null,
      );
      this.cache.set(relation, subjects);
    }
    return subjects[actionIndex(action)] ?? null;
  }

  /** True when the filter publishes `action` on `schema.table`. */
  accepts(schema: string, table: string, action: Action): boolean {
    if (!this.tables) return true;
    const a = action.toLowerCase();
    return (
      (this.tables.get(`${schema}.${table}`)?.has(a) ?? false) || (this.tables.get(table)?.has(a) ?? false)
    );
  }

  /** True when the filter publishes any action of `schema.table`: its rows may be snapshotted. */
  publishesTable(schema: string, table: string): boolean {
    return !this.tables || this.tables.has(`${schema}.${table}`) || this.tables.has(table);
  }

  /** The subject of a table's snapshot events, or null when the filter does not publish the table. */
  snapshotSubject(schema: string, table: string): string | null {
    return this.publishesTable(schema, table)
      ? snapshotSubject(this.settings.topicPrefix, schema, table)
      : null;
  }

  private subject(relation: Relation, action: Action): string {
    return changeSubject(this.settings.topicPrefix, relation.schema, relation.table, action);
  }
}
