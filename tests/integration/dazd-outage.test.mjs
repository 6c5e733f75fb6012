// dazd-outage.test.mjs — nothing lost when PostgreSQL goes away: a 20 s outage under a
// 1,000 events/s flood on a throwaway cluster, and a spool file cut mid-record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import {
    conninfo, fakeCytube, freePort, makeConfig, metricSum, parseMetrics, psql, scratchDb,
    startCluster, startDazd, tempDir, waitFor,
} from './lib/dazd.mjs';

const BOT = 'DazBot';

test('PostgreSQL stopped for 20 s under 1,000 events/s: every event stored exactly once', { timeout: 120000 }, async (t) => {
    const pg = await startCluster(t);
    const dir = await tempDir(t);
    const fake = await fakeCytube(t, { accounts: { [BOT]: 'secret' } });
    const config = makeConfig({
        conninfo: pg.conninfo,
        httpPort: await freePort(),
        spoolDir: path.join(dir, 'spool'),
        rooms: [{ channel: 'lobby', site: fake.url, username: BOT, password: 'secret' }],
    });
    config.log.level = 'info';
    const dazd = await startDazd(t, dir, config);
    const count = async (where) => Number(await pg.sql(`SELECT count(*) FROM daz.events WHERE ${where}`));
    await waitFor(() => count(`type = 'login'`), 10000, 'joined');

    const total = 25000;
    const flood = fake.flood('lobby', { rate: 1000, seconds: total / 1000, prefix: 'out' });
    await waitFor(async () => (await count(`payload->>'msg' LIKE 'out %'`)) > 1000, 10000, 'flood stored');
    await pg.stop();
    const down = Date.now();
    await dazd.waitLog(/database connection lost/, 10000);
    // Memory fills (buffer_max 5000), then the spool takes the rest.
    await dazd.waitLog(/memory buffer full: \d+ events written to the spool/, 15000);
    await new Promise((r) => setTimeout(r, Math.max(0, 20000 - (Date.now() - down))));
    await pg.start();
    await dazd.waitLog(/spool replay done/, 30000);
    const { sent } = await flood;
    assert.equal(sent, total);
    await waitFor(async () => (await count(`payload->>'msg' LIKE 'out %'`)) >= total, 30000, `${total} flood lines stored`);
    const [n, distinct, min, max] = (await pg.sql(
        `SELECT count(*), count(DISTINCT payload->>'msg'), min(substr(payload->>'msg', 5)::int), max(substr(payload->>'msg', 5)::int)
           FROM daz.events WHERE payload->>'msg' LIKE 'out %'`)).split('|').map(Number);
    assert.deepEqual({ n, distinct, min, max }, { n: total, distinct: total, min: 1, max: total });
    const m = parseMetrics((await dazd.http('/metrics')).text);
    assert.ok(metricSum(m, 'dazd_spool_written_total') > 0, 'the spool was used');
    assert.equal(metricSum(m, 'dazd_events_dropped_total'), 0, 'nothing dropped');
    assert.equal(m['dazd_spool_bytes'], 0, 'spool truncated after the replay');
    assert.equal(dazd.proc.exitCode, null);
});

