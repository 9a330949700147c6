/**
 * Checks the stream against the ledger, one message at a time, in stream order, keeping per
 * transaction only a bitmap of what was seen:
 *
 * - **missing**: a committed change (the ledger row included) that no event carries;
 * - **duplicated**: an event id seen twice, or one change (table, action, key, version) carried by
 *   two events with different ids;
 * - **unexpected**: an event of no committed transaction (a rolled-back or unknown xid);
 * - **order inversions**: two consecutive events (of the whole stream, and of each subject) whose
 *   (commit LSN, position) go backwards: the stream must follow commit order, and a transaction's
 *   changes their order in it. A duplicate by id is counted as a duplicate only;
 * - **content**: an event whose data, dataOld, subject, headers or id differ from what the ledger
 *   says that change wrote (every row is a function of key, version and writer; see schema.ts).
 *
 * Every finding is put down to the fault that started last before the event was stored (for a
 * missing change: before its transaction committed), so the report says which fault made what.
 */
import { decodeEventId } from '../../src/event/event-id.js';
import { formatLsn, parseLsn } from '../../src/source/lsn.js';
import type { Fault } from './faults.js';
import { ledgerRow, type CommittedTx, type Ledger, type Op } from './ledger.js';
import type { TableRebuild } from './rebuild.js';
import { keyOf, LEDGER, rowOf, TABLES, type Row, type TableSpec } from './schema.js';
import type { StoredEvent } from '../integration/harness/jetstream.js';
import type { StoredMessage } from './stream.js';

export const FINDING_KINDS = [
  'missing',
  'duplicate-id',
  'duplicate-change',
  'unexpected',
  'inversion-stream',
  'inversion-subject',
  'content',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];
export type Counts = Record<FindingKind, number>;

/** Findings put down to the fault before them (or to none). */
export const NO_FAULT = 'before any fault';

export interface CheckResult {
  eventsRead: number;
  changesExpected: number;
  transactionsExpected: number;
  /** Committed transactions of which no event at all arrived. */
  transactionsMissing: number;
  counts: Counts;
  /** Events stored after an event of a later commit (or later in their transaction), not only right after. */
  lateEvents: number;
  byFault: Map<string, Counts>;
  examples: Map<FindingKind, string[]>;
}

const EXAMPLES = 5;
/** An event id is 36 characters; the last 8 are the position, the rest is the transaction's. */
const ID_PREFIX = 28;

/** What has been seen of one committed transaction. */
interface TxSeen {
  commitLsn: bigint | undefined;
  positions: Uint8Array;
  /** Per op (by index), which of its keys were seen. */
  ops: (Uint8Array | undefined)[];
  ledgerRow: boolean;
  changes: number;
}

interface Place {
  lsn: bigint;
  position: number;
  seq: number;
}

/** An event's body as pgwalstreams writes it (README, "Events"). */
type Event = StoredEvent['event'] & { position: number };

export function zeroCounts(): Counts {
  return Object.fromEntries(FINDING_KINDS.map((kind) => [kind, 0])) as Counts;
}

export class StreamChecker {
  private readonly seen = new Map<number, TxSeen>();
  private readonly counts = zeroCounts();
  private readonly byFault = new Map<string, Counts>();
  private readonly examples = new Map<FindingKind, string[]>();
  private eventsRead = 0;
  private lateEvents = 0;
  private previous: Place | undefined;
  private highest: Place | undefined;
  private readonly previousBySubject = new Map<string, Place>();
  private lastLsnText = '';
  private lastLsn = 0n;
  private lastIdPrefix = '-';
  private readonly faults: Fault[];

