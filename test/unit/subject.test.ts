import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Action } from '../../src/event/action.js';
import type { Relation } from '../../src/event/transaction.js';
import { Router } from '../../src/route/router.js';
import { HEARTBEAT_PREFIX, WATERMARK_PREFIX } from '../../src/source/slot-status.js';
import {
  changeSubject,
  escapeToken,
  isValidSubjectPrefix,
  snapshotSubject,
  unescapeToken,
} from '../../src/route/subject.js';

function relation(schema: string, table: string): Relation {
  return { id: 1, schema, table, jsonNames: Buffer.alloc(0), replicaIdentity: 'd', columns: [] };
}

describe('subjects', () => {
  test('follow <prefix>.<schema>.<table>.<action>', () => {
    assert.equal(changeSubject('db', 'public', 'users', 'INSERT'), 'db.public.users.insert');
    assert.equal(changeSubject('cdc.prod', 'sales', 'Orders', 'TRUNCATE'), 'cdc.prod.sales.Orders.truncate');
  });

  test('escape names that are not valid tokens, reversibly', () => {
    const names = [
      'my.table',
      'a b',
      'star*',
      'gt>',
      '100%',
      'tab\there',
      'Straße',
      '日本',
      '\u0001',
      'ok_name-1$',
    ];
    for (const name of names) {
      const token = escapeToken(name);
      assert.match(token, /^[\x21-\x7e]+$/, `token for ${JSON.stringify(name)}`);
      assert.ok(!/[.*>]/.test(token), token);
      assert.equal(unescapeToken(token), name);
    }
    assert.equal(escapeToken('my.table'), 'my%2Etable');
    assert.equal(escapeToken('100%'), '100%25');
    assert.equal(escapeToken('ok_name-1$'), 'ok_name-1$');
    assert.equal(changeSubject('db', 'we.ird', '*', 'DELETE'), 'db.we%2Eird.%2A.delete');
  });

  test('prefix validation', () => {
    for (const p of ['db', 'cdc.prod', 'a-b_c']) assert.ok(isValidSubjectPrefix(p), p);
    for (const p of ['', 'db.', '.db', 'db..x', 'db.*', '>', 'db x', 'db\t'])
      assert.ok(!isValidSubjectPrefix(p), p);
  });
});

describe('router', () => {
  test('no filter or an empty one publishes everything', () => {
    for (const tables of [undefined, {}]) {
      const r = new Router({ topicPrefix: 'db', tables });
      assert.equal(r.route(relation('public', 'users'), Action.Delete), 'db.public.users.delete');
    }
  });

  test('table keys match any schema; schema.table keys match one', () => {
    const r = new Router({
      topicPrefix: 'db',
      tables: { users: ['insert', 'update'], 'audit.log': ['delete'] },
    });
    assert.equal(r.route(relation('public', 'users'), Action.Insert), 'db.public.users.insert');
    assert.equal(r.route(relation('other', 'users'), Action.Update), 'db.other.users.update');
    assert.equal(r.route(relation('public', 'users'), Action.Delete), null);
    assert.equal(r.route(relation('audit', 'log'), Action.Delete), 'db.audit.log.delete');
    assert.equal(r.route(relation('public', 'log'), Action.Delete), null);
    assert.equal(r.route(relation('public', 'orders'), Action.Insert), null);
  });

  test('names are matched exactly (no lower-casing)', () => {
    const r = new Router({ topicPrefix: 'db', tables: { Users: ['insert'] } });
    assert.equal(r.route(relation('public', 'users'), Action.Insert), null);
    assert.equal(r.route(relation('public', 'Users'), Action.Insert), 'db.public.Users.insert');
  });
});

describe('router: snapshots', () => {
  test('no filter or an empty one publishes, and snapshots, every table', () => {
    for (const tables of [undefined, {}]) {
      const r = new Router({ topicPrefix: 'db', tables });
      assert.equal(r.publishesTable('public', 'users'), true);
      assert.equal(r.snapshotSubject('public', 'users'), 'db.public.users.snapshot');
      assert.equal(r.snapshotSubject('audit', 'log'), 'db.audit.log.snapshot');
    }
  });

  test('a table is snapshotted when the filter publishes any of its actions, by either key', () => {
    const r = new Router({
      topicPrefix: 'cdc.prod',
      tables: { users: ['delete'], 'audit.log': ['truncate'] },
    });
    assert.equal(r.snapshotSubject('public', 'users'), 'cdc.prod.public.users.snapshot');
    assert.equal(r.snapshotSubject('other', 'users'), 'cdc.prod.other.users.snapshot');
    assert.equal(r.snapshotSubject('audit', 'log'), 'cdc.prod.audit.log.snapshot');
    assert.equal(r.publishesTable('public', 'log'), false, 'a schema.table key names one schema');
    assert.equal(r.snapshotSubject('public', 'log'), null);
    assert.equal(r.publishesTable('public', 'orders'), false);
    assert.equal(r.snapshotSubject('public', 'orders'), null);
    assert.equal(r.publishesTable('public', 'Users'), false, 'names are matched exactly');
  });

  test('snapshot subjects escape names as change subjects do, and are no change subject', () => {
    const r = new Router({ topicPrefix: 'db', tables: { 'Straße x': ['insert'], 'we.ird': ['insert'] } });
    assert.equal(r.snapshotSubject('my.schema', 'Straße x'), 'db.my%2Eschema.Stra%C3%9Fe%20x.snapshot');
    assert.equal(r.snapshotSubject('public', 'we.ird'), 'db.public.we%2Eird.snapshot');
    assert.equal(r.snapshotSubject('public', 'other'), null);
    assert.equal(snapshotSubject('db', '*', '>'), 'db.%2A.%3E.snapshot');
    const actions = [Action.Insert, Action.Update, Action.Delete, Action.Truncate];
    for (const action of actions) {
      assert.notEqual(
        changeSubject('db', 'public', 'users', action),
        snapshotSubject('db', 'public', 'users'),
      );
    }
  });

  test('watermark and heartbeat messages are never published, whatever the message filter', () => {
    for (const messages of [undefined, [WATERMARK_PREFIX, HEARTBEAT_PREFIX]]) {
      const r = new Router({ topicPrefix: 'db', messages });
      assert.equal(r.routeMessage(WATERMARK_PREFIX), null);
      assert.equal(r.routeMessage(HEARTBEAT_PREFIX), null);
    }
  });
});
