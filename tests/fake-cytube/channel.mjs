// channel.mjs — one CyTube channel of the fake server: members, ranks, join burst, chat, playlist and playback.
//
// Section numbers (§n) refer to /work/shared/cytube-protocol.md, "capture NN" to
// shared/fixtures/cytube/NN-*.jsonl. Where the two disagree the capture wins.

import {
    processChatText,
    FloodLimiter,
    DEFAULT_CHAT_LIMIT,
    QUEUE_LIMIT,
    QUEUE_LIMIT_MOD,
    formatDuration,
    DEFAULT_CHAT_MAX_LENGTH,
} from './text.mjs';

// capture 01 (unregistered channel) and capture 02 (registered channel): setPermissions payloads.
const PERMS_UNREGISTERED = {
    seeplaylist: -1, playlistadd: -1, playlistnext: 0, playlistmove: 0, playlistdelete: 0, playlistjump: 0,
    playlistaddlist: 0, oplaylistadd: -1, oplaylistnext: 0, oplaylistmove: 0, oplaylistdelete: 0, oplaylistjump: 0,
    oplaylistaddlist: 0, playlistaddcustom: 0, playlistaddlive: 0, exceedmaxlength: 0, addnontemp: 0, settemp: 0,
    playlistshuffle: 0, playlistclear: 0, pollctl: 0, pollvote: -1, viewhiddenpoll: 1.5, voteskip: -1,
    viewvoteskip: 1.5, playlistlock: 2, leaderctl: 0, drink: 0, chat: 0, chatclear: 2, exceedmaxitems: 2,
    deletefromchannellib: 2,
};
const PERMS_REGISTERED = {
    seeplaylist: -1, playlistadd: 1.5, playlistnext: 1.5, playlistmove: 1.5, playlistdelete: 2, playlistjump: 1.5,
    playlistaddlist: 1.5, oplaylistadd: -1, oplaylistnext: 1.5, oplaylistmove: 1.5, oplaylistdelete: 2,
    oplaylistjump: 1.5, oplaylistaddlist: 1.5, playlistaddcustom: 3, playlistaddrawfile: 2, playlistaddlive: 1.5,
    exceedmaxlength: 2, addnontemp: 2, settemp: 2, playlistshuffle: 2, playlistclear: 2, pollctl: 1.5, pollvote: -1,
    viewhiddenpoll: 1.5, voteskip: -1, viewvoteskip: 1.5, mute: 1.5, kick: 1.5, ban: 2, motdedit: 3, filteredit: 3,
    filterimport: 3, emoteedit: 3, emoteimport: 3, playlistlock: 2, leaderctl: 2, drink: 1.5, chat: 0, chatclear: 2,
    exceedmaxitems: 2, deletefromchannellib: 2, exceedmaxdurationperuser: 2,
};

// captures 01/02: channelOpts payload (pagetitle is the channel name).
function defaultOpts(name) {
    return {
        allow_voteskip: true, voteskip_ratio: 0.5, afk_timeout: 600, pagetitle: name, maxlength: 0,
        externalcss: '', externaljs: '', chat_antiflood: false,
        chat_antiflood_params: { burst: 4, sustained: 1, cooldown: 4 },
        show_public: false, enable_link_regex: true, password: false, allow_dupes: false, torbanned: false,
        block_anonymous_users: false, allow_ascii_control: false, playlist_max_per_user: 0,
        new_user_chat_delay: 0, new_user_chat_link_delay: 0, playlist_max_duration_per_user: 0,
    };
}

// capture 01: channelCSSJS with empty css/js (the hash is MD5 of the empty string, base64).
const EMPTY_HASH = '1B2M2Y8AsgTpgAmY7PhCfg==';
const HISTORY_LINES = 15; // §3: up to 15 chat lines are replayed on join
const WHISPER_META = { addClass: 'server-whisper', addClassToNameAndTimestamp: true };

let memberSeq = 0;