  constructor(
    private readonly ledger: Ledger,
    private readonly prefix: string,
    faults: readonly Fault[],
    private readonly rebuild: TableRebuild,
  ) {
    this.faults = [...faults].sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Checks one message; messages must come in stream order. */
  add(m: StoredMessage): void {
    this.eventsRead++;
    let event: Event;
    try {
      event = JSON.parse(m.body) as Event;
    } catch {
      this.find('content', m.storedAt, `seq ${m.seq} ${m.subject}: the body is not JSON`);
      return;
    }
    const place = this.placeOf(m, event);
    if (!place) return;
    const table = TABLES.get(event.table);
    if (table && event.schema === 'public')
      this.rebuild.apply(table, event.action, event.data, event.dataOld, m.seq);
    const tx = this.ledger.byTransactionId(event.xid);
    if (!tx) {
      this.find(
        'unexpected',
        m.storedAt,
        `seq ${m.seq} ${m.subject}: xid ${event.xid} committed nothing the ledger knows`,
      );
      this.order(m, place);
      return;
    }
    const seen = this.seenOf(tx);
    if (seen.commitLsn === undefined) seen.commitLsn = place.lsn;
    else if (seen.commitLsn !== place.lsn)
      this.find('content', m.storedAt, `seq ${m.seq}: ${tx.txid} has events of two commit LSNs (${m.lsn})`);
    if (place.position >= tx.changes) {
      this.find(
        'content',
        m.storedAt,
        `seq ${m.seq}: position ${place.position} past the ${tx.changes} changes of ${tx.txid}`,
      );
      return;
    }
    if (seen.positions[place.position]) {
      this.find('duplicate-id', m.storedAt, `seq ${m.seq} ${m.subject}: id ${event.id} (${tx.txid}) again`);
      return;
    }
    seen.positions[place.position] = 1;
    this.order(m, place);
    if (!table || event.schema !== 'public') {
      this.find(
        'content',
        m.storedAt,
        `seq ${m.seq}: event of ${event.schema}.${event.table}, which the workload never writes`,
      );
      return;
    }
    this.matchChange(m, event, table, tx, seen);
  }

  /** Counts what never arrived and returns every figure. */
  finish(): CheckResult {
    let changesExpected = 0;
    let transactionsMissing = 0;
    for (const tx of this.ledger.transactions()) {
      changesExpected += tx.changes;
      const seen = this.seen.get(tx.xid);
      const missing = tx.changes - (seen?.changes ?? 0);
      if (!seen) transactionsMissing++;
      if (missing > 0)
        this.find(
          'missing',
          tx.committedAt,
          `${tx.txid} (xid ${tx.xid}): ${missing} of ${tx.changes} changes never arrived`,
          missing,
        );
    }
    return {
      eventsRead: this.eventsRead,
      changesExpected,
      transactionsExpected: this.ledger.committed,
      transactionsMissing,
      counts: this.counts,
      lateEvents: this.lateEvents,
      byFault: this.byFault,
      examples: this.examples,
    };
  }

  /** The event's commit LSN and position, once headers, body and id agree on them. */
  private placeOf(m: StoredMessage, event: Event): Place | undefined {
    try {
      const position = Number(m.position);
      const lsn = this.commitOf(m.lsn, event.id);
      const agree =
        event.id.endsWith(position.toString(16).padStart(8, '0')) &&
        event.position === position &&
        event.id === m.msgId &&
        event.lsn === m.lsn &&
        String(event.xid) === m.xid;
      if (!agree) throw new Error('they differ');
      return { lsn, position, seq: m.seq };
    } catch (error) {
      this.find(
        'content',
        m.storedAt,
        `seq ${m.seq} ${m.subject}: headers, body and id disagree (${(error as Error).message})`,
      );
      return undefined;
    }
  }

  /**
   * The commit LSN of the `Pgwalstreams-Lsn` header, checked against the one the id holds. The
   * events of one transaction come together and share the id's first 28 characters, so the id is
   * decoded only when the LSN changes (decoding is most of the check's time otherwise).
   */
  private commitOf(lsnText: string, id: string): bigint {
    if (lsnText !== this.lastLsnText || !id.startsWith(this.lastIdPrefix)) {
      const lsn = parseLsn(lsnText);
      if (decodeEventId(id).commitLsn !== lsn) throw new Error(`the id is not of commit ${lsnText}`);
      this.lastLsnText = lsnText;
      this.lastLsn = lsn;
      this.lastIdPrefix = id.slice(0, ID_PREFIX);
    }
    return this.lastLsn;
  }

  /** Order checks against the previous event of the stream and of the subject. */
  private order(m: StoredMessage, place: Place): void {
    if (this.previous && before(place, this.previous))
      this.find(
        'inversion-stream',
        m.storedAt,
        `seq ${m.seq} ${m.subject}: ${describe(place)} after seq ${this.previous.seq}: ${describe(this.previous)}`,
      );
    const previous = this.previousBySubject.get(m.subject);
    if (previous && before(place, previous))
      this.find(
        'inversion-subject',
        m.storedAt,
        `seq ${m.seq} ${m.subject}: ${describe(place)} after seq ${previous.seq}: ${describe(previous)}`,
      );
    if (this.highest && before(place, this.highest)) this.lateEvents++;
    else this.highest = place;
    this.previous = place;
    this.previousBySubject.set(m.subject, place);
  }

  private matchChange(m: StoredMessage, event: Event, table: TableSpec, tx: CommittedTx, seen: TxSeen): void {
    const action = event.action.toLowerCase();
    const at = `seq ${m.seq} ${m.subject} (${tx.txid})`;
    if (m.subject !== `${this.prefix}.public.${table.name}.${action}`) {
      this.find('content', m.storedAt, `${at}: not the subject of a ${action} of ${table.name}`);
      return;
    }
    if (table === LEDGER) {
      if (seen.ledgerRow)
        this.find('duplicate-change', m.storedAt, `${at}: the ledger row again, under another id`);
      else if (
        action !== 'insert' ||
        event.position !== 0 ||
        !same(event.data, ledgerRow(tx)) ||
        !same(event.dataOld, {})
      )
        this.find('content', m.storedAt, `${at}: the ledger row is not ${JSON.stringify(ledgerRow(tx))}`);
      seen.ledgerRow = true;
      seen.changes++;
      return;
    }
    const values = action === 'delete' ? event.dataOld : event.data;
    const key = values['id'];
    const version = values['version'];
    const index = tx.ops.findIndex(
      (op) =>
        op.table === table &&
        op.action === action &&
        typeof key === 'number' &&
        key >= op.first &&
        key < op.first + op.count &&
        (action === 'delete' || op.version === version),
    );
    const op = tx.ops[index];
    if (!op || typeof key !== 'number') {
      this.find(
        'content',
        m.storedAt,
        `${at}: ${tx.txid} made no ${action} of ${table.name} ${JSON.stringify(values)}`,
      );
      return;
    }
    const keys = (seen.ops[index] ??= new Uint8Array(op.count));
    if (keys[key - op.first]) {
      this.find(
        'duplicate-change',
        m.storedAt,
        `${at}: ${action} of ${table.name} ${key} again, under another id`,
      );
      return;
    }
    keys[key - op.first] = 1;
    seen.changes++;
    const expected = expectedEvent(table, tx.writer, op, key);
    if (!same(event.data, expected.data) || !same(event.dataOld, expected.dataOld))
      this.find(
        'content',
        m.storedAt,
        `${at}: data ${JSON.stringify(event.data)} dataOld ${JSON.stringify(event.dataOld)}, the ledger says ${JSON.stringify(expected)}`,
      );
  }

  private seenOf(tx: CommittedTx): TxSeen {
    let seen = this.seen.get(tx.xid);
    if (!seen) {
      seen = {
        commitLsn: undefined,
        positions: new Uint8Array(tx.changes),
        ops: [],
        ledgerRow: false,
        changes: 0,
      };
      this.seen.set(tx.xid, seen);
    }
    return seen;
  }

  private find(kind: FindingKind, at: number, text: string, n = 1): void {
    this.counts[kind] += n;
    const fault = this.faultBefore(at);
    const label = fault ? fault.kind : NO_FAULT;
    let counts = this.byFault.get(label);
    if (!counts) this.byFault.set(label, (counts = zeroCounts()));
    counts[kind] += n;
    let examples = this.examples.get(kind);
    if (!examples) this.examples.set(kind, (examples = []));
    if (examples.length < EXAMPLES) {
      const after = fault ? ` [${at - fault.startedAt} ms after fault ${fault.n} ${fault.kind} began]` : '';
      examples.push(text + after);
    }
  }

  /** The fault that started last at or before `at`. */
  private faultBefore(at: number): Fault | undefined {
    let lo = 0;
    let hi = this.faults.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.faults[mid]!.startedAt <= at) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? this.faults[lo - 1] : undefined;
  }
}

