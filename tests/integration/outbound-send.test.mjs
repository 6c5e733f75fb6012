// outbound-send.test.mjs — dazd sends what PostgreSQL asks: say → frame → echo → complete; pm; a long
// text in ordered parts; priority order under a full bucket; pacing below the flood limiter;
// a cooldown leads to a retry that succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { psql, scratchDb, fake, startDazd, joined, sent, until, jobState } from './lib/outbound.mjs';

async function allDone(db, ids, timeoutMs = 20000) {
    const list = ids.join(',');
    await until(async () => (await psql(db, `SELECT count(*) FROM daz.job_results WHERE id IN (${list})`)) === String(ids.length), {
        timeoutMs,
        label: `jobs ${list} completed`,
    });
}

test('daz.say appears at the server and the job completes on the echo', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    const id = await psql(db, `SELECT daz.say('lobby', 'hi <there> & see https://example.com/x?a=1&b=2')`);
    const f = await srv.waitForFrame('lobby', (x) => x.event === 'chatMsg' && x.user === 'DazBot', 10000);
    assert.equal(f.args[0].msg, 'hi <there> & see https://example.com/x?a=1&b=2');
    await until(async () => (await jobState(db, id)) === 'done', { label: `job ${id} done` });
    const result = await psql(db, `SELECT result FROM daz.job_results WHERE id = ${id}`);
    assert.deepEqual(JSON.parse(result), { sent: 1, confirmed: true }, 'confirmed by the escaped, link-wrapped echo');
});

test('daz.pm reaches the recipient and completes on the echo', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    srv.addUser('lobby', 'Alice');
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    const id = await psql(db, `SELECT daz.pm('lobby', 'alice', 'psst > secret')`);
    const f = await srv.waitForFrame('lobby', (x) => x.event === 'pm' && x.user === 'DazBot', 10000);
    assert.equal(f.args[0].to, 'alice');
    assert.equal(f.args[0].msg, 'psst > secret');
    await until(async () => (await jobState(db, id)) === 'done', { label: `pm job ${id} done` });
    assert.equal(await psql(db, `SELECT result->>'confirmed' FROM daz.job_results WHERE id = ${id}`), 'true');
});

test('a 900-character message arrives as ordered parts of at most 320 characters', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    const words = [];
    for (let i = 0; words.join(' ').length < 900; i++) words.push(`word${i}`);
    const text = words.join(' ').slice(0, 900).replace(/\s+\S*$/, '');
    const id = await psql(db, `SELECT daz.say('lobby', '${text}')`);
    await until(async () => (await jobState(db, id)) === 'done', { label: `long job ${id} done`, timeoutMs: 15000 });
    const parts = sent(srv, 'lobby', 'chatMsg').map((f) => f.args[0].msg);
    assert.ok(parts.length >= 3, `split into ${parts.length} parts`);
    for (const p of parts) assert.ok(p.length <= 320, `part of ${p.length} characters`);
    assert.equal(parts.join(' '), text, 'parts in order, nothing lost at the breaks');
    const result = JSON.parse(await psql(db, `SELECT result FROM daz.job_results WHERE id = ${id}`));
    assert.deepEqual(result, { sent: parts.length, confirmed: true });
});

test('a full bucket sends queued jobs in priority order', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby', pacing: { burst: 1, per_second: 2 } }] });
    await joined(srv, 'lobby');
    const first = await psql(db, `SELECT daz.say('lobby', 'first empties the bucket', 0::smallint)`);
    await srv.waitForFrame('lobby', (x) => x.event === 'chatMsg' && x.user === 'DazBot', 10000);
    // Enqueued one statement at a time, lowest priority first: the bucket holds them all back.
    const ids = [];
    for (const [text, prio] of [['normal 1', 0], ['normal 2', 0], ['high', 1], ['critical', 3], ['urgent', 2]])
        ids.push(await psql(db, `SELECT daz.say('lobby', '${text}', ${prio}::smallint)`));
    await allDone(db, [first, ...ids]);
    const order = sent(srv, 'lobby', 'chatMsg').map((f) => f.args[0].msg);
    assert.equal(order[0], 'first empties the bucket');
    assert.deepEqual(order.slice(1), ['critical', 'urgent', 'high', 'normal 1', 'normal 2']);
});

test('default pacing stays under a channel antiflood limit: no cooldown, no retry', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t, {
        lobby: { opts: { chat_antiflood: true, chat_antiflood_params: { burst: 4, sustained: 1, cooldown: 4 } } },
    });
    // configured looser than the channel: dazd must tighten itself from channelOpts
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby', pacing: { burst: 10, per_second: 5 } }] });
    await joined(srv, 'lobby');
    const ids = (await psql(db, `SELECT daz.say('lobby', 'paced ' || g) FROM generate_series(1, 8) g`)).split('\n');
    await allDone(db, ids, 30000);
    assert.equal(await psql(db, `SELECT count(*) FROM daz.job_results WHERE id IN (${ids}) AND attempts = 1 AND result->>'confirmed' = 'true'`), '8',
        'every job confirmed on its first attempt');
    const said = srv.chatLog('lobby').filter((l) => l.username === 'DazBot').map((l) => l.msg);
    assert.equal(said.length, 8, 'the server accepted all 8 lines (none dropped by its limiter)');
});

test('a cooldown from the server fails the dropped job retryably and the retry succeeds', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    // unpaced (moderator-like setting) against the server's default limiter: burst 20, then 10/s
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby', pacing: { burst: 100, per_second: 0 } }] });
    await joined(srv, 'lobby');
    const ids = (await psql(db, `SELECT daz.say('lobby', 'burst ' || g) FROM generate_series(1, 26) g`)).split('\n');
    await until(async () => Number(await psql(db, `SELECT count(*) FROM daz.jobs WHERE id IN (${ids}) AND last_error = 'cooldown'`)) > 0, {
        label: 'a job failed with cooldown',
    });
    await psql(db, `UPDATE daz.jobs SET run_at = now() WHERE id IN (${ids}) AND state = 'ready'`); // skip the backoff wait
    await allDone(db, ids, 30000);
    assert.equal(await psql(db, `SELECT count(*) FROM daz.dead_letters`), '0', 'nothing dead-lettered');
    const retried = Number(await psql(db, `SELECT count(*) FROM daz.job_results WHERE id IN (${ids}) AND attempts > 1`));
    assert.ok(retried > 0, 'some jobs needed a second attempt');
    const said = srv.chatLog('lobby').filter((l) => l.username === 'DazBot').map((l) => l.msg);
    for (let g = 1; g <= 26; g++) assert.ok(said.includes(`burst ${g}`), `burst ${g} reached the channel`);
});
