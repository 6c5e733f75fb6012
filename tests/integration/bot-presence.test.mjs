// bot-presence.test.mjs — the bot's reactions to people coming and going and to the playlist, end to
// end through dazd and the fake CyTube server: a tell delivered on a real join (not on the userlist
// of the bot's own join), the greeter, and a queueFail reported to whoever ran !playlistadd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { psql, scratchDb, fake, startDazd, joined, sent, until } from './lib/outbound.mjs';

async function room(t, { before = null, users = [['Alice', 1]], channels = undefined } = {}) {
    const db = await scratchDb(t);
    if (before) await psql(db, before);
    const srv = await fake(t, channels);
    for (const [name, rank] of users) srv.addUser('lobby', name, { rank });
    const dazd = await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    await until(async () => Number(await psql(db, `SELECT count(*) FROM daz.users WHERE room = 'lobby' AND online`)) > users.length, {
        label: 'userlist stored',
    });
    const said = () => sent(srv, 'lobby', 'chatMsg').map((f) => f.args[0].msg);
    const waitSaid = (re, label) =>
        until(() => said().find((m) => re.test(m)), { timeoutMs: 15000, label }).catch((e) => {
            throw new Error(`${e.message}; bot said ${JSON.stringify(said())}\n${dazd.log().slice(-2000)}`);
        });
    return { db, srv, dazd, said, waitSaid };
}

test('!tell is delivered when the user joins, not when the bot finds them in the userlist', async (t) => {
    // Carol has a tell waiting and is already in the room when the bot joins: the userlist of the
    // bot's own join is not her joining.
    const { db, srv, said, waitSaid } = await room(t, {
        users: [['Alice', 1], ['Carol', 0]],
        before: `INSERT INTO daz.tells (room, sender, recipient, message, via) VALUES ('lobby', 'Alice', 'Carol', 'old news', 'chat')`,
    });
    srv.say('lobby', 'Alice', '!tell Bob "the meeting" moved to 8');
    await waitSaid(/^I will tell Bob when they next join/, 'tell confirmed');
    srv.addUser('lobby', 'Bob', { rank: 0 });
    await waitSaid(/^Bob, Alice asked me to tell you \(\d+s ago\): "the meeting" moved to 8$/, 'tell delivered');
    assert.equal(await psql(db, `SELECT count(*) FROM daz.tells WHERE recipient = 'Bob' AND delivered_at IS NOT NULL`), '1');
    assert.ok(!said().some((m) => m.includes('old news')), 'nothing delivered to Carol from the userlist');
    srv.removeUser('lobby', 'Carol');
    srv.addUser('lobby', 'Carol', { rank: 0 });
    await waitSaid(/^Carol, Alice asked me to tell you .*: old news$/, 'delivered on her real join');
});

test('the greeter greets a joining user once, never the userlist nor the bot itself', async (t) => {
    const { db, srv, said, waitSaid } = await room(t, {
        users: [['Alice', 1], ['Dave', 0]],
        before: `INSERT INTO daz.greeter (room, enabled) VALUES ('lobby', true);
                 UPDATE daz.settings SET value = '0 seconds' WHERE key = 'greeter_delay'`,
    });
    srv.addUser('lobby', 'Carol', { rank: 0 });
    await waitSaid(/^Welcome, Carol!$/, 'Carol greeted');
    srv.removeUser('lobby', 'Carol');
    srv.addUser('lobby', 'Carol', { rank: 0 });
    srv.say('lobby', 'Alice', '!ping');
    await waitSaid(/^pong/, 'a later reply');
    assert.deepEqual(said().filter((m) => m.startsWith('Welcome')), ['Welcome, Carol!'], 'one greeting: not Dave, not DazBot, not Carol twice');
    assert.equal(await psql(db, `SELECT count(*) FROM daz.greetings`), '1');
});

test('!playlistadd emits queue with the inferred type; the queueFail goes back to the user', async (t) => {
    const { srv, waitSaid } = await room(t, {
        users: [['Boss', 2]],
        before: `INSERT INTO daz.admins (name) VALUES ('Boss')`,
    });
    srv.say('lobby', 'Boss', '!playlistadd https://www.youtube.com/watch?v=dQw4w9WgXcQ');
    const f = await srv.waitForFrame('lobby', (x) => x.event === 'queue' && x.user === 'DazBot', 15000);
    assert.deepEqual(f.args[0], { id: 'dQw4w9WgXcQ', type: 'yt', pos: 'end', temp: true });
    await waitSaid(/^Boss, CyTube could not queue https:\/\/www\.youtube\.com\/watch\?v=dQw4w9WgXcQ: .+/, 'queueFail reported');
});

test('user text that a long reply brings to the start of a part cannot make the bot run /kick', async (t) => {
    // The bot is a moderator in a registered channel, where /kick works. A tell whose delivery is
    // longer than 320 characters, built so that "/kick Alice" starts the second part.
    const { srv, said, waitSaid } = await room(t, {
        channels: { lobby: { registered: true, ranks: { DazBot: 2 } } },
        users: [['Alice', 1], ['Mallory', 0]],
    });
    await until(() => srv.state('lobby').users.some((u) => u.name === 'DazBot' && u.rank === 2), { label: 'bot is moderator' });
    srv.say('lobby', 'Mallory', `!tell Bob ${'x'.repeat(275)} /kick Alice`);
    await waitSaid(/^I will tell Bob when they next join/, 'tell confirmed');
    srv.addUser('lobby', 'Bob', { rank: 0 });
    await waitSaid(/\/kick Alice$/, 'tell delivered');
    assert.ok(!said().some((m) => m.startsWith('/')), `no bot line starts with /: ${JSON.stringify(said())}`);
    assert.ok(said().includes('\u200b/kick Alice'), 'the second part is defused');
    assert.ok(srv.state('lobby').users.some((u) => u.name === 'Alice'), 'Alice was not kicked');
});