/** The data and dataOld pgwalstreams must publish for the change of `op` to row `key`. */
function expectedEvent(table: TableSpec, writer: number, op: Op, key: number): { data: Row; dataOld: Row } {
  switch (op.action) {
    case 'insert':
      return { data: rowOf(table, writer, key, op.version), dataOld: {} };
    case 'update':
      return {
        data: rowOf(table, writer, key, op.version),
        dataOld: table.replicaFull ? rowOf(table, writer, key, op.version - 1) : {},
      };
    case 'delete':
      return {
        data: {},
        dataOld: table.replicaFull ? rowOf(table, writer, key, op.version) : keyOf(table, key),
      };
  }
}

/** True when `actual` has exactly the keys and (primitive) values of `expected`. */
function same(actual: Record<string, unknown> | undefined, expected: Row): boolean {
  if (!actual || typeof actual !== 'object') return false;
  const keys = Object.keys(actual);
  if (keys.length !== Object.keys(expected).length) return false;
  return keys.every((key) => actual[key] === expected[key]);
}

function before(a: Place, b: Place): boolean {
  return a.lsn < b.lsn || (a.lsn === b.lsn && a.position <= b.position);
}

function describe(p: Place): string {
  return `commit ${formatLsn(p.lsn)} position ${p.position}`;
}
