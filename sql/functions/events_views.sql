-- events_views.sql — dashboard views over the event store: chat, activity per hour, media history, top chatters, ingest stats, users online, playlist.

CREATE OR REPLACE VIEW daz.chat AS
SELECT e.room,
       COALESCE(e.server_time, e.received_at)                          AS at,
       e.actor                                                         AS username,
       daz.html_to_text(e.payload->>'msg')                             AS text,
       u.rank,
       COALESCE(e.payload->'meta'->>'action' = 'true', false)          AS is_action,
       e.tags @> '{command}'                                           AS is_command,
       e.tags @> '{history}'                                           AS is_history,
       e.received_at,
       e.id
  FROM daz.events e
  LEFT JOIN daz.users u ON u.room = e.room AND u.name = e.actor
 WHERE e.type = 'chatMsg';
COMMENT ON VIEW daz.chat IS
    'Public chat lines: room, at (CyTube server time, else received_at), username, text (HTML tags stripped, entities '
    'decoded), the user''s current rank, is_action (/me), is_command, is_history (replayed on join). '
    'Filter on received_at for partition pruning.';

CREATE OR REPLACE VIEW daz.activity_hourly AS
SELECT e.room,
       date_trunc('hour', e.received_at, 'UTC')                                          AS hour,
       count(*) FILTER (WHERE e.type = 'chatMsg' AND NOT e.tags @> '{history}')          AS messages,
       count(DISTINCT e.actor) FILTER (WHERE e.type = 'chatMsg' AND NOT e.tags @> '{history}') AS chatters,
       count(*) FILTER (WHERE e.type = 'addUser')                                        AS joins,
       count(*) FILTER (WHERE e.type = 'userLeave')                                      AS leaves
  FROM daz.events e
 WHERE e.type IN ('chatMsg', 'addUser', 'userLeave')
 GROUP BY 1, 2;
COMMENT ON VIEW daz.activity_hourly IS
    'Per room and UTC hour: live chat messages, distinct chatters, joins (addUser) and leaves (userLeave).';

CREATE OR REPLACE VIEW daz.media_history AS
SELECT m.room,
       m.started_at,
       m.ended_at,
       m.media_type,
       m.media_id,
       daz.html_to_text(m.title)                                                 AS title,
       m.seconds,
       EXTRACT(epoch FROM m.ended_at - m.started_at)::int                        AS played_seconds,
       m.queued_by,
       CASE m.media_type
           WHEN 'yt' THEN 'https://youtu.be/' || m.media_id
           WHEN 'tw' THEN 'https://twitch.tv/' || m.media_id
           WHEN 'vm' THEN 'https://vimeo.com/' || m.media_id
           WHEN 'dm' THEN 'https://www.dailymotion.com/video/' || m.media_id
           WHEN 'sc' THEN m.media_id
           WHEN 'fi' THEN m.media_id
       END                                                                       AS link
  FROM daz.media_plays m;
COMMENT ON VIEW daz.media_history IS
    'What played in each room: start, end (next play in the room), media type and id, title, length, seconds actually '
    'played, who queued it, and a link for the common media types.';

CREATE OR REPLACE VIEW daz.top_chatters AS
SELECT u.room,
       u.name,
       u.messages,
       u.last_message_at,
       u.rank,
       u.online,
       rank() OVER (PARTITION BY u.room ORDER BY u.messages DESC) AS place
  FROM daz.users u
 WHERE u.messages > 0;
COMMENT ON VIEW daz.top_chatters IS
    'Users by public chat lines stored, per room (place 1 = most), with last message time, rank and whether online.';

CREATE OR REPLACE VIEW daz.ingest_stats AS
SELECT c.hour, c.room, c.type, c.stored, c.dropped, c.duplicates,
       c.stored + c.dropped + c.duplicates AS received
  FROM daz.ingest_counters c;
COMMENT ON VIEW daz.ingest_stats IS
    'Per UTC hour, room and event type: events received, stored, dropped by a log rule and skipped as duplicates '
    '(from daz.ingest_counters, kept as long as the longest retention).';

CREATE OR REPLACE VIEW daz.users_online AS
SELECT u.room, u.name, u.rank, u.afk,
       (SELECT max(s.joined_at) FROM daz.user_sessions s
         WHERE s.room = u.room AND s.name = u.name AND s.left_at IS NULL) AS since
  FROM daz.users u
 WHERE u.online;
COMMENT ON VIEW daz.users_online IS 'Users in each room now, with rank, afk and since when (their open session).';

CREATE OR REPLACE VIEW daz.playlist_now AS
SELECT p.room, row_number() OVER (PARTITION BY p.room ORDER BY p.pos, p.uid) AS position, p.uid, p.media_type, p.media_id, daz.html_to_text(p.title) AS title, p.seconds, p.duration,
       p.temp, p.queued_by, p.is_current
  FROM daz.playlist p;
COMMENT ON VIEW daz.playlist_now IS 'Each room''s playlist in order (position 1 = first), the current item marked.';

REVOKE ALL ON daz.chat, daz.activity_hourly, daz.media_history, daz.top_chatters, daz.ingest_stats,
              daz.users_online, daz.playlist_now FROM PUBLIC;
GRANT SELECT ON daz.chat, daz.activity_hourly, daz.media_history, daz.top_chatters, daz.ingest_stats,
                daz.users_online, daz.playlist_now TO daz_reader, daz_operator;
