// bench.mjs — dazd outbound figures (see ./run): enqueue → frame latency and jobs/s with pacing
// disabled, and the !ping → pong round trip while the fake floods 2,000 events/s into ingest.
// Every phase is bounded in count and time.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeCytube } from '../../fake-cytube/server.mjs';
import { psql, until, dazdPath } from '../../integration/lib/outbound.mjs';

const N = Number(process.env.BENCH_JOBS ?? 10000);
const RATE = Number(process.env.BENCH_RATE ?? 1000); // steady phase, jobs/s
const PINGS = Number(process.env.BENCH_PINGS ?? 200);
const FLOOD = Number(process.env.BENCH_FLOOD ?? 2000); // events/s during the round-trip phase
const FLUSH_MS = Number(process.env.BENCH_FLUSH_MS ?? 10); // ingest.flush_ms (default 50)
const db = process.env.PGDATABASE;
const now = () => performance.timeOrigin + performance.now();

function pct(xs, p) {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const fmt = (x) => `${x.toFixed(1)} ms`;

// The bot's command set is not part of this benchmark: a minimal !ping handler stands in for it.
await psql(db, `CREATE OR REPLACE FUNCTION daz.cmd_dispatch(p_job daz.jobs) RETURNS jsonb
    LANGUAGE plpgsql SET search_path = pg_catalog, daz, pg_temp AS $$
    DECLARE v_msg text := p_job.payload->'payload'->>'msg';
    BEGIN
        IF v_msg LIKE '!ping%' THEN
            PERFORM daz.say(p_job.room, 'pong' || substr(v_msg, 6), 2);
        END IF;
        RETURN '{}';
    END $$`);

const srv = await startFakeCytube({ channels: { bench: {} }, accounts: { DazBot: 'secret' }, maxFrames: 1_000_000 });
// "pacing disabled (a moderator-like room setting)": the fake's limiter must not drop the bot either.
const unlimited = { burst: 1e12, sustained: 1e12, cooldown: 1 };
const dir = await mkdtemp(path.join(tmpdir(), 'dazd-bench-'));
const config = {
    database: { conninfo: `host=${process.env.PGHOST} port=${process.env.PGPORT} dbname=${db} user=${process.env.PGUSER}` },
    http: { listen: 'off' },
    spool: { dir: path.join(dir, 'spool') },
    log: { level: 'warn' },
    ingest: { flush_ms: FLUSH_MS },
    outbound: { poll_ms: 2000, confirm_ms: 2000 },
    rooms: [{ channel: 'bench', site: srv.url, username: 'DazBot', password: 'secret', pacing: { burst: 100, per_second: 0 } }],
};
await writeFile(path.join(dir, 'dazd.json'), JSON.stringify(config));
const dazd = spawn(dazdPath, ['-c', path.join(dir, 'dazd.json')], { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = async () => {
    dazd.kill('SIGTERM');
    await srv.close();
    await rm(dir, { recursive: true, force: true });
};

try {
    await srv.waitFor(() => srv.state('bench').users.some((u) => u.name === 'DazBot'), 15000, 'DazBot joined');
    srv.channel('bench').chatLimit = () => unlimited;

    // ---- 1. steady: N jobs at RATE/s, one daz.say per statement, through one psql session ----
    const feed = spawn('psql', ['-X', '-q', '-At', '-d', db], { stdio: ['pipe', 'ignore', 'inherit'] });
    const t0 = now();
    let i = 0;
    await new Promise((resolve) => {
        const timer = setInterval(() => {
            const due = Math.min(N, Math.floor(((now() - t0) / 1000) * RATE) + 1);
            let sql = '';
            for (; i < due; i++) sql += `SELECT daz.say('bench', 's ${i}');\n`;
            if (sql) feed.stdin.write(sql);
            if (i >= N) {
                clearInterval(timer);
                feed.stdin.end();
                resolve();
            }
        }, 2);
    });
    await new Promise((r) => feed.on('exit', r));
    const steady = await collect('s ', N, 60000);
    report(`steady ${RATE}/s`, steady);

    // ---- 2. burst: N jobs in one statement -------------------------------------------------------
    const b0 = now();
    await psql(db, `SELECT count(daz.say('bench', 'b ' || g)) FROM generate_series(0, ${N - 1}) g`);
    const burst = await collect('b ', N, 120000);
    const last = Math.max(...burst.frames);
    console.log(`burst: ${N} jobs committed in one statement; all frames at the server ${fmt(last - b0)} after the start: ` +
        `${Math.round(N / ((last - b0) / 1000))} jobs/s end to end`);
    report('burst', burst);

    // ---- 3. !ping → pong round trip while the fake floods FLOOD events/s ------------------------
    const flood = srv.flood('bench', { rate: FLOOD, seconds: Math.ceil(PINGS / 10) + 5, name: 'Flooder' });
    const t3 = now();
    await until(async () => Number(await psql(db, `SELECT count(*) FROM daz.events WHERE actor = 'Flooder'`)) > FLOOD, {
        timeoutMs: 20000,
        label: 'the flood being ingested',
    });
    const sentAt = new Map();
    for (let k = 0; k < PINGS; k++) {
        sentAt.set(`pong ${k}`, now());
        srv.say('bench', 'Pinger', `!ping ${k}`);
        await new Promise((r) => setTimeout(r, 100));
    }
    const rtt = [];
    await srv.waitFor(
        () => srv.getFrames('bench', { event: 'chatMsg' }).filter((f) => f.user === 'DazBot' && sentAt.has(f.args[0].msg)).length >= PINGS,
        30000,
        'every pong',
    );
    for (const f of srv.getFrames('bench', { event: 'chatMsg' }))
        if (f.user === 'DazBot' && sentAt.has(f.args[0].msg)) rtt.push(f.t - sentAt.get(f.args[0].msg));
    flood.stop();
    const res = await flood;
    const stored = Number(await psql(db, `SELECT count(*) FROM daz.events WHERE actor = 'Flooder'`));
    console.log(`round trip (ingest.flush_ms ${FLUSH_MS}): ${PINGS} "!ping" lines every 100 ms while the fake flooded ${FLOOD} events/s ` +
        `(${res.sent} flood lines in ${((now() - t3) / 1000).toFixed(1)} s, ${stored} stored so far)`);
    console.log(`  !ping said → pong frame at the server: p50 ${fmt(pct(rtt, 50))}, p99 ${fmt(pct(rtt, 99))}, max ${fmt(Math.max(...rtt))}`);
    const dead = await psql(db, `SELECT count(*) FROM daz.dead_letters`);
    console.log(`dead letters: ${dead}`);
} finally {
    await stop();
}

// Frames of the bot whose text starts with prefix, joined to their jobs' created_at.
async function collect(prefix, n, timeoutMs) {
    await srv.waitFor(
        () => srv.getFrames('bench', { event: 'chatMsg' }).filter((f) => f.user === 'DazBot' && f.args[0].msg.startsWith(prefix)).length >= n,
        timeoutMs,
        `${n} frames "${prefix}…"`,
    );
    await until(async () => Number(await psql(db, `SELECT count(*) FROM daz.job_results WHERE payload->>'text' LIKE '${prefix}%'`)) >= n, {
        timeoutMs,
        intervalMs: 200,
        label: `${n} jobs "${prefix}…" completed`,
    });
    const rows = (await psql(db, `SELECT payload->>'text', extract(epoch FROM created_at) * 1000 FROM daz.job_results WHERE payload->>'text' LIKE '${prefix}%'`))
        .split('\n')
        .map((l) => l.split('|'));
    const created = new Map(rows.map(([t, ms]) => [t, Number(ms)]));
    const lat = [];
    const frames = [];
    for (const f of srv.getFrames('bench', { event: 'chatMsg' })) {
        if (f.user !== 'DazBot' || !created.has(f.args[0].msg)) continue;
        lat.push(f.t - created.get(f.args[0].msg));
        frames.push(f.t);
        created.delete(f.args[0].msg); // first frame of each job only
    }
    const confirmed = await psql(db, `SELECT count(*) FILTER (WHERE result->>'confirmed' = 'true') || '/' || count(*) FROM daz.job_results WHERE payload->>'text' LIKE '${prefix}%'`);
    return { lat, frames, confirmed };
}

function report(name, r) {
    const span = (Math.max(...r.frames) - Math.min(...r.frames)) / 1000;
    console.log(`${name}: ${r.lat.length} jobs, enqueue → frame at the server p50 ${fmt(pct(r.lat, 50))}, p99 ${fmt(pct(r.lat, 99))}, ` +
        `max ${fmt(Math.max(...r.lat))}; ${Math.round(r.lat.length / span)} jobs/s over ${span.toFixed(2)} s; confirmed by echo ${r.confirmed}`);
}
