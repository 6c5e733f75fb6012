-- bot_cmd_playlist.sql — !playlistadd / !playlistdelete (emit queue / delete), media type from a URL as CyTube infers it, queueFail reports.

-- CyTube's web client (3.86, parseMediaLink) turns a link into {type, id} before it emits
-- `queue`; the server then fetches the media and answers queueFail if it cannot. Same rules here:
--   xx:id short codes (dm: trims at ? & # _; fi: and cm: keep everything; others stop at ? & #);
--   rtmp:// → rt; a path ending .m3u8 → hl, .json → cm; then by host (first "www." removed):
--   youtube.com /watch?v= | /shorts/<11> → yt, /playlist?list= → yp, other paths fall to youtu.be;
--   youtu.be/<id> → yt; twitch.tv /…/clip/<id> → tc, /videos/<n> → tv v<n>, /<channel> → tw;
--   clips.twitch.tv/<id> → tc; livestream.com/accounts/<a>/events/<e> → li a;e; vimeo.com/<id> → vi;
--   dailymotion.com/video/<id> → dm; soundcloud.com → sc (the whole URL); streamable.com/<id> → sb;
--   docs|drive.google.com /file/d/<id> | /open?id= → gd; bitchute.com/video/<id> → bc;
--   nicovideo.jp/watch/<id> → nv; odysee.com/@user/video → od user;video (these four fall through
--   to each other in that order, as in the client); <artist>.bandcamp.com/track/<t> → bn artist;t;
--   PeerTube /w/<22 chars> or /videos/watch/<uuid> → pt host;id; any other http(s) URL → fi (raw file).
CREATE OR REPLACE FUNCTION daz.bot_media_link(p_url text, OUT media_type text, OUT media_id text)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_url    text := btrim(p_url);
    v_m      text[];
    v_proto  text;
    v_host   text;
    v_hostw  text;
    v_path   text;
    v_query  text;
    v_step   integer;
BEGIN
    IF v_url ~ '^[a-z]{2}:' THEN
        media_type := left(v_url, 2);
        media_id := substr(v_url, 4);
        IF media_type = 'dm' THEN
            media_id := substring(media_id FROM '^([^?&#_]+)');
        ELSIF media_type NOT IN ('fi', 'cm', 'yp') THEN
            media_id := substring(media_id FROM '^([^?&#]+)');
        END IF;
        IF coalesce(media_id, '') = '' THEN
            RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('no id after "%s:"', media_type);
        END IF;
        RETURN;
    END IF;

    v_m := regexp_match(v_url, '^([A-Za-z][A-Za-z0-9+.-]*:)//(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::\d*)?([^?#]*)(\?[^#]*)?');
    IF v_m IS NULL OR v_m[2] = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'could not determine the media type (see https://git.io/fjtOK for supported links)';
    END IF;
    v_proto := lower(v_m[1]);
    v_hostw := lower(v_m[2]);
    v_path := CASE WHEN v_m[3] = '' THEN '/' ELSE v_m[3] END;
    v_query := coalesce(substr(v_m[4], 2), '');
    v_host := regexp_replace(v_hostw, 'www\.', '');   -- the client removes the first "www." anywhere

    IF v_proto = 'rtmp:' THEN
        media_type := 'rt'; media_id := v_url; RETURN;
    ELSIF v_path ~ '\.m3u8$' THEN
        media_type := 'hl'; media_id := v_url; RETURN;
    ELSIF v_path ~ '\.json$' THEN
        media_type := 'cm'; media_id := v_url; RETURN;
    END IF;

    IF v_host = 'youtube.com' THEN
        IF v_path = '/watch' THEN
            media_type := 'yt'; media_id := substring('&' || v_query FROM '&v=([^&]*)'); RETURN;
        ELSIF v_path LIKE '/shorts/%' THEN
            media_type := 'yt'; media_id := substr(v_path, 9, 11); RETURN;
        ELSIF v_path = '/playlist' THEN
            media_type := 'yp'; media_id := substring('&' || v_query FROM '&list=([^&]*)'); RETURN;
        END IF;
        media_type := 'yt'; media_id := substr(v_path, 2); RETURN;
    ELSIF v_host = 'youtu.be' THEN
        media_type := 'yt'; media_id := substr(v_path, 2); RETURN;
    ELSIF v_host = 'twitch.tv' THEN
        IF v_path LIKE '%/clip/%' THEN
            media_type := 'tc'; media_id := substring(v_path FROM '([^/]*)$'); RETURN;
        ELSIF v_path LIKE '/videos/%' THEN
            media_type := 'tv'; media_id := 'v' || substring(v_path FROM '([^/]*)$'); RETURN;
        END IF;
        media_type := 'tw'; media_id := substr(v_path, 2); RETURN;
    ELSIF v_host = 'clips.twitch.tv' THEN
        media_type := 'tc'; media_id := substr(v_path, 2); RETURN;
    ELSIF v_host = 'livestream.com' THEN
        v_m := regexp_match(v_path, '^/accounts/([0-9]+)/events/([0-9]+)');
        IF v_m IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = 'this format of Livestream.com link is not supported; use one with the numeric account ID';
        END IF;
        media_type := 'li'; media_id := v_m[1] || ';' || v_m[2]; RETURN;
    ELSIF v_host = 'vimeo.com' THEN
        media_type := 'vi'; media_id := substr(v_path, 2); RETURN;
    ELSIF v_host = 'dailymotion.com' THEN
        media_type := 'dm'; media_id := substr(v_path, 8); RETURN;
    ELSIF v_host = 'soundcloud.com' THEN
        media_type := 'sc'; media_id := v_url; RETURN;
    ELSIF v_host = 'streamable.com' THEN
        media_type := 'sb'; media_id := substr(v_path, 2); RETURN;
    END IF;

    -- Google Drive, BitChute, Niconico and Odysee: each case falls through to the next.
    v_step := CASE v_host WHEN 'docs.google.com' THEN 1 WHEN 'drive.google.com' THEN 1
                          WHEN 'bitchute.com' THEN 2 WHEN 'nicovideo.jp' THEN 3 WHEN 'odysee.com' THEN 4 END;
    IF v_step <= 1 THEN
        IF v_path LIKE '/file/%' THEN
            media_type := 'gd'; media_id := split_part(substr(v_path, 9), '/', 1); RETURN;
        ELSIF v_path = '/open' THEN
            media_type := 'gd'; media_id := substring('&' || v_query FROM '&id=([^&]*)'); RETURN;
        END IF;
    END IF;
    IF v_step <= 2 AND v_path LIKE '/video/%' THEN
        media_type := 'bc'; media_id := split_part(substr(v_path, 8), '/', 1); RETURN;
    END IF;
    IF v_step <= 3 AND v_path LIKE '/watch/%' THEN
        media_type := 'nv'; media_id := split_part(substr(v_path, 8), '/', 1); RETURN;
    END IF;
    IF v_step <= 4 THEN
        v_m := regexp_match(v_path, '/@([^:]+)(?::\w)?/([^:]+)');
        IF v_m IS NOT NULL THEN
            media_type := 'od'; media_id := v_m[1] || ';' || v_m[2]; RETURN;
        END IF;
    END IF;

    IF v_hostw LIKE '%.bandcamp.com' AND v_path LIKE '/track/%' THEN
        media_type := 'bn';
        media_id := replace(v_hostw, '.bandcamp.com', '') || ';' || replace(v_path, '/track/', '');
        RETURN;
    END IF;
    v_m := regexp_match(v_path, '(?:/w/|/videos/watch/)(?:([a-zA-Z0-9]{22})|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))');
    IF v_path ~ '^/w/|^/videos/watch/' AND v_m IS NOT NULL THEN
        media_type := 'pt'; media_id := v_hostw || ';' || coalesce(v_m[1], v_m[2]); RETURN;
    END IF;
    IF v_proto ~ '^http' THEN
        media_type := 'fi'; media_id := v_url; RETURN;
    END IF;
    RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = 'could not determine the media type (see https://git.io/fjtOK for supported links)';
END
$$;
COMMENT ON FUNCTION daz.bot_media_link(text) IS
    'CyTube media {type, id} of a link, by the rules of CyTube''s own client (parseMediaLink, release 3.86): yt, yp, tw, tc, tv, li, vi, dm, sc, sb, gd, bc, nv, od, bn, pt, rt, hl, cm, fi, and xx:id short codes. Raises 22023 when no type fits.';

CREATE OR REPLACE FUNCTION daz.cmd_playlistadd(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_room text := p_ctx->>'room';
    v_url  text := p_ctx->'args'->>0;
    v_link record;
BEGIN
    IF v_url IS NULL THEN
        RETURN format('Usage: %splaylistadd <url>', p_ctx->>'prefix');
    END IF;
    SELECT * INTO v_link FROM daz.bot_media_link(v_url);   -- raises 22023 for links CyTube would not take
    IF coalesce(v_link.media_id, '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('no media id in %s', left(v_url, 100));
    END IF;
    PERFORM daz.enqueue('cytube', 'emit',
        jsonb_build_object('event', 'queue',
                           'data', jsonb_build_object('id', v_link.media_id, 'type', v_link.media_type,
                                                      'pos', 'end', 'temp', true)),
        v_room, 1, now(), NULL, p_ctx->>'event_id');
    INSERT INTO daz.playlist_requests (room, username, via, media_type, media_id, link, event_id)
    VALUES (v_room, p_ctx->>'user', p_ctx->>'via', v_link.media_type, v_link.media_id, v_url, p_ctx->>'event_id');
    RETURN format('Queueing %s:%s at the end of the playlist.', v_link.media_type, left(v_link.media_id, 200));
END
$$;
COMMENT ON FUNCTION daz.cmd_playlistadd(jsonb) IS
    '!playlistadd <url> (bot admins): infers the media type like CyTube (daz.bot_media_link) and emits queue {id, type, pos:"end", temp:true}; a queueFail answer is reported back to the user by daz.bot_queue_fail.';

CREATE OR REPLACE FUNCTION daz.cmd_playlistdelete(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_arg   text := p_ctx->'args'->>0;
    v_uid   bigint;
    v_title text;
    v_known boolean;
BEGIN
    IF v_arg IS NULL OR v_arg !~ '^#?\d{1,15}$' THEN
        RETURN format('Usage: %splaylistdelete <uid> (the playlist item number)', p_ctx->>'prefix');
    END IF;
    v_uid := ltrim(v_arg, '#')::bigint;
    SELECT p.title INTO v_title FROM daz.playlist p WHERE p.room = p_ctx->>'room' AND p.uid = v_uid;
    v_known := FOUND;
    PERFORM daz.enqueue('cytube', 'emit', jsonb_build_object('event', 'delete', 'data', v_uid),
                        p_ctx->>'room', 1, now(), NULL, p_ctx->>'event_id');
    RETURN format('Deleting #%s%s.', v_uid, CASE WHEN v_known THEN format(' (%s)', coalesce(v_title, 'untitled'))
                                                 ELSE ' (not in my copy of the playlist)' END);
END
$$;
COMMENT ON FUNCTION daz.cmd_playlistdelete(jsonb) IS '!playlistdelete <uid> (bot admins): emits delete <uid> (a number), naming the item if the playlist mirror knows it.';

-- Subscription playlist_fail (queueFail): tell the user whose !playlistadd failed, the way they asked.
CREATE OR REPLACE FUNCTION daz.bot_queue_fail(p_job daz.jobs)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_room text := p_job.payload->>'room';
    v_f    jsonb := p_job.payload->'payload';
    v_req  daz.playlist_requests;
BEGIN
    SELECT r.* INTO v_req FROM daz.playlist_requests r
     WHERE r.room = v_room AND r.failed_at IS NULL AND r.requested_at > now() - interval '10 minutes'
       AND (r.media_id = v_f->>'id' OR r.link = v_f->>'link')
     ORDER BY r.requested_at DESC, r.id DESC
     LIMIT 1
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('reported', false);
    END IF;
    UPDATE daz.playlist_requests SET failed_at = now(), error = left(v_f->>'msg', 500) WHERE id = v_req.id;
    PERFORM daz.bot_reply(v_room, v_req.via, v_req.username,
        format('%s, CyTube could not queue %s: %s', v_req.username, left(v_req.link, 200),
               left(coalesce(daz.html_to_text(v_f->>'msg'), 'no reason given'), 200)),
        p_job.correlation_id, now(), true);
    RETURN jsonb_build_object('reported', true, 'request', v_req.id);
END
$$;
COMMENT ON FUNCTION daz.bot_queue_fail(daz.jobs) IS
    'Handler of subscription playlist_fail (queueFail): reports the failure to the user of the matching recent !playlistadd (same media id or link, last 10 minutes), by chat or pm as they asked.';

REVOKE ALL ON FUNCTION daz.bot_media_link(text), daz.cmd_playlistadd(jsonb), daz.cmd_playlistdelete(jsonb),
    daz.bot_queue_fail(daz.jobs) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.bot_media_link(text) TO daz_operator, daz_reader;
