// dazd.mjs — shared helpers for the dazd integration tests: scratch databases, throwaway
// clusters, the fake CyTube server, a dazd process with a generated config, bounded waits.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { startFakeCytube } from '../../fake-cytube/server.mjs';

const run = promisify(execFile);
export const root = process.env.DAZ_ROOT ?? path.resolve(import.meta.dirname, '../../..');
export const dazdBin = process.env.DAZD ?? path.join(root, 'dazd');
const tmpBase = process.env.DAZ_TMP ?? tmpdir();

/** Poll check() (sync or async) until it returns a truthy value; fail after timeoutMs. */
export async function waitFor(check, timeoutMs = 10000, label = 'condition', intervalMs = 50) {
    const end = Date.now() + timeoutMs;
    let last;
    for (;;) {
        try {
            last = await check();
            if (last) return last;
        } catch (e) {
            last = e;
        }
        if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label} (last: ${last})`);
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

/** A private temp directory, removed after the test. */
export async function tempDir(t, prefix = 'dazd-') {
    const dir = await mkdtemp(path.join(tmpBase, prefix));
    await chmod(dir, 0o755);
    t.after(() => rm(dir, { recursive: true, force: true }));
    return dir;
}

/** Run one SQL statement with psql; rows as text lines ("|" between columns). */
export async function psql(db, sql, env = {}) {
    const { stdout } = await run('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql], {
        env: { ...process.env, ...env },
        maxBuffer: 64 * 1024 * 1024,
    });
    return stdout.replace(/\n$/, '');
}

/** A fresh database cloned from the migrated template ($PGDATABASE), dropped after the test. */
export async function scratchDb(t) {
    const template = process.env.PGDATABASE;
    const db = `dazd_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
    await psql('postgres', `CREATE DATABASE ${db} TEMPLATE ${template}`);
    t.after(() => psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {}));
    return db;
}

/** conninfo for a database on the harness cluster. */
export function conninfo(db, env = process.env) {
    return `host=${env.PGHOST} port=${env.PGPORT} user=${env.PGUSER} dbname=${db} application_name=dazd`;
}

/**
 * A dedicated throwaway cluster (for tests that stop PostgreSQL), migrated. Destroyed after the
 * test. Returns {dir, env, conninfo, stop(), start()}.
 */
export async function startCluster(t) {
    const dir = await tempDir(t, 'dazd-pg-');
    const pg = path.join(root, 'scripts/pg');
    await run(pg, ['start', dir, '--ephemeral']);
    t.after(() => run(pg, ['destroy', dir]).catch(() => {}));
    const { stdout } = await run(pg, ['env', dir]);
    const env = {};
    for (const m of stdout.matchAll(/export (\w+)=['"]?([^'"\n]*)['"]?/g)) env[m[1]] = m[2];
    await run(path.join(root, 'scripts/migrate'), [], { env: { ...process.env, ...env } });
    return {
        dir,
        env,
        conninfo: `host=127.0.0.1 port=${env.PGPORT} user=${env.PGUSER} dbname=${env.PGDATABASE} connect_timeout=2`,
        sql: (q) => psql(env.PGDATABASE, q, env),
        stop: () => run(pg, ['stop', dir]),
        start: () => run(pg, ['start', dir]),
    };
}

/** The fake CyTube server, closed after the test. */
export async function fakeCytube(t, opts = {}) {
    const fake = await startFakeCytube(opts);
    t.after(() => fake.close());
    return fake;
}

/** A dazd config with sensible test defaults; rooms: [{channel, site, username, ...}]. */
export function makeConfig({ conninfo: ci, rooms, httpPort, spoolDir, ...rest }) {
    return {
        database: { conninfo: ci },
        http: { listen: httpPort ? `127.0.0.1:${httpPort}` : 'off' },
        spool: { dir: spoolDir, max_bytes: 64 * 1024 * 1024 },
        ingest: { batch_max: 500, flush_ms: 20, buffer_max: 5000 },
        log: { level: 'debug', format: 'text' },
        ...rest,
        rooms,
    };
}

/**
 * Start dazd with config (an object, written to dir/dazd.json). Returns a handle:
 * {proc, logs (array of lines), waitLog(re, ms), stop(signal) → exit code, http(path), configPath}.
 * Killed after the test if still running.
 */
export async function startDazd(t, dir, config, { args = [], env = {} } = {}) {
    const configPath = path.join(dir, 'dazd.json');
    await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
    const proc = spawn(dazdBin, ['-c', configPath, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs = [];
    let buf = '';
    const onData = (d) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
            logs.push(buf.slice(0, i));
            buf = buf.slice(i + 1);
        }
    };
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    t.after(async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill('SIGKILL');
            await exited;
        }
        if (process.env.DAZD_TEST_LOGS) console.error(logs.join('\n'));
    });
    const h = {
        proc,
        logs,
        configPath,
        exited,
        async writeConfig(c) {
            await writeFile(configPath, JSON.stringify(c, null, 2), { mode: 0o600 });
        },
        waitLog(re, ms = 10000) {
            return waitFor(() => logs.find((l) => re.test(l)), ms, `log line ${re}`);
        },
        async stop(signal = 'SIGTERM', ms = 20000) {
            proc.kill(signal);
            let timer;
            const r = await Promise.race([
                exited,
                new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('dazd did not exit')), ms))),
            ]);
            clearTimeout(timer);
            return r;
        },
        async http(p) {
            const port = config.http.listen.split(':').pop();
            const res = await fetch(`http://127.0.0.1:${port}${p}`);
            return { status: res.status, text: await res.text() };
        },
    };
    return h;
}

/** Run dazd synchronously with args; {code, stdout, stderr}. */
export async function runDazd(args, env = {}) {
    try {
        const { stdout, stderr } = await run(dazdBin, args, { env: { ...process.env, ...env } });
        return { code: 0, stdout, stderr };
    } catch (e) {
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
}

/** Parse Prometheus text into {"name{labels}": value}. */
export function parseMetrics(text) {
    const out = {};
    for (const line of text.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const i = line.lastIndexOf(' ');
        out[line.slice(0, i)] = Number(line.slice(i + 1));
    }
    return out;
}

/** Sum of every series of a metric whose labels include all of `want` (e.g. {room: "r1"}). */
export function metricSum(parsed, name, want = {}) {
    let s = 0;
    for (const [k, v] of Object.entries(parsed)) {
        if (!(k === name || k.startsWith(name + '{'))) continue;
        if (Object.entries(want).every(([lk, lv]) => k.includes(`${lk}="${lv}"`))) s += v;
    }
    return s;
}
