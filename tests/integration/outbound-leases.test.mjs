// outbound-leases.test.mjs — room leases: two dazd processes for one room, only one joins; the
// standby takes over when the holder dies, at once when it shuts down cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { psql, scratchDb, fake, startDazd, joined, until } from './lib/outbound.mjs';

const botSockets = (srv) => srv.state('lobby').sockets.filter((s) => s.name === 'DazBot').length;
const holder = (db) => psql(db, `SELECT coalesce(holder, '') FROM daz.rooms WHERE room = 'lobby'`);

/** dazd-a joined to lobby and holding its lease; dazd-b, configured for the same room, standing by. */
async function holderAndStandby(t) {
    const db = await scratchDb(t);
    const srv = await fake(t);
    const rooms = [{ channel: 'lobby' }];
    const a = await startDazd(t, { db, srv, rooms, worker: 'dazd-a' });
    await joined(srv, 'lobby');
    await until(async () => (await holder(db)) === 'dazd-a', { label: 'dazd-a holds lobby' });
    const b = await startDazd(t, { db, srv, rooms, worker: 'dazd-b' });
    await until(() => /held by another worker: standing by/.test(b.log()), { label: 'dazd-b standing by' });
    return { db, srv, a, b };
}

test('two dazd with the same room: only one joins, the other takes over after the first is killed', async (t) => {
    const { db, srv, a, b } = await holderAndStandby(t);
    assert.equal(botSockets(srv), 1, 'one socket for the bot account');
    assert.doesNotMatch(b.log(), /connecting to ws/, 'the standby never connected');
    // two heartbeats of the standby later, it still has not connected
    const beat0 = await psql(db, `SELECT heartbeat_at FROM daz.workers WHERE worker = 'dazd-b'`);
    await until(async () => (await psql(db, `SELECT heartbeat_at > '${beat0}'::timestamptz + interval '1 second' FROM daz.workers WHERE worker = 'dazd-b'`)) === 't', {
        label: 'dazd-b heartbeats',
    });
    assert.equal(botSockets(srv), 1, 'still one socket');
    assert.equal(await holder(db), 'dazd-a');

    await a.stop('SIGKILL');
    const t0 = Date.now();
    await until(async () => (await holder(db)) === 'dazd-b', { timeoutMs: 15000, label: 'dazd-b takes the lease' });
    await until(() => /logged in as DazBot/.test(b.log()), { timeoutMs: 10000, label: 'dazd-b joined' });
    const took = Date.now() - t0;
    assert.ok(took < 5000 + 2 * 1667 + 1500, `takeover within one lease period plus two heartbeats (${took} ms)`);
    assert.equal(await psql(db, `SELECT lease FROM daz.room_overview WHERE room = 'lobby'`), 'held');
    const id = await psql(db, `SELECT daz.say('lobby', 'from the standby')`);
    await until(async () => (await psql(db, `SELECT locked_by FROM daz.job_results WHERE id = ${id}`)) === 'dazd-b', {
        label: 'the new holder sends',
    });
});

test('a clean shutdown releases the lease so the standby takes over at once', async (t) => {
    const { db, a } = await holderAndStandby(t);
    const r = await a.stop('SIGTERM');
    assert.equal(r.code, 0, 'dazd-a exits 0');
    assert.match(a.log(), /lease released/);
    const t0 = Date.now();
    await until(async () => (await holder(db)) === 'dazd-b', { timeoutMs: 5000, label: 'dazd-b takes the released lease' });
    assert.ok(Date.now() - t0 < 4000, 'no wait for the lease to expire (5 s)');
});

test('the heartbeat records the last event of a room in daz.rooms.last_event_at', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }], worker: 'dazd-a' });
    await joined(srv, 'lobby');
    await until(async () => (await holder(db)) === 'dazd-a', { label: 'dazd-a holds lobby' });
    // joining produced events already; a chat line later must move the time forward
    await until(async () => (await psql(db, `SELECT last_event_at IS NOT NULL FROM daz.rooms WHERE room = 'lobby'`)) === 't', {
        label: 'a first last_event_at',
    });
    const before = await psql(db, `SELECT last_event_at FROM daz.rooms WHERE room = 'lobby'`);
    await new Promise((r) => setTimeout(r, 50));
    srv.say('lobby', 'Alice', 'hello there');
    await until(async () => (await psql(db, `SELECT count(*) FROM daz.events WHERE type = 'chatMsg' AND payload->>'msg' = 'hello there'`)) === '1', {
        label: 'the line stored',
    });
    const stored = await psql(db, `SELECT received_at FROM daz.events WHERE type = 'chatMsg' AND payload->>'msg' = 'hello there'`);
    // one heartbeat (lease_s 5 → every 1.7 s) later
    await until(async () => (await psql(db, `SELECT last_event_at >= '${stored}'::timestamptz FROM daz.rooms WHERE room = 'lobby'`)) === 't', {
        timeoutMs: 5000,
        label: 'last_event_at at or after the chat line',
    });
    assert.equal(await psql(db, `SELECT last_event_at > '${before}'::timestamptz FROM daz.rooms WHERE room = 'lobby'`), 't');
});
