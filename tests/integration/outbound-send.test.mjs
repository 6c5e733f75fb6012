// outbound-send.test.mjs — dazd sends what PostgreSQL asks: say → frame → echo → complete; pm; split;
// priority order under a full bucket; pacing below the flood limiter; cooldown → retry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { psql, scratchDb, fake, startDazd, joined, sent, until, jobState } from './lib/outbound.mjs';

test('daz.say appears at the server and the job completes on the echo', async (t) => {
    const db = await scratchDb(t);
    const srv = await fake(t);
    await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    const id = await psql(db, `SELECT daz.say('lobby', 'hi <there> & you')`);
    const f = await srv.waitForFrame('lobby', (x) => x.event === 'chatMsg' && x.user === 'DazBot', 10000);
    assert.equal(f.args[0].msg, 'hi <there> & you');
    await until(async () => (await jobState(db, id)) === 'done', { label: `job ${id} done` });
    const result = await psql(db, `SELECT result FROM daz.job_results WHERE id = ${id}`);
    assert.deepEqual(JSON.parse(result), { sent: 1, confirmed: true });
});
