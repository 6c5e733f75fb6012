// server.mjs — CyTube-compatible fake server for tests and the demo: HTTP socketconfig, socket.io 4.5, control API.
//
// Section numbers (§n) refer to /work/shared/cytube-protocol.md, "capture NN" to
// shared/fixtures/cytube/NN-*.jsonl. docs/fake-cytube.md documents the API.

import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { Server } from 'socket.io';
import { Channel, Member } from './channel.mjs';
import { USER_NAME_RE, CHANNEL_NAME_RE, RESERVED_NAMES, LOGIN_ERRORS, formatDuration, processChatText } from './text.mjs';

const DEFAULTS = {
    port: 0,
    host: '127.0.0.1',
    publicHost: null, // host written into socketconfig URLs; defaults to `host`
    tls: null, // {cert, key}: file paths or PEM strings
    channels: {}, // name -> channel config (see Channel)
    accounts: {}, // name -> {password, rank} or a password string
    media: {}, // "type:id" -> {title, seconds}: media the fake can resolve besides "tw"
    pingInterval: 25000, // §2: CyTube's engine.io settings
    pingTimeout: 120000,
    maxPayload: 1048576, // capture 01: maxPayload 1048576
    usercountIntervalMs: 10000, // §5: usercount at most every 10 s
    mediaTickMs: 5000, // §5: mediaUpdate every 5 s
    mediaLeadInMs: 3000, // capture 05: playback starts 3 s after changeMedia (currentTime -3)
    playbackSpeed: 1, // media seconds per real second (tests speed playback up)
    channelLoadDelayMs: 0, // >0: an empty channel "loads" this long before the first burst
    chatMaxLength: 320,
    guestLoginDelayMs: 0, // §3: CyTube's default is 60000 (one guest login per IP per 60 s); the captures had it off
    maxFrames: 200000, // recorded client frames kept (oldest dropped)
    webPort: null, // a number (0 = any free port) serves socketconfig from a separate web server
    controlPort: null, // a number starts the HTTP control API on loopback (0 = any free port)
    controlHost: '127.0.0.1',
    demo: false,
};

// §4: events that get the sender kicked when they lack the rank ("kick on sight").
const PRIVILEGED = {
    setOptions: 2,
    setPermissions: 3,
    setMotd: 3,
    setChannelCSS: 3,
    setChannelJS: 3,
    assignLeader: 2,
    readChanLog: 3,
    initACP: 2,
};

const YT_NO_KEY =
    'The YouTube API now requires an API key.  Please see the documentation for youtube-v3-key in config.template.yaml';

function pem(x) {
    if (x == null) return x;
    const s = String(x);
    return s.includes('-----BEGIN') ? s : fs.readFileSync(s);
}

/** Start a fake CyTube server. Resolves when it listens. See docs/fake-cytube.md. */
export async function startFakeCytube(options = {}) {
    const srv = new FakeCytube(options);
    await srv.start();
    return srv;
}

export class FakeCytube extends EventEmitter {
    constructor(options = {}) {
        super();
        this.setMaxListeners(0);
        this.opts = { ...DEFAULTS, ...options };
        this.opts.publicHost ??= this.opts.host;
        this.channels = new Map();
        this.accounts = new Map();
        for (const [name, a] of Object.entries(this.opts.accounts)) {
            const acc = typeof a === 'string' ? { password: a } : a;
            this.registerAccount(name, acc.password, { rank: acc.rank });
        }
        for (const [name, cfg] of Object.entries(this.opts.channels)) this.channels.set(name, new Channel(this, name, cfg));
        this.conns = new Map(); // engine.io id -> connection record
        this.frames = [];
        this.frameSeq = 0;
        this.floods = new Set();
        this.timers = new Set(); // control-API timers, cleared by close()
        this.closed = false;
    }

    // ---- life cycle --------------------------------------------------------------------------------

