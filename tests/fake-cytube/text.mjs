// text.mjs — CyTube's text rules for the fake server: name checks, chat processing, flood limiter, time formats.
//
// Section numbers (§n) refer to /work/shared/cytube-protocol.md; "capture NN" to the files in
// shared/fixtures/cytube/. Everything here is pure (no I/O) so it can be reasoned about on its own.

// §3: guest names are 1-20 word characters or '-'.
export const USER_NAME_RE = /^[\w-]{1,20}$/;
// §1: channel names are 1-30 word characters or '-'.
export const CHANNEL_NAME_RE = /^[\w-]{1,30}$/;

// capture 08: "admin" is refused as reserved. The fake reserves a small fixed set.
export const RESERVED_NAMES = new Set(['admin', 'administrator', 'owner', 'moderator', 'server', 'system', 'root']);

// capture 08: exact login error texts.
export const LOGIN_ERRORS = {
    badPassword: 'Invalid username/password combination',
    noSuchUser: 'User does not exist',
    registered: 'That username is registered.',
    inUse: 'That name is already in use on this channel.',
    reserved: 'That username is reserved.',
    invalid:
        'Invalid username.  Usernames must be 1-20 characters long and consist only of characters ' +
        'a-z, A-Z, 0-9, -, or _.',
};

// §4: the server cuts chat to 320 characters (JavaScript string length, i.e. UTF-16 code units).
export const DEFAULT_CHAT_MAX_LENGTH = 320;

// §5 / captures 01 and 03: only & < > are escaped; quotes stay as they are.
export function escapeHtml(text) {
    return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// §5 / capture 01: URLs are wrapped in an anchor whose href and text are the (already escaped) URL.
// The scheme is any word followed by "://"; the URL runs to the next whitespace or quote.
const LINK_RE = /\b\w+:\/\/[^\s"]+/g;
export function wrapLinks(escaped) {
    return escaped.replace(LINK_RE, (url) => `<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`);
}

// §4: control characters become spaces unless the channel option allow_ascii_control is set.
export function replaceControlChars(text) {
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\u0000-\u001f\u007f]/g, ' ');
}

// §4: chat lines the server runs instead of broadcasting (with or without the rank to run them).
const SERVER_COMMANDS = new Set(['afk', 'clear', 'kick', 'mute', 'smute', 'unmute', 'ban', 'ipban', 'rank', 'poll']);

/**
  * CyTube's processing of one chat or PM line (§4, §5, captures 01 and 03).
  * Returns null when the line is dropped, else {msg, meta, command}.
  * command is one of null, 'me', 'sp', or a server command that is never broadcast as chat:
  * 'afk', 'clear', 'kick', 'mute', 'smute', 'unmute', 'ban', 'ipban', 'rank', 'poll' (msg null, with args).
  * opts: {maxLength, allowControl, linkRegex, isPm}
  */
export function processChatText(raw, opts = {}) {
    const maxLength = opts.maxLength ?? DEFAULT_CHAT_MAX_LENGTH;
    let text = raw.substring(0, maxLength);
    if (!opts.allowControl) text = replaceControlChars(text);
    const meta = {};
    let command = null;
    let args = null;
    if (!opts.isPm) {
        // §4 chat commands handled by the server; anything else starting with '/' is plain text.
        const m = /^\/(\w+)(?:\s+([\s\S]*))?$/.exec(text);
        if (m) {
            const verb = m[1].toLowerCase();
            const rest = m[2] ?? '';
            if (verb === 'me') {
                // capture 01: "/me waves" arrives as "waves" with meta {addClass:"action", action:true}
                command = 'me';
                text = rest;
                meta.addClass = 'action';
                meta.action = true;
            } else if (verb === 'sp') {
                command = 'sp';
                text = rest;
                meta.addClass = 'spoiler';
            } else if (SERVER_COMMANDS.has(verb)) {
                command = verb;
                args = rest.split(/\s+/).filter(Boolean);
                return { msg: null, meta, command, args, rest };
            }
        }
    }
    if (text.trim() === '') return null;
    let msg = escapeHtml(text);
    // capture 03: a line starting with '>' is greentext
    if (msg.startsWith('&gt;') && !meta.addClass) meta.addClass = 'greentext';
    if (opts.linkRegex !== false) msg = wrapLinks(msg);
    return { msg, meta, command, args };
}

/**
  * §6: per-user flood limiter shared by chat and PM (and, with other parameters, by queue).
  * params {burst, sustained (per second), cooldown (seconds of silence that refill the burst)}.
  * take() returns true when the message may pass; a dropped message does not count.
  */
export class FloodLimiter {
    constructor() {
        this.level = 0;
        this.lastMs = null;
    }

    take(params, cost = 1, nowMs = performance.now()) {
        if (this.lastMs === null || nowMs - this.lastMs > params.cooldown * 1000) {
            this.level = 0; // §6: the burst refills after `cooldown` seconds of silence
        } else {
            this.level = Math.max(0, this.level - ((nowMs - this.lastMs) / 1000) * params.sustained);
        }
        this.lastMs = nowMs;
        // A client pacing exactly at `sustained` lands on the boundary; allow 1 ms of timer jitter
        // (and the floating-point error of the sums) instead of dropping on a rounding error.
        if (this.level + cost > params.burst + params.sustained / 1000) return false;
        this.level += cost;
        return true;
    }
}

// §6: defaults for everyone; chat_antiflood_params apply to users below rank 2 when enabled.
export const DEFAULT_CHAT_LIMIT = { burst: 20, sustained: 10, cooldown: 2 };
// §4 queue row: burst 3 then 1/s; moderators 10 then 2/s.
export const QUEUE_LIMIT = { burst: 3, sustained: 1, cooldown: 10 };
export const QUEUE_LIMIT_MOD = { burst: 10, sustained: 2, cooldown: 10 };

// §5 / capture 05: durations are "MM:SS" or "HH:MM:SS" with two-digit fields.
export function formatDuration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    const two = (n) => String(n).padStart(2, '0');
    return h > 0 ? `${two(h)}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}
