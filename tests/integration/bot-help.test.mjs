// bot-help.test.mjs — chat commands end to end: a user types !help in the fake CyTube room, dazd
// stores the line, the commands subscription routes it, daz.run_jobs (in dazd) runs the dispatch,
// and the reply goes back out through dazd's outbox as a chatMsg (or pm) frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { psql, scratchDb, fake, startDazd, joined, sent, until } from './lib/outbound.mjs';

const HELP = /^Commands: !8ball !about .* — !help <command> for details\.$/;

async function room(t) {
    const db = await scratchDb(t);
    const srv = await fake(t);
    srv.addUser('lobby', 'Alice', { rank: 1 });
    const dazd = await startDazd(t, { db, srv, rooms: [{ channel: 'lobby' }] });
    await joined(srv, 'lobby');
    // The bot answers only once it knows the room: its own login and the userlist are stored.
    await until(async () => (await psql(db, `SELECT count(*) FROM daz.users WHERE room = 'lobby' AND online`)) >= '2', {
        label: 'userlist stored',
    });
    return { db, srv, dazd };
}

test('!help typed in chat is answered in chat through dazd', async (t) => {
    const { db, srv, dazd } = await room(t);
    srv.say('lobby', 'Alice', '!help');
    const f = await srv.waitForFrame('lobby', (x) => x.event === 'chatMsg' && x.user === 'DazBot', 15000).catch((e) => {
        throw new Error(`${e.message}\n--- dazd log tail ---\n${dazd.log().slice(-3000)}`);
    });
    assert.match(f.args[0].msg, HELP);
    await until(async () => (await psql(db, `SELECT outcome FROM daz.command_log WHERE command = 'help'`)) === 'ok', {
        label: 'help logged ok',
    });
    const log = await psql(db, `SELECT username || '|' || via || '|' || invoked FROM daz.command_log`);
    assert.equal(log, 'Alice|chat|help');
});

test('!h by pm is answered by pm; !help seen describes one command', async (t) => {
    const { db, srv } = await room(t);
    await psql(db, `UPDATE daz.commands SET cooldown = '0' WHERE name = 'help'`);
    srv.pm('lobby', 'Alice', 'DazBot', '!h');
    const f = await srv.waitForFrame('lobby', (x) => x.event === 'pm' && x.user === 'DazBot', 15000);
    assert.equal(f.args[0].to, 'Alice');
    assert.match(f.args[0].msg, HELP);
    srv.say('lobby', 'Alice', '!help seen');
    await until(() => sent(srv, 'lobby', 'chatMsg').some((x) => x.args[0].msg.startsWith('!seen <user> — ')), {
        timeoutMs: 15000,
        label: '!help seen answered',
    });
    assert.equal(sent(srv, 'lobby', 'chatMsg').length, 1, 'one chat reply, the pm stayed private');
});