/** One user in the fake: a real client socket, or a scripted user driven by the control API. */
export class Member {
    constructor({ socket = null, conn = null, scripted = false } = {}) {
        this.id = ++memberSeq;
        this.socket = socket; // socket.io server socket, null for scripted users
        this.conn = conn; // connection record of the server, null for scripted users
        this.scripted = scripted;
        this.name = null;
        this.rank = -1; // §3: -1 anonymous until a login succeeds
        this.globalRank = -1;
        this.loggedIn = false;
        this.guest = false;
        this.channel = null;
        this.joined = false; // in the channel's member list (burst sent)
        this.profile = { image: '', text: '' };
        this.afk = false;
        this.muted = false; // /mute: chat dropped
        this.smuted = false; // /smute: chat seen only by moderators and the user (meta.shadow)
        this.chatLimiter = new FloodLimiter();
        this.queueLimiter = new FloodLimiter();
        // moderators see a masked IP (capture 02); any stable string of that shape will do
        const h = (this.id * 2654435761) >>> 0;
        this.ipMask = `+Jk.f9O.${h.toString(36).slice(0, 3)}.${(h >>> 7).toString(36).slice(0, 3)}`;
    }

    emit(event, ...args) {
        if (this.socket && this.socket.connected) this.socket.emit(event, ...args);
    }

    /** §5 userlist entry; moderators get smuted, aliases and the masked ip (capture 02). */
    entry(forModerator) {
        const meta = { afk: this.afk, muted: this.muted };
        if (forModerator) Object.assign(meta, { smuted: this.smuted, aliases: [this.name], ip: this.ipMask });
        return { name: this.name, rank: this.rank, profile: { ...this.profile }, meta };
    }
}

