// migrate.test.mjs — scripts/migrate: refuses edited migrations, serialises concurrent runs,
// reports status. Each test works on its own scratch database and copy of sql/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cp, appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const run = promisify(execFile);
const root = process.env.DAZ_ROOT ?? path.resolve(import.meta.dirname, '../..');
const migrate = path.join(root, 'scripts/migrate');

async function psql(db, sql) {
    const { stdout } = await run('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql]);
    return stdout.trim();
}

// A fresh empty database and a private copy of sql/, removed after the test.
async function scratch(t) {
    const db = `migrate_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
    await psql('postgres', `CREATE DATABASE ${db}`);
    const dir = await mkdtemp(path.join(tmpdir(), 'daz-sql-'));
    await cp(path.join(root, 'sql'), dir, { recursive: true });
    t.after(async () => {
        await psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        await rm(dir, { recursive: true, force: true });
    });
    return { db, dir, env: { ...process.env, PGDATABASE: db } };
}

function migrateIn(s, ...args) {
    return run(migrate, ['--dir', s.dir, ...args], { env: s.env });
}

test('migrate applies every migration once and records its checksum', async (t) => {
    const s = await scratch(t);
    await migrateIn(s);
    await migrateIn(s);
    const rows = await psql(s.db, 'SELECT version, count(*) FROM daz.schema_migrations GROUP BY 1 HAVING count(*) > 1');
    assert.equal(rows, '', 'no migration recorded twice');
    const n = await psql(s.db, "SELECT count(*) FROM daz.schema_migrations WHERE checksum ~ '^[0-9a-f]{64}$'");
    assert.ok(Number(n) >= 1);
});

test('migrate refuses to run when an applied migration was edited, naming the file', async (t) => {
    const s = await scratch(t);
    await migrateIn(s);
    await appendFile(path.join(s.dir, 'migrations/0001_foundation.sql'), '\n-- edited after apply\n');
    await assert.rejects(migrateIn(s), (err) => {
        assert.notEqual(err.code, 0);
        assert.match(err.stderr, /0001_foundation\.sql changed after it was applied/);
        return true;
    });
    const status = await migrateIn(s, '--status');
    assert.match(status.stdout, /0001\s*\|\s*foundation\s*\|\s*CHANGED after apply/);
});

test('two concurrent migrate runs leave exactly one row per migration', async (t) => {
    const s = await scratch(t);
    const results = await Promise.allSettled([migrateIn(s), migrateIn(s), migrateIn(s)]);
    for (const r of results) assert.equal(r.status, 'fulfilled', r.reason?.stderr);
    const files = Number(await psql(s.db, 'SELECT count(*) FROM daz.schema_migrations'));
    const distinct = Number(await psql(s.db, 'SELECT count(DISTINCT version) FROM daz.schema_migrations'));
    assert.equal(files, distinct);
    assert.ok(files >= 1);
});

test('migrate --status lists pending migrations before the first run', async (t) => {
    const s = await scratch(t);
    const { stdout } = await migrateIn(s, '--status');
    assert.match(stdout, /0001\s*\|\s*foundation\s*\|\s*pending/);
    await migrateIn(s);
    const after = await migrateIn(s, '--status');
    assert.match(after.stdout, /0001\s*\|\s*foundation\s*\|\s*applied/);
});

test('migrate stops at a failing migration and records nothing for it', async (t) => {
    const s = await scratch(t);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(s.dir, 'migrations/9999_broken.sql'), 'CREATE TABLE daz.ok_part (x int);\nSELECT no_such_function();\n');
    await assert.rejects(migrateIn(s), (err) => {
        assert.match(err.stderr, /9999_broken\.sql/);
        return true;
    });
    assert.equal(await psql(s.db, "SELECT count(*) FROM daz.schema_migrations WHERE version = '9999'"), '0');
    assert.equal(await psql(s.db, "SELECT to_regclass('daz.ok_part') IS NULL"), 't', 'the failed migration rolled back whole');
});

test('migrate reports an unknown argument with exit code 2', async () => {
    await assert.rejects(run(migrate, ['--bogus']), (err) => {
        assert.equal(err.code, 2);
        assert.match(err.stderr, /unknown argument '--bogus'/);
        return true;
    });
});