    async start() {
        const handler = (req, res) => this.onHttp(req, res);
        this.httpServer = this.opts.tls
            ? https.createServer({ cert: pem(this.opts.tls.cert), key: pem(this.opts.tls.key) }, handler)
            : http.createServer(handler);
        // §2 / issue: socket.io 4.5.4 with CyTube's settings
        this.io = new Server(this.httpServer, {
            allowEIO3: true,
            pingInterval: this.opts.pingInterval,
            pingTimeout: this.opts.pingTimeout,
            maxHttpBufferSize: this.opts.maxPayload,
            serveClient: false,
        });
        // every TCP socket, so close() can end them all (also TLS handshakes that never completed)
        this.sockets = new Set();
        this.httpServer.on('connection', (sock) => {
            this.sockets.add(sock);
            sock.once('close', () => this.sockets.delete(sock));
        });
        this.io.engine.on('connection', (conn) => this.onEngineConnection(conn));
        // §2: "Refused at connect: 44{"message":"Rate limit exceeded"}" (see refuseConnections)
        this.refuseCount = 0;
        this.lastGuestLogin = new Map(); // ip -> time of the last guest login (guestLoginDelayMs)
        this.io.use((socket, next) => {
            if (this.refuseCount > 0) {
                this.refuseCount--;
                next(new Error('Rate limit exceeded'));
            } else next();
        });
        this.io.on('connection', (socket) => this.onSocket(socket));
        await new Promise((resolve, reject) => {
            this.httpServer.once('error', reject);
            this.httpServer.listen(this.opts.port, this.opts.host, () => {
                this.httpServer.off('error', reject);
                resolve();
            });
        });
        this.port = this.httpServer.address().port;
        const h = this.opts.publicHost.includes(':') ? `[${this.opts.publicHost}]` : this.opts.publicHost;
        this.url = `${this.opts.tls ? 'https' : 'http'}://${h}:${this.port}`;
        this.siteUrl = this.url;
        if (this.opts.webPort !== null && this.opts.webPort !== undefined) {
            // capture 09: CyTube serves socketconfig from its web port and names a different
            // socket.io port; a client must follow the URL it is given.
            this.webServer = this.opts.tls
                ? https.createServer({ cert: pem(this.opts.tls.cert), key: pem(this.opts.tls.key) }, handler)
                : http.createServer(handler);
            this.webServer.on('connection', (sock) => {
                this.sockets.add(sock);
                sock.once('close', () => this.sockets.delete(sock));
            });
            await new Promise((resolve, reject) => {
                this.webServer.once('error', reject);
                this.webServer.listen(this.opts.webPort, this.opts.host, resolve);
            });
            this.webPort = this.webServer.address().port;
            this.siteUrl = `${this.opts.tls ? 'https' : 'http'}://${h}:${this.webPort}`;
        }
        if (this.opts.controlPort !== null && this.opts.controlPort !== undefined) {
            const { startControlServer } = await import('./control.mjs');
            this.control = await startControlServer(this, { port: this.opts.controlPort, host: this.opts.controlHost });
            this.controlUrl = this.control.url;
        }
        if (this.opts.demo) {
            const { startDemo } = await import('./demo.mjs');
            this.demo = startDemo(this, this.opts.demo === true ? {} : this.opts.demo);
        }
        return this;
    }

    /** Stop everything: timers, sockets (without waiting for close handshakes), HTTP servers. */
    async close() {
        if (this.closed) return;
        this.closed = true;
        this.demo?.stop();
        for (const f of this.floods) f.stop();
        for (const timer of this.timers) clearTimeout(timer);
        for (const ch of this.channels.values()) ch.close();
        for (const rec of this.conns.values()) rec.ws?._socket?.destroy();
        for (const sock of this.sockets) sock.destroy();
        await this.control?.close();
        if (this.webServer) await new Promise((resolve) => this.webServer.close(() => resolve()));
        await new Promise((resolve) => {
            this.io.close(() => resolve());
            this.httpServer.closeAllConnections?.();
        });
    }

    changed() {
        this.emit('change');
    }

    // ---- HTTP: §1 socketconfig ---------------------------------------------------------------------

    socketConfigEntry() {
        return { url: this.url, secure: !!this.opts.tls };
    }

    onHttp(req, res) {
        const url = new URL(req.url, 'http://x');
        const m = /^\/socketconfig\/(.+)\.json$/.exec(url.pathname);
        if (!m) {
            res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
            res.end('Not Found');
            return;
        }
        const name = decodeURIComponent(m[1]);
        let status = 200;
        let body;
        if (!CHANNEL_NAME_RE.test(name)) {
            status = 404; // capture 09
            body = { error: `Channel "${name}" does not exist.` };
        } else {
            // §1: the name is not checked for existence; a channel may be pointed elsewhere (partitions)
            body = { servers: this.channels.get(name)?.socketConfig ?? this.socketConfigOverride?.[name] ?? [this.socketConfigEntry()] };
        }
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
    }

