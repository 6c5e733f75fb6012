-- 50_bot_playlist.sql — media type from a URL as CyTube infers it; !playlistadd / !playlistdelete; queueFail reported back.
BEGIN;
SELECT plan(45);
\ir 50_bot_helpers.psql

UPDATE daz.commands SET cooldown = '0';

-- ---------------------------------------------------------------- URL → {type, id}
SELECT is((SELECT ARRAY[media_type, media_id] FROM daz.bot_media_link(u)), ARRAY[t, i], format('%s → %s:%s', u, t, i))
  FROM (VALUES
    ('https://www.youtube.com/watch?v=dQw4w9WgXcQ', 'yt', 'dQw4w9WgXcQ'),
    ('https://youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42', 'yt', 'dQw4w9WgXcQ'),
    ('https://youtu.be/dQw4w9WgXcQ', 'yt', 'dQw4w9WgXcQ'),
    ('https://www.youtube.com/shorts/abcdefghijkXYZ', 'yt', 'abcdefghijk'),
    ('https://www.youtube.com/playlist?list=PL0123456789', 'yp', 'PL0123456789'),
    ('https://www.twitch.tv/somechannel', 'tw', 'somechannel'),
    ('https://www.twitch.tv/videos/123456', 'tv', 'v123456'),
    ('https://www.twitch.tv/somechannel/clip/FunnyClipSlug', 'tc', 'FunnyClipSlug'),
    ('https://clips.twitch.tv/FunnyClipSlug', 'tc', 'FunnyClipSlug'),
    ('https://vimeo.com/76979871', 'vi', '76979871'),
    ('https://www.dailymotion.com/video/x7tgad0', 'dm', 'x7tgad0'),
    ('https://soundcloud.com/artist/track-name', 'sc', 'https://soundcloud.com/artist/track-name'),
    ('https://streamable.com/abc12', 'sb', 'abc12'),
    ('https://drive.google.com/file/d/1AbCdEfGh/view?usp=sharing', 'gd', '1AbCdEfGh'),
    ('https://drive.google.com/open?id=1AbCdEfGh', 'gd', '1AbCdEfGh'),
    ('https://docs.google.com/file/d/1AbCdEfGh/edit', 'gd', '1AbCdEfGh'),
    ('https://livestream.com/accounts/12345/events/678', 'li', '12345;678'),
    ('https://www.bitchute.com/video/AbC123/', 'bc', 'AbC123'),
    ('https://www.nicovideo.jp/watch/sm9', 'nv', 'sm9'),
    ('https://odysee.com/@someone:a/some-video:b', 'od', 'someone;some-video'),
    ('https://artist.bandcamp.com/track/song-title', 'bn', 'artist;song-title'),
    ('https://peertube.example/w/abcdefghijklmnopqrstuv', 'pt', 'peertube.example;abcdefghijklmnopqrstuv'),
    ('https://example.com/live/stream.m3u8', 'hl', 'https://example.com/live/stream.m3u8'),
    ('https://example.com/media/manifest.json', 'cm', 'https://example.com/media/manifest.json'),
    ('rtmp://example.com/live/key', 'rt', 'rtmp://example.com/live/key'),
    ('https://example.com/videos/clip.mp4?token=1', 'fi', 'https://example.com/videos/clip.mp4?token=1'),
    ('yt:dQw4w9WgXcQ', 'yt', 'dQw4w9WgXcQ'),
    ('dm:x7tgad0_some-title', 'dm', 'x7tgad0'),
    ('fi:https://example.com/a.mp4?x=1', 'fi', 'https://example.com/a.mp4?x=1')
  ) AS c(u, t, i);
SELECT throws_ok($$SELECT * FROM daz.bot_media_link('not a link')$$, '22023', NULL, 'text that is no link is refused');
SELECT throws_ok($$SELECT * FROM daz.bot_media_link('https://livestream.com/somename')$$, '22023', NULL,
                 'a livestream link without account id is refused, as CyTube does');

-- ---------------------------------------------------------------- !playlistadd
SELECT pg_temp.chat('boss', '!playlistadd <a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ&amp;t=1" target="_blank" rel="noopener noreferrer">https://www.youtube.com/watch?v=dQw4w9WgXcQ&amp;t=1</a>');
SELECT daz.run_jobs('test', 100);
SELECT is((SELECT payload FROM daz.jobs WHERE queue = 'cytube' AND kind = 'emit'),
          '{"event": "queue", "data": {"id": "dQw4w9WgXcQ", "type": "yt", "pos": "end", "temp": true}}'::jsonb,
          '!playlistadd emits queue {id, type, pos:"end", temp:true} from the link in the chat HTML');