test('a spool file cut mid-record is replayed up to the cut', async (t) => {
    const db = await scratchDb(t);
    const dir = await tempDir(t);
    const fake = await fakeCytube(t, { accounts: { [BOT]: 'secret' } });
    const spoolDir = path.join(dir, 'spool');
    const room = { channel: 'lobby', site: fake.url, username: BOT, password: 'secret' };
    const cfg = makeConfig({ conninfo: `${conninfo(db)} connect_timeout=1`, spoolDir, rooms: [room] });
    // First run: join, then lose the database (dropped), so SIGTERM spools what arrives.
    const d1 = await startDazd(t, dir, cfg);
    await d1.waitLog(/\[lobby\] state connecting -> joined/);
    await waitFor(async () => (await psql(db, `SELECT count(*) FROM daz.events WHERE type = 'login'`)) === '1', 10000, 'joined');
    await psql('postgres', `DROP DATABASE ${db} WITH (FORCE)`);
    await d1.waitLog(/\[db\] database connection lost/);
    await fake.flood('lobby', { rate: 2000, seconds: 0.2, prefix: 'cut' });
    await new Promise((r) => setTimeout(r, 300)); // let the last frames arrive (bounded, not a sync point)
    assert.equal((await d1.stop('SIGTERM')).code, 0);
    const file = path.join(spoolDir, 'dazd.spool');
    const size = (await stat(file)).size;
    assert.ok(size > 10000, `spool holds the flood (${size} bytes)`);
    await truncate(file, Math.floor(size / 2) + 7); // inside a record, most likely not on a boundary
    // Second run with the database back: replay up to the cut, skipping the torn tail.
    await psql('postgres', `CREATE DATABASE ${db} TEMPLATE ${process.env.PGDATABASE}`);
    const d2 = await startDazd(t, dir, cfg);
    await d2.waitLog(/spool replay done/, 10000);
    assert.ok(d2.logs.some((l) => /torn bytes/.test(l)), 'torn tail logged');
    const nums = (await psql(db, `SELECT substr(payload->>'msg', 5)::int FROM daz.events WHERE payload->>'msg' LIKE 'cut %' AND NOT tags @> '{history}' ORDER BY 1`))
        .split('\n').filter(Boolean).map(Number);
    assert.ok(nums.length > 0 && nums.length < 400, `${nums.length} lines replayed`);
    assert.deepEqual(nums, nums.map((_, i) => i + 1), 'a gap-free prefix 1..k');
    assert.equal(await psql(db, `SELECT count(*) FROM daz.events WHERE type = 'dazd:disconnected'`), '0', 'the tail after the cut is gone');
});

test('a full spool drops the oldest low-value events first and keeps every chat line', async (t) => {
    const db = await scratchDb(t);
    const dir = await tempDir(t);
    const fake = await fakeCytube(t, { accounts: { [BOT]: 'secret' } });
    const room = { channel: 'lobby', site: fake.url, username: BOT, password: 'secret' };
    const cfg = makeConfig({ conninfo: `${conninfo(db)} connect_timeout=1`, httpPort: await freePort(), spoolDir: path.join(dir, 'spool'), rooms: [room] });
    cfg.spool.max_bytes = 1024 * 1024;
    cfg.ingest = { batch_max: 100, flush_ms: 20, buffer_max: 100 };
    cfg.log.level = 'info';
    const dazd = await startDazd(t, dir, cfg);
    await waitFor(async () => (await psql(db, `SELECT count(*) FROM daz.events WHERE type = 'login'`)) === '1', 10000, 'joined');
    await psql('postgres', `DROP DATABASE ${db} WITH (FORCE)`);
    await dazd.waitLog(/\[db\] database connection lost/);
    // ~0.5 MiB of mediaUpdate (low value), then ~0.7 MiB of chat: the spool (1 MiB) overflows.
    const now = Date.now();
    for (let i = 0; i < 5000; i++) fake.sendRaw('lobby', BOT, `42["mediaUpdate",{"currentTime":${i},"paused":false}]`);
    for (let i = 1; i <= 4000; i++)
        fake.sendRaw('lobby', BOT, `42["chatMsg",{"username":"Talker","msg":"keep ${String(i).padStart(6, '0')} ${'x'.repeat(40)}","meta":{},"time":${now + i}}]`);
    const received = async () => metricSum(parseMetrics((await dazd.http('/metrics')).text), 'dazd_events_received_total', { type: 'chatMsg' });
    await waitFor(async () => (await received()) >= 4000, 10000, 'all frames received');
    await dazd.waitLog(/spool full \(\d+ bytes\): dropped \d+ oldest low-value events/, 5000);
    const m = parseMetrics((await dazd.http('/metrics')).text);
    assert.ok(metricSum(m, 'dazd_events_dropped_total', { reason: 'spool_full' }) > 0);
    assert.ok(m['dazd_spool_bytes'] <= 1024 * 1024);
    // Database back: every chat line is replayed.
    await psql('postgres', `CREATE DATABASE ${db} TEMPLATE ${process.env.PGDATABASE}`);
    await dazd.waitLog(/spool replay done/, 20000);
    await waitFor(async () => (await psql(db, `SELECT count(DISTINCT payload->>'msg') FROM daz.events WHERE payload->>'msg' LIKE 'keep %'`)) === '4000', 20000, '4000 chat lines stored');
});
