-- rooms_view.sql — daz.room_overview: who holds which room, in what state, and whether the holder is alive.

CREATE OR REPLACE VIEW daz.room_overview AS
SELECT r.room,
       r.channel,
       r.username,
       r.holder,
       w.host,
       w.pid,
       r.state,
       CASE WHEN r.holder IS NULL THEN 'free'
            WHEN r.lease_until > now() THEN 'held'
            ELSE 'expired' END                              AS lease,
       r.lease_until - now()                                AS lease_left,
       now() - w.heartbeat_at                               AS heartbeat_age,
       now() - r.connected_since                            AS joined_for,
       r.reconnects,
       r.last_error,
       r.last_event_at,
       r.site,
       r.updated_at
  FROM daz.rooms r
  LEFT JOIN daz.workers w ON w.worker = r.holder
 ORDER BY r.room;

COMMENT ON VIEW daz.room_overview IS
    'Rooms for DBAs: holder worker (with host and pid), connection state, lease free/held/expired and time left, heartbeat age of the holder, time joined, reconnects and last error. An expired lease with an old heartbeat means the holder died; a standby takes the room on its next heartbeat.';

REVOKE ALL ON daz.room_overview FROM PUBLIC;
GRANT SELECT ON daz.room_overview TO daz_operator, daz_reader, daz_daemon;