export class Channel {
    /**
      * server: the FakeCytube instance (clock, media resolver, timing options, change notifications).
      * cfg: {registered, ranks {name: rank}, opts, permissions, motd, password, playlist [media], history [...]}
      */
    constructor(server, name, cfg = {}) {
        this.server = server;
        this.name = name;
        this.registered = !!cfg.registered;
        this.ranks = new Map(Object.entries(cfg.ranks ?? {}).map(([n, r]) => [n.toLowerCase(), r]));
        this.opts = { ...defaultOpts(name), ...(cfg.opts ?? {}) };
        this.permissions = { ...(this.registered ? PERMS_REGISTERED : PERMS_UNREGISTERED), ...(cfg.permissions ?? {}) };
        this.playlistLocked = cfg.playlistLocked ?? this.registered; // captures: true when registered
        this.motd = cfg.motd ?? '';
        this.password = cfg.password ?? null;
        this.bans = new Set(); // lower-cased names banned with /ban or /ipban
        this.members = []; // join order: broadcasts go out in this order (capture 01)
        this.history = []; // last HISTORY_LINES chatMsg payloads
        this.chatLog = []; // everything said in the channel, for the control API and the demo page
        this.chatSeq = 0;
        this.drinkCount = 0;
        this.items = [];
        this.nextUid = 0;
        this.current = null;
        this.currentTime = 0;
        this.paused = true;
        this.leadTimer = null;
        this.tickTimer = null;
        this.lastTickMs = 0;
        this.lastUsercountMs = -Infinity;
        this.usercountTimer = null;
        this.socketConfig = cfg.socketConfig ?? null;
        for (const h of cfg.history ?? []) this.addHistory({ username: h.username, msg: h.msg, meta: h.meta ?? {}, time: h.time ?? Date.now() });
        for (const m of cfg.playlist ?? []) {
            const r = server.resolveMedia(m);
            if (r.media) this.insertItem({ media: r.media, uid: this.nextUid++, temp: !!m.temp, queueby: m.queueby ?? '' }, 'end');
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    /** The permission value that applies: the "o" variant when the playlist is unlocked (captures 01/02). */
    perm(key) {
        if (!this.playlistLocked && ('o' + key) in this.permissions) return this.permissions['o' + key];
        return this.permissions[key] ?? 0;
    }

    can(member, key) {
        return member.rank >= this.perm(key);
    }

    find(name) {
        const lower = String(name).toLowerCase();
        return this.members.find((m) => m.loggedIn && m.name.toLowerCase() === lower) ?? null;
    }

    loggedInMembers() {
        return this.members.filter((m) => m.loggedIn);
    }

    broadcast(event, ...args) {
        for (const m of this.members) m.emit(event, ...args);
    }

    broadcastExcept(except, event, ...args) {
        for (const m of this.members) if (!except.includes(m)) m.emit(event, ...args);
    }

    /** addUser goes out in the moderator shape to moderators (capture 06). */
    broadcastAddUser(member, except = []) {
        for (const m of this.members) {
            if (except.includes(m)) continue;
            m.emit('addUser', member.entry(m.rank >= 2));
        }
    }

    /** [server] whispers go to moderators only (§5, capture 06). */
    whisper(text, except = []) {
        const payload = { username: '[server]', msg: text, meta: { ...WHISPER_META }, time: Date.now() };
        for (const m of this.members) if (m.rank >= 2 && !except.includes(m)) m.emit('chatMsg', payload);
    }

    addHistory(payload) {
        this.history.push(payload);
        if (this.history.length > HISTORY_LINES) this.history.shift();
    }

    logChat(entry) {
        this.chatLog.push({ seq: ++this.chatSeq, ...entry });
        if (this.chatLog.length > 2000) this.chatLog.shift();
        this.server.changed();
    }

    playlistMeta() {
        const rawTime = this.items.reduce((s, it) => s + it.media.seconds, 0);
        return { count: this.items.length, rawTime, time: formatDuration(rawTime) };
    }

    playlistPayload() {
        return this.items.map((it) => structuredClone(it));
    }

    mediaPacket() {
        return { ...structuredClone(this.current.media), currentTime: this.currentTime, paused: this.paused };
    }

    channelRankOf(name) {
        return this.ranks.get(String(name).toLowerCase());
    }

    // ---- joining and leaving (§3) ------------------------------------------------------------------

    join(member) {
        member.channel = this;
        if (this.password && !member.passwordOk) {
            member.emit('needPassword', true);
            return;
        }
        this.acceptJoin(member);
    }

    channelPassword(member, pw) {
        if (!this.password || member.joined || member.channel !== this) return;
        if (pw === this.password) {
            member.passwordOk = true;
            this.acceptJoin(member);
        } else {
            member.emit('needPassword', true);
        }
    }

    /** §3 join burst, in CyTube's order (captures 01, 02). */
    acceptJoin(member) {
        const loadDelay = this.members.length === 0 ? this.server.opts.channelLoadDelayMs : 0;
        if (loadDelay > 0 && !member.loadWaited) {
            // CyTube loads an empty channel asynchronously; a login that arrives meanwhile is answered
            // before the burst (capture 01, Watcher1).
            member.loadWaited = true;
            setTimeout(() => member.channel === this && !member.joined && this.acceptJoin(member), loadDelay);
            return;
        }
        if (member.loggedIn && this.bans.has(member.name.toLowerCase())) {
            // logged in before joining with a banned name: refused before the burst
            member.emit('kick', { reason: "You're banned!" });
            member.channel = null;
            member.socket?.disconnect();
            this.server.changed();
            return;
        }
        const already = member.loggedIn ? this.find(member.name) : null;
        if (already && already !== member) this.kickForDuplicate(already);
        member.emit('setPermissions', { ...this.permissions });
        member.emit('setPlaylistLocked', this.playlistLocked);
        member.emit('emoteList', []);
        for (const h of this.history) member.emit('chatMsg', structuredClone(h));
        member.emit('drinkCount', this.drinkCount);
        member.emit('channelCSSJS', { css: '', cssHash: EMPTY_HASH, js: '', jsHash: EMPTY_HASH });
        member.emit('setMotd', this.motd);
        member.emit('channelOpts', structuredClone(this.opts));
        member.emit('setPlaylistMeta', this.playlistMeta());
        member.emit('playlist', this.playlistPayload());
        if (this.current) {
            member.emit('setCurrent', this.current.uid);
            member.emit('changeMedia', this.mediaPacket());
        }
        this.members.push(member);
        member.joined = true;
        // a user logged in before joining is already in the list and gets no addUser (capture 01)
        member.emit('userlist', this.loggedInMembers().map((m) => m.entry(member.rank >= 2)));
        if (member.loggedIn) {
            this.broadcastAddUser(member, [member]);
            this.whisper(`${member.name} joined (aliases: ${member.name})`, [member]);
        }
        this.usercountChanged();
        if (!this.registered) member.emit('channelNotRegistered');
        // an account that logged in before joining gets its channel rank now (capture 02 order)
        if (member.loggedIn && !member.guest && !member.scripted && this.registered) this.applyChannelRank(member);
        this.server.changed();
    }

    /** Remove a member (socket closed, kicked, scripted user removed). */
    leave(member) {
        const i = this.members.indexOf(member);
        if (i < 0) {
            if (member.channel === this) member.channel = null;
            return;
        }
        this.members.splice(i, 1);
        member.joined = false;
        member.channel = null;
        if (member.loggedIn) this.broadcast('userLeave', { name: member.name });
        this.usercountChanged();
        this.server.changed();
    }

    /** §5: usercount is sent at most every usercountIntervalMs (captures 01 and 05). */
    usercountChanged() {
        if (this.server.closed) return; // sockets leaving during close() must not start timers
        const interval = this.server.opts.usercountIntervalMs;
        const now = performance.now();
        if (now - this.lastUsercountMs >= interval) {
            this.lastUsercountMs = now;
            this.broadcast('usercount', this.members.length);
        } else if (!this.usercountTimer) {
            this.usercountTimer = setTimeout(() => {
                this.usercountTimer = null;
                this.lastUsercountMs = performance.now();
                this.broadcast('usercount', this.members.length);
            }, this.lastUsercountMs + interval - now);
        }
    }

    // ---- logins (§3, captures 01, 02, 07, 08) ------------------------------------------------------

    /** Called after a successful login of a member that is in this channel. */
    loggedIn(member, { account }) {
        if (this.bans.has(member.name.toLowerCase())) {
            // refused before anyone hears of the user
            member.emit('kick', { reason: "You're banned!" });
            this.members.splice(this.members.indexOf(member), 1);
            member.joined = false;
            member.channel = null;
            member.socket?.disconnect();
            this.usercountChanged();
            this.server.changed();
            return;
        }
        let old = null;
        if (account) {
            old = this.members.find((m) => m !== member && m.loggedIn && m.name.toLowerCase() === member.name.toLowerCase());
        }
        if (old) {
            // §3 / capture 07: the older socket gets kick "Duplicate login" ... and 41 after the new login
            old.emit('kick', { reason: 'Duplicate login' });
            this.members.splice(this.members.indexOf(old), 1);
            old.joined = false;
            old.channel = null;
            this.broadcastExcept([member], 'userLeave', { name: old.name });
        }
        this.broadcastAddUser(member, [member]);
        member.emit('login', { success: true, name: member.name, ...(member.guest ? { guest: true } : {}) });
        if (old) member.emit('userLeave', { name: old.name });
        member.emit('addUser', member.entry(member.rank >= 2));
        if (old) old.socket?.disconnect();
        this.whisper(`${member.name} joined (aliases: ${member.name})`, [member]);
        if (account && this.registered) this.applyChannelRank(member);
        this.server.changed();
    }

    /** capture 02: a registered account in a registered channel gets its channel rank after login. */
    applyChannelRank(member) {
        const rank = Math.max(member.globalRank, this.channelRankOf(member.name) ?? member.globalRank);
        member.rank = rank;
        member.emit('rank', rank);
        this.broadcastExcept([member], 'setUserRank', { name: member.name, rank });
        if (rank >= 2) member.emit('userlist', this.loggedInMembers().map((m) => m.entry(true)));
        member.emit('setPlaylistMeta', this.playlistMeta());
        member.emit('playlist', this.playlistPayload());
        member.emit('setUserRank', { name: member.name, rank });
    }

    kickForDuplicate(old) {
        old.emit('kick', { reason: 'Duplicate login' });
        this.leave(old);
        old.socket?.disconnect();
    }

    /** Kick a member: kick, userLeave to the others, 41, whisper to moderators (capture 06). */
    kick(target, reason = '', by = null) {
        target.emit('kick', { reason });
        const i = this.members.indexOf(target);
        if (i >= 0) {
            this.members.splice(i, 1);
            target.joined = false;
            target.channel = null;
            if (target.loggedIn) this.broadcast('userLeave', { name: target.name });
            this.usercountChanged();
        }
        target.socket?.disconnect(); // 41; the WebSocket stays open (§2)
        if (by && target.name) this.whisper(`${by} kicked ${target.name}`);
        this.server.changed();
    }

    /** Control API / §5: change a user's channel rank. */
    setRank(member, rank) {
        if (member.loggedIn && !member.guest) this.ranks.set(member.name.toLowerCase(), rank);
        member.rank = rank;
        member.emit('rank', rank);
        this.broadcast('setUserRank', { name: member.name, rank });
        this.server.changed();
    }

    setOpts(patch) {
        Object.assign(this.opts, patch);
        this.broadcast('channelOpts', structuredClone(this.opts));
        this.server.changed();
    }

    // ---- chat and PM (§4, §5, §6) ------------------------------------------------------------------

    /** The limiter parameters that apply to a member (§6). */
    chatLimit(member) {
        if (this.opts.chat_antiflood && member.rank < 2) return this.opts.chat_antiflood_params;
        return DEFAULT_CHAT_LIMIT;
    }

    /** §6: true if the message may pass; else `cooldown` (ms per message) is sent and it is dropped. */
    floodCheck(member, cost) {
        if (member.scripted) return true; // scripted users are driven by the test; they never flood-limit
        const params = this.chatLimit(member);
        if (member.chatLimiter.take(params, cost)) return true;
        // capture 04: one `cooldown` 100 per dropped message with the default 10/s
        member.emit('cooldown', Math.round(1000 / params.sustained));
        return false;
    }

    textOpts() {
        return {
            maxLength: this.server.opts.chatMaxLength ?? DEFAULT_CHAT_MAX_LENGTH,
            allowControl: !!this.opts.allow_ascii_control,
            linkRegex: this.opts.enable_link_regex !== false,
        };
    }

    /** §4 chatMsg from a member. Dropped silently when not logged in (capture 08). */
    chatMsg(member, data) {
        if (!member.loggedIn || !member.joined) return;
        if (!data || typeof data !== 'object' || typeof data.msg !== 'string') return;
        if (member.rank < this.perm('chat')) return;
        const head = data.msg.trimStart().slice(0, 4).toLowerCase();
        const cost = head.startsWith('/me') || head.startsWith('/sp') || head.startsWith('/say') ? 2 : 1; // §6
        if (!this.floodCheck(member, cost)) return;
        const p = processChatText(data.msg, this.textOpts());
        if (!p) return;
        if (p.command === 'afk') {
            member.afk = !member.afk;
            this.broadcast('setAFK', { name: member.name, afk: member.afk });
            return;
        }
        if (p.command === 'kick' || p.command === 'ban' || p.command === 'ipban') {
            // §4: moderation commands only exist in registered channels
            if (!this.registered || member.rank < this.perm(p.command === 'kick' ? 'kick' : 'ban')) return;
            const target = p.args[0] ? this.find(p.args[0]) : null;
            if (!target || target.rank >= member.rank) return;
            if (p.command !== 'kick') this.bans.add(target.name.toLowerCase());
            const reason = p.command === 'kick' ? p.rest.replace(/^\S+\s*/, '') : "You're banned!";
            if (target.scripted) this.leave(target);
            else this.kick(target, reason, member.name);
            return;
        }
        if (p.command === 'mute' || p.command === 'smute' || p.command === 'unmute') {
            if (!this.registered || member.rank < this.perm('mute')) return;
            const target = p.args[0] ? this.find(p.args[0]) : null;
            if (!target || target.rank >= member.rank) return;
            target.muted = p.command === 'mute';
            target.smuted = p.command === 'smute';
            const meta = { afk: target.afk, muted: target.muted };
            for (const m of this.loggedInMembers()) {
                m.emit('setUserMeta', { name: target.name, meta: m.rank >= 2 ? { ...meta, smuted: target.smuted } : meta });
            }
            this.server.changed();
            return;
        }
        if (p.command === 'rank' || p.command === 'poll') return; // consumed; their effects are not modelled
        if (p.command === 'clear') {
            if (member.rank < this.perm('chatclear')) return;
            this.history = [];
            this.broadcast('clearchat');
            return;
        }
        if (member.muted) return;
        if (member.smuted) {
            // only the user and the moderators see it, marked as shadow; not in the history
            const payload = { username: member.name, msg: p.msg, meta: { ...p.meta, shadow: true }, time: Date.now() };
            for (const m of this.loggedInMembers()) if (m === member || m.rank >= 2) m.emit('chatMsg', payload);
            this.logChat({ type: 'chatMsg', username: member.name, msg: p.msg, meta: payload.meta, time: payload.time, scripted: member.scripted });
            return;
        }
        this.say(member, p.msg, p.meta);
    }

    /** Broadcast an already processed line (also used for scripted users). */
    say(member, msg, meta) {
        const payload = { username: member.name, msg, meta, time: Date.now() };
        this.addHistory(payload);
        this.broadcast('chatMsg', payload);
        this.logChat({ type: 'chatMsg', username: member.name, msg, meta, time: payload.time, scripted: member.scripted });
    }

    /** §4 pm: both sides get it, recipient first (capture 03); errors go back as errorMsg. */
    pm(member, data) {
        if (!member.loggedIn || !member.joined) return;
        if (!data || typeof data !== 'object' || typeof data.msg !== 'string' || typeof data.to !== 'string') return;
        const to = data.to.toLowerCase();
        if (!/^[\w-]{1,20}$/.test(data.to)) {
            member.emit('errorMsg', { msg: `PM failed: ${to} isn't a valid username.` });
            return;
        }
        if (to === member.name.toLowerCase()) {
            member.emit('errorMsg', { msg: "You can't PM yourself!" });
            return;
        }
        const target = this.find(to);
        if (!target) {
            member.emit('errorMsg', { msg: `PM failed: ${to} isn't connected to this channel.` });
            return;
        }
        if (!this.floodCheck(member, 1)) return;
        const p = processChatText(data.msg, { ...this.textOpts(), isPm: true });
        if (!p) return;
        this.deliverPm(member, target, p.msg, p.meta);
    }

    deliverPm(from, target, msg, meta) {
        const payload = { username: from.name, msg, meta, time: Date.now(), to: target.name };
        target.emit('pm', payload);
        from.emit('pm', payload);
        this.logChat({ type: 'pm', username: from.name, to: target.name, msg, meta, time: payload.time });
    }

    // ---- playlist (§4, §5, capture 05) -------------------------------------------------------------

    queueFail(member, msg, link, id) {
        member.emit('queueFail', { msg, link, id });
    }

    /** §4 queue {id, type, pos, title?, duration?, temp?}. */
    queue(member, data) {
        if (!data || typeof data !== 'object' || typeof data.id !== 'string' || typeof data.type !== 'string') return;
        if (!member.scripted && !this.can(member, 'playlistadd')) {
            this.queueFail(member, "You don't have permission to add videos to the playlist", '', data.id);
            return;
        }
        if (!member.scripted) {
            const limit = member.rank >= 2 ? QUEUE_LIMIT_MOD : QUEUE_LIMIT;
            if (!member.queueLimiter.take(limit, 1)) {
                this.queueFail(member, 'You are adding videos too quickly', '', data.id);
                return;
            }
        }
        const r = this.server.resolveMedia(data);
        if (r.error) {
            this.queueFail(member, r.error, r.link ?? '', data.id);
            return;
        }
        if (!this.opts.allow_dupes && this.items.some((it) => it.media.id === r.media.id && it.media.type === r.media.type)) {
            this.queueFail(member, 'This item is already on the playlist', r.link ?? '', data.id);
            return;
        }
        const temp = !!data.temp || member.rank < (this.permissions.addnontemp ?? 0);
        const item = { media: r.media, uid: this.nextUid++, temp, queueby: member.name ?? '' };
        this.addItem(item, data.pos === 'next' ? 'next' : 'end');
    }

    insertItem(item, pos) {
        let after;
        if (pos === 'next' && this.current) {
            after = this.current.uid;
            this.items.splice(this.items.indexOf(this.current) + 1, 0, item);
        } else if (pos === 'end' && this.items.length) {
            after = this.items[this.items.length - 1].uid;
            this.items.push(item);
        } else {
            after = 'prepend';
            this.items.unshift(item);
        }
        return after;
    }

    /** capture 05: queue {item, after}, setPlaylistMeta, then playback starts if nothing plays. */
    addItem(item, pos) {
        const after = this.insertItem(item, pos);
        this.broadcast('queue', { item: structuredClone(item), after });
        this.broadcast('setPlaylistMeta', this.playlistMeta());
        if (!this.current) this.play(item);
        this.server.changed();
        return item;
    }

    /** delete uid: delete {uid}, setPlaylistMeta, and the next item if it was playing (capture 05). */
    deleteItem(member, uid) {
        if (member && !member.scripted && !this.can(member, 'playlistdelete')) return;
        const idx = this.items.findIndex((it) => it.uid === uid);
        if (idx < 0) return;
        const wasCurrent = this.items[idx] === this.current;
        const next = wasCurrent && this.items.length > 1 ? this.items[(idx + 1) % this.items.length] : null;
        this.removeItem(idx);
        if (wasCurrent) {
            if (next) this.play(next);
            else this.stopPlayback();
        }
        this.server.changed();
    }

    removeItem(idx) {
        const [it] = this.items.splice(idx, 1);
        this.broadcast('delete', { uid: it.uid });
        this.broadcast('setPlaylistMeta', this.playlistMeta());
    }

    /** moveMedia {from, after: uid|"prepend"|"append"} → moveVideo {from, after} (capture 05). */
    moveMedia(member, data) {
        if (!data || typeof data !== 'object') return;
        if (!member.scripted && !this.can(member, 'playlistmove')) return;
        const idx = this.items.findIndex((it) => it.uid === data.from);
        if (idx < 0) return;
        const [it] = this.items.splice(idx, 1);
        if (data.after === 'prepend') this.items.unshift(it);
        else if (data.after === 'append') this.items.push(it);
        else {
            const a = this.items.findIndex((x) => x.uid === data.after);
            if (a < 0) {
                this.items.splice(idx, 0, it);
                return;
            }
            this.items.splice(a + 1, 0, it);
        }
        this.broadcast('moveVideo', { from: data.from, after: data.after });
        this.server.changed();
    }

    setTemp(member, data) {
        if (!data || typeof data !== 'object') return;
        if (!member.scripted && !this.can(member, 'settemp')) return;
        const it = this.items.find((x) => x.uid === data.uid);
        if (!it) return;
        it.temp = !!data.temp;
        this.broadcast('setTemp', { uid: it.uid, temp: it.temp });
        this.server.changed();
    }

    jumpTo(member, uid) {
        if (member && !member.scripted && !this.can(member, 'playlistjump')) return;
        const target = this.items.find((x) => x.uid === uid);
        if (!target) return;
        this.leaveCurrent(target);
        this.play(target);
    }

    playNext(member) {
        if (member && !member.scripted && !this.can(member, 'playlistnext')) return;
        this.advance();
    }

    /** A temp item is deleted when playback moves away from it (capture 05, t=46275). */
    leaveCurrent(next) {
        const cur = this.current;
        if (cur && cur.temp && cur !== next) {
            const idx = this.items.indexOf(cur);
            if (idx >= 0) this.removeItem(idx);
        }
    }

    advance() {
        if (!this.current) return;
        const idx = this.items.indexOf(this.current);
        const next = this.items.length ? this.items[(idx + 1) % this.items.length] : null;
        this.leaveCurrent(next);
        if (next && this.items.includes(next)) this.play(next);
        else this.stopPlayback();
        this.server.changed();
    }

    /**
      * §5 / capture 05 playback: setCurrent, changeMedia at currentTime -3 paused, drinkCount,
      * voteskip to those allowed to see it; 3 s later mediaUpdate {0, playing}; then a mediaUpdate
      * every 5 s; the next item starts on the first tick after the current one ended.
      */
    play(item) {
        this.clearTimers();
        if (this.server.closed) return;
        const o = this.server.opts;
        this.current = item;
        this.currentTime = -3;
        this.paused = true;
        this.drinkCount = 0;
        this.broadcast('setCurrent', item.uid);
        this.broadcast('changeMedia', this.mediaPacket());
        this.broadcast('drinkCount', this.drinkCount);
        for (const m of this.members) if (m.rank >= this.permissions.viewvoteskip) m.emit('voteskip', { count: 0, need: 0 });
        this.leadTimer = setTimeout(() => {
            this.leadTimer = null;
            this.currentTime = 0;
            this.paused = false;
            this.lastTickMs = performance.now();
            this.broadcast('mediaUpdate', { currentTime: 0, paused: false });
            this.tickTimer = setInterval(() => this.tick(), o.mediaTickMs);
        }, o.mediaLeadInMs);
        this.server.changed();
    }

    tick() {
        const now = performance.now();
        this.currentTime += ((now - this.lastTickMs) / 1000) * this.server.opts.playbackSpeed;
        this.lastTickMs = now;
        const seconds = this.current.media.seconds;
        if (seconds > 0 && this.currentTime > seconds) {
            this.advance();
            return;
        }
        this.broadcast('mediaUpdate', { currentTime: this.currentTime, paused: false });
    }

    stopPlayback() {
        this.clearTimers();
        this.current = null;
        this.currentTime = 0;
        this.paused = true;
    }

    clearTimers() {
        clearTimeout(this.leadTimer);
        clearInterval(this.tickTimer);
        this.leadTimer = null;
        this.tickTimer = null;
    }

    close() {
        this.clearTimers();
        clearTimeout(this.usercountTimer);
    }

    /** A JSON snapshot for the control API. */
    snapshot() {
        return {
            name: this.name,
            registered: this.registered,
            users: this.loggedInMembers().map((m) => ({ name: m.name, rank: m.rank, scripted: m.scripted, afk: m.afk })),
            sockets: this.members.filter((m) => !m.scripted).map((m) => ({ sid: m.conn?.id, name: m.name, rank: m.rank })),
            playlist: this.playlistPayload(),
            current: this.current ? { uid: this.current.uid, currentTime: this.currentTime, paused: this.paused } : null,
            opts: structuredClone(this.opts),
            history: structuredClone(this.history),
        };
    }
}
