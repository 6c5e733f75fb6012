#!/usr/bin/env python3
# gen.py — realistic CyTube event stream for the ingest benchmark: one SQL file of daz.ingest batches
# and one COPY file of the same rows.
#
#   gen.py OUTDIR [EVENTS] [BATCH]
#
# Mix (by count): ~70 % chatMsg (2 % of them commands, a few /me), ~15 % mediaUpdate (dropped by the
# seeded rule), ~8 % presence (addUser / userLeave / setAFK / setUserRank, a userlist snapshot on each
# join burst with 15 replayed history lines), ~3 % playlist and media (queue, delete, moveVideo,
# setTemp, setCurrent, changeMedia), the rest usercount / voteskip / drinkCount. Four rooms, 200
# names per room. received_at is spread over the last ~90 minutes (today's and yesterday's
# partitions), ids are UUIDv7-shaped and increase with received_at.
import json
import os
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone

out = sys.argv[1]
n_events = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
rnd = random.Random(4242)
rooms = ['lobby', 'movies', 'anime', 'music']
names = {r: ['%s_user%03d' % (r[:3], i) for i in range(200)] for r in rooms}
words = ('the of and to in is you that it he was for on are as with his they at be this have from or one had by '
         'word but not what all were we when your can said there use an each which she do how their if will up '
         'other about out many then them these so some her would make like him into time has look two more write '
         'go see number no way could people my than first water been call who oil its now find long down day did '
         'get come made may part lol nice song wow this one again skip please').split()
t0 = datetime.now(timezone.utc) - timedelta(minutes=90)
step_us = int(90 * 60 * 1_000_000 / n_events)
seq = 0


def uuid7(ts):
    ms = int(ts.timestamp() * 1000)
    r = rnd.getrandbits(74)
    v = (ms << 80) | (0x7 << 76) | ((r >> 62) << 64) | (0x2 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))


online = {r: set(rnd.sample(names[r], 40)) for r in rooms}
uid = {r: 0 for r in rooms}
plist = {r: [] for r in rooms}
history = {r: [] for r in rooms}
events = []


def emit(ts, room, typ, tags, actor, server_time, payload):
    events.append((uuid7(ts), ts, room, typ, ['room:' + room] + tags, actor, server_time, payload))


def media(i):
    return {'id': 'vid%05d' % i, 'title': 'Video number %d &amp; friends' % i, 'seconds': 180 + i % 300,
            'duration': '03:%02d' % (i % 60), 'type': ['yt', 'tw', 'vm'][i % 3], 'meta': {}}