    // ---- connections and recording -----------------------------------------------------------------

    onEngineConnection(conn) {
        const rec = {
            id: conn.id,
            conn,
            ws: conn.transport?.socket ?? null, // the `ws` WebSocket under the engine.io transport
            member: null,
            channelName: null,
            frozen: false,
            openedAt: Date.now(),
        };
        this.conns.set(conn.id, rec);
        // Record every frame the client sends, before engine.io processes it.
        const attach = (ws) => ws?.prependListener('message', (data, isBinary) => this.record(rec, data, isBinary));
        attach(rec.ws);
        // A client that starts with HTTP long-polling (socket.io-client's default) upgrades later;
        // its polling packets are recorded as the frames they would have been.
        conn.on('packet', (p) => {
            if (conn.transport.name !== 'polling') return;
            const code = { open: 0, close: 1, ping: 2, pong: 3, message: 4, upgrade: 5, noop: 6 }[p.type] ?? '?';
            const binary = Buffer.isBuffer(p.data);
            this.record(rec, binary ? p.data : `${code}${p.data ?? ''}`, binary);
        });
        conn.on('upgrade', (transport) => {
            rec.ws = transport.socket ?? null;
            attach(rec.ws);
        });
        conn.on('close', (reason) => {
            rec.closed = true;
            rec.closeReason = reason;
            this.conns.delete(conn.id);
            this.changed();
        });
        this.changed();
    }

    record(rec, data, isBinary) {
        const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
        const f = {
            seq: ++this.frameSeq,
            t: performance.timeOrigin + performance.now(),
            sid: rec.id,
            channel: rec.channelName,
            user: rec.member?.name ?? null,
            binary: !!isBinary,
            frame: isBinary ? buf.toString('base64') : buf.toString('utf8'),
            size: buf.length,
            event: null,
            args: null,
        };
        if (!isBinary) {
            const m = /^42(\d*)(\[[\s\S]*\])$/.exec(f.frame);
            if (m) {
                try {
                    const arr = JSON.parse(m[2]);
                    if (Array.isArray(arr) && typeof arr[0] === 'string') {
                        f.event = arr[0];
                        f.args = arr.slice(1);
                    }
                } catch {
                    /* a malformed frame is recorded as text only */
                }
            }
        }
        this.frames.push(f);
        // trim in chunks so a long flood does not shift the array on every frame
        if (this.frames.length > this.opts.maxFrames * 1.1) this.frames.splice(0, this.frames.length - this.opts.maxFrames);
        this.changed();
    }

    /** Frames the clients sent in a channel (all channels with ch = null or '*'). */
    getFrames(ch = null, { since = 0, sid = null, event = null } = {}) {
        return this.frames.filter(
            (f) =>
                (ch === null || ch === '*' || f.channel === ch) &&
                f.t >= since &&
                (sid === null || f.sid === sid) &&
                (event === null || f.event === event),
        );
    }

    clearFrames() {
        this.frames = [];
    }

    /**
      * Resolve with the first recorded frame of channel ch for which pred(frame) is true
      * (pred may also be an event name). Frames recorded before the call count unless since is given.
      */
    waitForFrame(ch, pred, timeoutMs = 5000, { since = 0 } = {}) {
        const test = typeof pred === 'string' ? (f) => f.event === pred : pred;
        let next = 0; // index into this.frames already examined
        let firstSeq = 0;
        return this.waitFor(
            () => {
                if (next > 0 && (this.frames[next - 1]?.seq ?? 0) !== firstSeq) next = 0; // array was trimmed
                for (; next < this.frames.length; next++) {
                    const f = this.frames[next];
                    if ((ch === null || ch === '*' || f.channel === ch) && f.t >= since && test(f)) return f;
                }
                firstSeq = this.frames[next - 1]?.seq ?? 0;
                return null;
            },
            timeoutMs,
            `a frame in ${ch} matching ${typeof pred === 'string' ? pred : pred.toString().slice(0, 80)}`,
        );
    }