SELECT is((SELECT ARRAY[priority::text, room] FROM daz.jobs WHERE queue = 'cytube' AND kind = 'emit'), ARRAY['1', 'lobby'],
          '... at priority 1 for the room');
SELECT is(pg_temp.take(), ARRAY['emit:queue {"id": "dQw4w9WgXcQ", "pos": "end", "temp": true, "type": "yt"}',
                                'chat:Queueing yt:dQw4w9WgXcQ at the end of the playlist.'], '... and says so');
SELECT daz.ingest(ARRAY[pg_temp.ev('queueFail',
    '{"msg": "The YouTube API now requires an API key.  Please see the documentation for youtube-v3-key in config.template.yaml", "link": "https://youtu.be/dQw4w9WgXcQ", "id": "dQw4w9WgXcQ"}',
    '{media,queue}', NULL)]);
SELECT is(pg_temp.take(),
          ARRAY['chat:boss, CyTube could not queue https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1: The YouTube API now requires an API key.  Please see the documentation for youtube-v3-key in config.template.yaml'],
          'a queueFail is reported to whoever asked');
SELECT ok((SELECT failed_at IS NOT NULL AND error LIKE 'The YouTube API%' FROM daz.playlist_requests), '... and recorded');
SELECT daz.ingest(ARRAY[pg_temp.ev('queueFail', '{"msg": "x", "link": "https://vimeo.com/1", "id": "1"}', '{media,queue}', NULL)]);
SELECT is(pg_temp.take(), '{}'::text[], 'a queueFail nobody asked for is not reported');
SELECT is(pg_temp.whisper('boss', '!add https://vimeo.com/76979871'),
          ARRAY['emit:queue {"id": "76979871", "pos": "end", "temp": true, "type": "vi"}', 'pm:boss:Queueing vi:76979871 at the end of the playlist.'],
          '!add (alias) by pm: answered by pm');
SELECT daz.ingest(ARRAY[pg_temp.ev('queueFail', '{"msg": "Private video", "link": "https://vimeo.com/76979871", "id": "76979871"}', '{media,queue}', NULL)]);
SELECT is(pg_temp.take(), ARRAY['pm:boss:boss, CyTube could not queue https://vimeo.com/76979871: Private video'],
          '... and its queueFail by pm too');
SELECT is(pg_temp.say('boss', '!playlistadd hello'),
          ARRAY['chat:!playlistadd: could not determine the media type (see https://git.io/fjtOK for supported links)'],
          'a non-link is refused with CyTube''s reason');
SELECT is(pg_temp.say('boss', '!playlistadd'), ARRAY['chat:Usage: !playlistadd <url>'], '!playlistadd without a link: usage');
SELECT is(pg_temp.say('alice', '!playlistadd https://youtu.be/dQw4w9WgXcQ'), ARRAY['pm:alice:!playlistadd is for bot admins only.'],
          'a registered user who is not a bot admin is refused');

-- ---------------------------------------------------------------- !playlistdelete
INSERT INTO daz.playlist (room, uid, pos, media_type, media_id, title, seconds, added_at)
VALUES ('lobby', 7, 1, 'yt', 'dQw4w9WgXcQ', 'Never Gonna Give You Up', 213, now());
SELECT is(pg_temp.say('boss', '!playlistdelete 7'), ARRAY['emit:delete 7', 'chat:Deleting #7 (Never Gonna Give You Up).'],
          '!playlistdelete emits delete <uid> and names the item');
SELECT pg_temp.chat('boss', '!delete #7');
SELECT daz.run_jobs('test', 100);
SELECT is((SELECT payload->'data' FROM daz.jobs WHERE kind = 'emit'), '7'::jsonb, 'the uid is sent as a number');
SELECT pg_temp.take();
SELECT is(pg_temp.say('boss', '!playlistdelete seven'), ARRAY['chat:Usage: !playlistdelete <uid> (the playlist item number)'],
          '!playlistdelete refuses a non-number');

SELECT * FROM finish();
ROLLBACK;