while len(events) < n_events:
    seq += 1
    ts = t0 + timedelta(microseconds=seq * step_us)
    room = rooms[seq % 4] if rnd.random() < 0.7 else rnd.choice(rooms)
    x = rnd.random()
    ms = int(ts.timestamp() * 1000)
    if x < 0.70:
        who = rnd.choice(sorted(online[room])) if online[room] else names[room][0]
        k = rnd.random()
        if k < 0.02:
            msg, tags, meta = '!' + rnd.choice(['help', 'roll 1d20', 'seen %s' % rnd.choice(names[room]), 'uptime']), \
                ['chat', 'user-message', 'command'], {}
        elif k < 0.04:
            msg, tags, meta = 'waves', ['chat', 'user-message', 'action'], {'addClass': 'action', 'action': True}
        elif k < 0.06:
            msg, tags, meta = 'see <a href="https://example.com/x?a=%d&amp;b=2" target="_blank" rel="noopener noreferrer">' \
                'https://example.com/x?a=%d&amp;b=2</a>' % (seq, seq), ['chat', 'user-message'], {}
        else:
            msg = ' '.join(rnd.choice(words) for _ in range(rnd.randint(2, 14)))
            tags, meta = ['chat', 'user-message'], {}
        p = {'username': who, 'msg': msg, 'meta': meta, 'time': ms}
        emit(ts, room, 'chatMsg', tags, who, ts, p)
        history[room] = (history[room] + [(ts, who, p)])[-15:]
    elif x < 0.85:
        emit(ts, room, 'mediaUpdate', ['media', 'update'], None, None, {'currentTime': rnd.randint(0, 600), 'paused': False})
    elif x < 0.93:
        k = rnd.random()
        if k < 0.4:
            who = rnd.choice(names[room])
            if who in online[room]:
                online[room].discard(who)
                emit(ts, room, 'userLeave', ['user', 'presence'], who, None, {'name': who})
            else:
                online[room].add(who)
                emit(ts, room, 'addUser', ['user', 'presence'], who, None,
                     {'name': who, 'rank': rnd.choice([0, 0, 1, 1, 2]), 'profile': {'image': '', 'text': ''},
                      'meta': {'afk': False, 'muted': False}})
        elif k < 0.7 and online[room]:
            who = rnd.choice(sorted(online[room]))
            emit(ts, room, 'setAFK', ['user', 'presence'], who, None, {'name': who, 'afk': rnd.random() < 0.5})
        elif k < 0.8 and online[room]:
            who = rnd.choice(sorted(online[room]))
            emit(ts, room, 'setUserRank', ['user', 'presence'], who, None, {'name': who, 'rank': rnd.choice([1, 1.5, 2])})
        elif k < 0.802:
            # The bot rejoins: history replay (already stored), then a full userlist.
            for (hts, hwho, hp) in history[room]:
                emit(ts, room, 'chatMsg', ['chat', 'user-message', 'history'], hwho, hts, hp)
            emit(ts, room, 'userlist', ['user', 'presence'], None, None,
                 [{'name': u, 'rank': 0, 'profile': {'image': '', 'text': ''}, 'meta': {'afk': False, 'muted': False}}
                  for u in sorted(online[room])])
        else:
            emit(ts, room, 'usercount', ['user', 'presence'], None, None, len(online[room]))
    elif x < 0.95:
        k = rnd.random()
        if k < 0.35 or not plist[room]:
            u = uid[room]
            uid[room] += 1
            after = plist[room][-1] if plist[room] else 'prepend'
            plist[room].append(u)
            emit(ts, room, 'queue', ['media', 'queue'], None, None,
                 {'item': {'media': media(u), 'uid': u, 'temp': True, 'queueby': rnd.choice(names[room])}, 'after': after})
        elif k < 0.5 and len(plist[room]) > 3:
            u = plist[room].pop(0)
            emit(ts, room, 'delete', ['media', 'queue'], None, None, {'uid': u})
        elif k < 0.6 and len(plist[room]) > 3:
            u = plist[room].pop()
            plist[room].insert(1, u)
            emit(ts, room, 'moveVideo', ['media', 'queue'], None, None, {'from': u, 'after': plist[room][0]})
        elif k < 0.65:
            emit(ts, room, 'setTemp', ['media', 'queue'], None, None, {'uid': rnd.choice(plist[room]), 'temp': False})
        else:
            u = rnd.choice(plist[room])
            emit(ts, room, 'setCurrent', ['media', 'change'], None, None, u)
            m = media(u)
            m.update({'currentTime': -3, 'paused': True})
            emit(ts, room, 'changeMedia', ['media', 'change'], None, None, m)
    else:
        k = rnd.random()
        if k < 0.5:
            emit(ts, room, 'voteskip', ['unknown'], None, None, {'count': rnd.randint(0, 3), 'need': 4})
        else:
            emit(ts, room, 'drinkCount', ['unknown'], None, None, 0)

events = events[:n_events]


def comp_field(v):
    if v is None:
        return ''
    return '"' + v.replace('\\', '\\\\').replace('"', '\\"') + '"'


def arr_lit(tags):
    return '{' + ','.join('"' + t + '"' for t in tags) + '}'


def copy_field(v):
    if v is None:
        return '\\N'
    return v.replace('\\', '\\\\').replace('\t', '\\t').replace('\n', '\\n').replace('\r', '\\r')


os.makedirs(out, exist_ok=True)
def us(ts):
    return str(int(ts.timestamp()) * 1_000_000 + ts.microsecond)


with open(os.path.join(out, 'feed.tsv'), 'w') as f_feed:
    # For feed.c: id, received_at and server_time in µs since the epoch, tags comma-separated, payload JSON.
    for (i, ts, room, typ, tags, actor, st, payload) in events:
        f_feed.write('\t'.join([i, us(ts), room, typ, ','.join(tags), actor or '', us(st) if st else '',
                                json.dumps(payload, separators=(',', ':'))]) + '\n')
with open(os.path.join(out, 'ingest.sql'), 'w') as f_sql, open(os.path.join(out, 'events.tsv'), 'w') as f_copy:
    for b in range(0, len(events), batch):
        elems = []
        for (i, ts, room, typ, tags, actor, st, payload) in events[b:b + batch]:
            fields = [i, ts.isoformat(), room, typ, arr_lit(tags), actor, st.isoformat() if st else None,
                      json.dumps(payload, separators=(',', ':'))]
            comp = '(' + ','.join(comp_field(x) for x in fields) + ')'
            elems.append('"' + comp.replace('\\', '\\\\').replace('"', '\\"') + '"')
            f_copy.write('\t'.join(copy_field(x) for x in fields) + '\n')
        lit = '{' + ','.join(elems) + '}'
        f_sql.write("SELECT daz.ingest('" + lit.replace("'", "''") + "'::daz.event_in[]);\n")
print('%d events, %d batches of %d' % (len(events), (len(events) + batch - 1) // batch, batch))