    /** Resolve with check()'s first truthy value, re-checked on every change; reject after timeoutMs. */
    waitFor(check, timeoutMs = 5000, label = 'a condition') {
        return new Promise((resolve, reject) => {
            let timer = null;
            const cleanup = () => {
                clearTimeout(timer);
                clearInterval(poll);
                this.off('change', test);
            };
            const test = () => {
                let v;
                try {
                    v = check();
                } catch (e) {
                    cleanup();
                    reject(e);
                    return;
                }
                if (v) {
                    cleanup();
                    resolve(v);
                }
            };
            const poll = setInterval(test, 50); // conditions on time (e.g. playback) change without events
            timer = setTimeout(() => {
                cleanup();
                reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`));
            }, timeoutMs);
            this.on('change', test);
            test();
        });
    }

    // ---- socket.io events (§3, §4) -----------------------------------------------------------------

    onSocket(socket) {
        const rec = this.conns.get(socket.conn.id);
        const member = new Member({ socket, conn: rec });
        if (rec) rec.member = member;
        // §3: rank -1 arrives on connect, before joinChannel (captures 06, 07)
        socket.emit('rank', -1);
        const on = (event, fn) =>
            socket.on(event, (...args) => {
                if (!this.closed) fn(...args);
            });
        on('joinChannel', (data) => this.onJoinChannel(member, rec, data));
        on('channelPassword', (pw) => member.channel?.channelPassword(member, pw));
        on('login', (data) => this.onLogin(member, data));
        on('chatMsg', (data) => member.joined && member.channel.chatMsg(member, data));
        on('pm', (data) => member.joined && member.channel.pm(member, data));
        on('queue', (data) => member.joined && member.channel.queue(member, data));
        on('delete', (uid) => member.joined && member.channel.deleteItem(member, uid));
        on('moveMedia', (data) => member.joined && member.channel.moveMedia(member, data));
        on('jumpTo', (uid) => member.joined && member.channel.jumpTo(member, uid));
        on('playNext', () => member.joined && member.channel.playNext(member));
        on('setTemp', (data) => member.joined && member.channel.setTemp(member, data));
        on('requestPlaylist', () => {
            // §4: once per 60 s
            if (!member.joined) return;
            const now = performance.now();
            if (member.lastPlaylistRequest && now - member.lastPlaylistRequest < 60000) return;
            member.lastPlaylistRequest = now;
            member.emit('playlist', member.channel.playlistPayload());
        });
        for (const [event, rank] of Object.entries(PRIVILEGED)) {
            on(event, (data) => this.onPrivileged(member, event, rank, data));
        }
        socket.on('disconnect', () => {
            member.channel?.leave(member);
            this.changed();
        });
        this.changed();
    }

    onJoinChannel(member, rec, data) {
        if (member.channel || member.joining) return; // §3: once per socket
        if (!data || typeof data !== 'object' || typeof data.name !== 'string') return;
        // CyTube looks the channel up asynchronously: a login failing its syntax checks is answered
        // before the burst (capture 08: BadChars, ReservedName), a login needing the database after it.
        member.joining = true;
        setImmediate(() => {
            if (!this.closed && member.socket.connected) this.joinNow(member, rec, data);
        });
    }

    joinNow(member, rec, data) {
        if (!CHANNEL_NAME_RE.test(data.name)) {
            member.emit('errorMsg', { msg: 'Invalid channel name.  Channel names may consist of 1-30 characters in the set a-z, A-Z, 0-9, -, and _' });
            return;
        }
        const ch = this.channel(data.name);
        if (rec) {
            rec.channelName = ch.name;
            // attribute this connection's earlier frames (40, joinChannel, login...) to the channel
            for (const f of this.frames) if (f.sid === rec.id && f.channel === null) f.channel = ch.name;
        }
        ch.join(member);
    }

    /** §3 login: guest (no pw) or account (pw); failures leave the socket a watcher (capture 08). */
    onLogin(member, data) {
        if (member.loggedIn) return;
        if (!data || typeof data !== 'object' || typeof data.name !== 'string') return;
        const fail = (error) => member.emit('login', { success: false, error });
        const isGuest = !(typeof data.pw === 'string' && data.pw !== '');
        // syntax checks answer at once; everything else waits for the "database" (capture 08 order)
        if (isGuest && !USER_NAME_RE.test(data.name)) return fail(LOGIN_ERRORS.invalid);
        if (isGuest && RESERVED_NAMES.has(data.name.toLowerCase())) return fail(LOGIN_ERRORS.reserved);
        setImmediate(() => {
            if (!this.closed && member.socket.connected && !member.loggedIn) this.loginNow(member, data, fail);
        });
    }

    loginNow(member, data, fail) {
        const ch = member.channel;
        if (typeof data.pw === 'string' && data.pw !== '') {
            const acc = this.accounts.get(data.name.toLowerCase());
            if (!acc) return fail(LOGIN_ERRORS.noSuchUser);
            if (acc.password !== data.pw) return fail(LOGIN_ERRORS.badPassword);
            member.name = acc.name;
            member.globalRank = acc.rank;
            member.rank = acc.rank;
            member.guest = false;
        } else {
            const name = data.name;
            if (this.accounts.has(name.toLowerCase())) return fail(LOGIN_ERRORS.registered);
            if (ch && ch.find(name)) return fail(LOGIN_ERRORS.inUse);
            const delay = this.opts.guestLoginDelayMs;
            if (delay > 0) {
                const ip = member.socket?.handshake?.address ?? '';
                const last = this.lastGuestLogin.get(ip);
                const now = performance.now();
                if (last !== undefined && now - last < delay) {
                    return fail(`Guest logins are restricted to one per IP address per ${Math.round(delay / 1000)} seconds.`);
                }
                this.lastGuestLogin.set(ip, now);
            }
            member.name = name;
            member.globalRank = 0;
            member.rank = 0;
            member.guest = true;
        }
        member.loggedIn = true;
        member.emit('rank', member.rank);
        if (member.conn) for (const f of this.frames) if (f.sid === member.conn.id && f.user === null) f.user = member.name;
        if (member.joined) {
            ch.loggedIn(member, { account: !member.guest });
        } else {
            // logged in before the burst: login now, the userlist of the burst will include the user
            member.emit('login', { success: true, name: member.name, ...(member.guest ? { guest: true } : {}) });
        }
        this.changed();
    }

    onPrivileged(member, event, rank, data) {
        const ch = member.channel;
        if (!ch || !member.joined || member.rank < rank) {
            // §4: kick on sight without the rank
            if (ch && member.joined) ch.kick(member, `Attempted ${event} with insufficient rank`);
            else {
                member.emit('kick', { reason: `Attempted ${event} with insufficient rank` });
                member.socket?.disconnect();
            }
            return;
        }
        if (event === 'setOptions' && data && typeof data === 'object') ch.setOpts(data);
        else if (event === 'setPermissions' && data && typeof data === 'object') {
            Object.assign(ch.permissions, data);
            ch.broadcast('setPermissions', { ...ch.permissions });
        } else if (event === 'setMotd' && data && typeof data.motd === 'string') {
            ch.motd = data.motd;
            ch.broadcast('setMotd', ch.motd);
        } else if (event === 'assignLeader' && data && typeof data.name === 'string') {
            ch.broadcast('setLeader', data.name);
        }
    }

    // ---- media -------------------------------------------------------------------------------------

    /**
      * Turn a queue request {id, type, title?, duration?} into media, or {error, link}.
      * "tw" items are accepted with the given duration (capture 05); "yt" fails without an API key
      * (capture 05) unless the item is in opts.media; other types need an opts.media entry.
      */
    resolveMedia(req) {
        const key = `${req.type}:${req.id}`;
        const lib = this.opts.media[key];
        let title;
        let seconds;
        if (lib) {
            title = lib.title ?? req.id;
            seconds = lib.seconds ?? 0;
        } else if (req.type === 'tw') {
            title = `Twitch.tv - ${req.id}`;
            seconds = Number.isFinite(req.duration) && req.duration > 0 ? Math.floor(req.duration) : 0;
        } else if (req.type === 'yt') {
            return { error: YT_NO_KEY, link: `https://youtu.be/${req.id}` };
        } else {
            return { error: `Unknown media type '${req.type}'`, link: '' };
        }
        return { media: { id: req.id, title, seconds, duration: formatDuration(seconds), type: req.type, meta: {} } };
    }

    // ---- control API: channels, users, accounts ----------------------------------------------------

    /** The channel named name, created (unregistered) on first use like CyTube does. */
    channel(name, cfg = undefined) {
        let ch = this.channels.get(name);
        if (!ch) {
            if (!CHANNEL_NAME_RE.test(name)) throw new Error(`invalid channel name "${name}"`);
            ch = new Channel(this, name, cfg ?? {});
            this.channels.set(name, ch);
        }
        return ch;
    }

    /** Register an account (global rank 1 by default) for password logins. */
    registerAccount(name, password, { rank = 1 } = {}) {
        if (!USER_NAME_RE.test(name)) throw new Error(`invalid account name "${name}"`);
        this.accounts.set(name.toLowerCase(), { name, password: String(password), rank: rank ?? 1 });
    }

    /** Add a scripted user (not a socket) to a channel: addUser to everyone. */
    addUser(ch, name, { rank = 0, afk = false, profile = null } = {}) {
        const c = this.channel(ch);
        if (!USER_NAME_RE.test(name)) throw new Error(`invalid user name "${name}"`);
        if (c.find(name)) throw new Error(`name "${name}" is already in use in ${ch}`);
        const m = new Member({ scripted: true });
        m.name = name;
        m.rank = rank;
        m.globalRank = rank;
        m.loggedIn = true;
        m.guest = rank <= 0;
        m.afk = afk;
        if (profile) m.profile = { image: profile.image ?? '', text: profile.text ?? '' };
        m.channel = c;
        m.joined = true;
        c.members.push(m);
        c.broadcastAddUser(m, [m]);
        c.whisper(`${name} joined (aliases: ${name})`);
        c.usercountChanged();
        this.changed();
        return m;
    }

    /** Remove a scripted user: userLeave to everyone. */
    removeUser(ch, name) {
        const c = this.channel(ch);
        const m = c.find(name);
        if (!m || !m.scripted) throw new Error(`no scripted user "${name}" in ${ch}`);
        c.leave(m);
    }

    scripted(ch, name) {
        const c = this.channel(ch);
        const m = c.find(name);
        if (m && !m.scripted) throw new Error(`"${name}" is a real client in ${ch}, not a scripted user`);
        return m ?? this.addUser(ch, name);
    }

    /** A scripted user says msg with CyTube's processing (joins first if absent). */
    say(ch, name, msg) {
        const m = this.scripted(ch, name);
        m.channel.chatMsg(m, { msg: String(msg), meta: {} });
    }

    /** A scripted user sends a PM to `to` (a user present in the channel). */
    pm(ch, from, to, msg) {
        const m = this.scripted(ch, from);
        const target = m.channel.find(to);
        if (!target) throw new Error(`no user "${to}" in ${ch}`);
        m.channel.pm(m, { to, msg: String(msg), meta: {} });
    }

    /** Set a user's rank in a channel (also remembered for later logins of that account). */
    setRank(ch, name, rank) {
        const c = this.channel(ch);
        c.ranks.set(name.toLowerCase(), rank);
        const m = c.find(name);
        if (m) c.setRank(m, rank);
    }

    setChannelOpts(ch, patch) {
        this.channel(ch).setOpts(patch);
    }

    setPermissions(ch, patch) {
        const c = this.channel(ch);
        Object.assign(c.permissions, patch);
        c.broadcast('setPermissions', { ...c.permissions });
    }

    /** Make socketconfig of ch answer with these servers (null: this server again). */
    setSocketConfig(ch, servers) {
        this.socketConfigOverride ??= {};
        if (servers) this.socketConfigOverride[ch] = servers;
        else delete this.socketConfigOverride[ch];
    }

    // ---- control API: playlist ---------------------------------------------------------------------

    queueMedia(ch, media, { pos = 'end', temp = false, by = '' } = {}) {
        const c = this.channel(ch);
        const r = this.resolveMedia(media);
        if (r.error) throw new Error(r.error);
        return c.addItem({ media: r.media, uid: c.nextUid++, temp, queueby: by }, pos);
    }

    /** Put media right after the current item and play it now. */
    changeMedia(ch, media, opts = {}) {
        const c = this.channel(ch);
        const item = this.queueMedia(ch, media, { ...opts, pos: 'next' });
        if (c.current !== item) c.jumpTo(null, item.uid);
        return item;
    }

    playNext(ch) {
        this.channel(ch).playNext(null);
    }

    jumpTo(ch, uid) {
        this.channel(ch).jumpTo(null, uid);
    }

    deleteMedia(ch, uid) {
        this.channel(ch).deleteItem(null, uid);
    }

    // ---- control API: sockets ----------------------------------------------------------------------

    /**
      * Connection records of the clients in channel ch (including sockets kicked from it but still
      * open). who: undefined/null = all, a user name (case-insensitive), or {sid}.
      */
    targets(ch, who = null) {
        const all = [...this.conns.values()].filter((r) => ch === '*' || r.channelName === ch);
        if (who === null || who === undefined || who === '') return all;
        if (typeof who === 'object' && who.sid) return all.filter((r) => r.id === who.sid);
        const lower = String(who).toLowerCase();
        return all.filter((r) => r.member?.name?.toLowerCase() === lower);
    }

    requireTargets(ch, who) {
        const t = this.targets(ch, who);
        if (!t.length) throw new Error(`no client ${who ? `"${typeof who === 'object' ? who.sid : who}" ` : ''}in ${ch}`);
        return t;
    }

    /** Summary of the open client connections. */
    connections(ch = '*') {
        return this.targets(ch).map((r) => ({
            sid: r.id,
            channel: r.channelName,
            name: r.member?.name ?? null,
            rank: r.member?.rank ?? -1,
            connected: !!r.member?.socket?.connected,
            frozen: r.frozen,
        }));
    }

    /** Kick a client (kick, userLeave, 41; the WebSocket stays open) or remove a scripted user. */
    kick(ch, who, reason = '', { by = null } = {}) {
        const c = this.channel(ch);
        const m = typeof who === 'string' ? c.find(who) : null;
        if (m?.scripted) return c.leave(m);
        for (const r of this.requireTargets(ch, who)) if (r.member) c.kick(r.member, reason, by);
    }

    /** Emit a socket.io event to clients of the channel (all, or who). */
    emitTo(ch, who, event, ...args) {
        for (const r of this.requireTargets(ch, who)) r.member?.emit(event, ...args);
    }

    /** Close the TCP connection without a WebSocket close frame (rst: send a TCP reset). */
    drop(ch, who = null, { rst = false } = {}) {
        for (const r of this.requireTargets(ch, who)) {
            const sock = r.ws?._socket;
            if (!sock) continue;
            if (rst && sock.resetAndDestroy) sock.resetAndDestroy();
            else sock.destroy();
        }
    }

    /** Close the connection cleanly from the server side (close frame without a code: 1005). */
    closeSocket(ch, who = null) {
        for (const r of this.requireTargets(ch, who)) r.conn.close();
    }

    /**
      * Simulate a dead peer: stop sending pings and everything else, stop reading, no server-side
      * ping timeout. The TCP connection and the user stay until the client gives up, the test calls
      * drop(), or dropAfterMs passes (then the server drops it like CyTube's own ping timeout would,
      * so a guest name becomes free again).
      */
    freeze(ch, who = null, { dropAfterMs = null } = {}) {
        for (const r of this.requireTargets(ch, who)) {
            if (dropAfterMs !== null) {
                const timer = setTimeout(() => {
                    this.timers.delete(timer);
                    r.ws?._socket?.destroy();
                }, dropAfterMs);
                this.timers.add(timer);
            }
            const c = r.conn;
            r.frozen = true;
            clearTimeout(c.pingIntervalTimer);
            clearTimeout(c.pingTimeoutTimer);
            c.pingIntervalTimer = { refresh() {} }; // a late pong must not re-arm the ping timer
            c.schedulePing = () => {};
            c.resetPingTimeout = () => {};
            c.sendPacket = () => {};
            r.ws?._socket?.pause();
        }
        this.changed();
    }

    /**
      * §1: partitionChange {servers} to the clients, then the server disconnects them. With servers
      * given, socketconfig of the channel answers them from now on (the channel moved).
      */
    partitionChange(ch, { servers = null, who = null, disconnect = true } = {}) {
        const payload = { servers: servers ?? [this.socketConfigEntry()] };
        if (servers) this.setSocketConfig(ch, servers);
        for (const r of this.requireTargets(ch, who)) {
            r.member?.emit('partitionChange', payload);
            if (disconnect) r.member?.socket?.disconnect(true);
        }
        return payload;
    }

    /** Write a raw WebSocket frame to clients: a string is a text frame, a Buffer a binary frame. */
    sendRaw(ch, who, data, { binary = Buffer.isBuffer(data) } = {}) {
        for (const r of this.requireTargets(ch, who)) r.ws?.send(data, { binary });
        return data;
    }

    /**
      * Write a hostile frame. kind: 'malformed' (truncated JSON), 'notjson', 'binary',
      * 'oversized' (size bytes, default 2 MiB > maxPayload), 'nested' (depth, default 100000),
      * 'unknownEvent', 'emptyEvent', 'badType' (unknown engine.io type), 'wrongTypes'.
      * Returns what was sent.
      */
    sendBadFrame(ch, who, kind, { size = 2 * 1048576, depth = 100000 } = {}) {
        let data;
        switch (kind) {
            case 'malformed':
                data = '42["chatMsg",{"username":"Mallory","msg":"cut off';
                break;
            case 'notjson':
                data = '42hello there';
                break;
            case 'binary':
                data = Buffer.from([0x04, 0xff, 0x00, 0xfe, 0x42, 0x5b, 0x00]);
                break;
            case 'oversized': {
                const head = '42["chatMsg",{"username":"Mallory","msg":"';
                const tail = '","meta":{},"time":' + Date.now() + '}]';
                data = head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail;
                break;
            }
            case 'nested':
                data = '42["chatMsg",' + '['.repeat(depth) + ']'.repeat(depth) + ']';
                break;
            case 'unknownEvent':
                data = '42["someFutureEvent",{"x":1,"y":[1,2,3]}]';
                break;
            case 'emptyEvent':
                data = '42[]';
                break;
            case 'badType':
                data = '9nonsense';
                break;
            case 'wrongTypes':
                data = '42["chatMsg","not an object"]';
                break;
            default:
                throw new Error(`unknown bad frame kind "${kind}"`);
        }
        return this.sendRaw(ch, who, data);
    }

    /**
      * Flood the channel: a scripted user (`name`, default "Flooder") sends `rate` lines per second
      * for `seconds`, numbered "<prefix> 000001"... kind 'chatMsg' (to everyone) or 'pm' (to `to`).
      * Resolves {sent, first, last} when done; stop() on the returned promise ends it early.
      */
    flood(ch, { rate = 100, seconds = 1, name = 'Flooder', kind = 'chatMsg', to = null, prefix = 'flood' } = {}) {
        const total = Math.floor(rate * seconds);
        if (!(rate > 0) || !(seconds > 0) || total > 1_000_000 || seconds > 600) throw new Error('flood: rate/seconds out of bounds');
        if (kind === 'pm' && !to) throw new Error('flood: kind pm needs `to`');
        const m = this.scripted(ch, name);
        const c = m.channel;
        let sent = 0;
        const start = performance.now();
        let timer = null;
        let resolveDone;
        const done = new Promise((resolve) => (resolveDone = resolve));
        const flood = {
            stop: () => {
                clearInterval(timer);
                this.floods.delete(flood);
                resolveDone({ sent, first: 1, last: sent });
            },
        };
        const step = () => {
            const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
            while (sent < due) {
                sent++;
                const text = `${prefix} ${String(sent).padStart(6, '0')}`;
                if (kind === 'pm') {
                    const target = c.find(to);
                    if (target) c.deliverPm(m, target, text, {});
                } else {
                    const p = processChatText(text, c.textOpts());
                    c.say(m, p.msg, p.meta);
                }
            }
            if (sent >= total) flood.stop();
        };
        this.floods.add(flood);
        timer = setInterval(step, 5);
        step();
        done.stop = flood.stop;
        return done;
    }

    /** Refuse the next `count` namespace connects with 44{"message":"Rate limit exceeded"} (§2). */
    refuseConnections(count = 1) {
        this.refuseCount = count;
    }

    /** Snapshot of a channel for tests and the control API. */
    state(ch) {
        return this.channel(ch).snapshot();
    }

    /** Chat and PM lines seen in a channel with seq > since (for the demo page and tests). */
    chatLog(ch, since = 0) {
        return this.channel(ch).chatLog.filter((l) => l.seq > since);
    }
}
