-- 0010_media_plays_rejoin.sql — daz.media_plays no longer gets a row for every changeMedia.
--
-- CyTube sends changeMedia with the position reached to every socket that joins a room, so each
-- reconnect of the bot repeated the item in progress as a new play starting at the reconnect: a
-- split play in daz.media_history, a second count in !stats and a wrong elapsed time in !np.
-- daz.ingest (events_apply_playlist) now continues the open play instead, and starts a play the
-- bot did not see begin at the position CyTube gives. The rows already stored stay as they are.
COMMENT ON TABLE daz.media_plays IS
    'One row per play of a media item: what played, when it started (received_at of its changeMedia, or '
    'received_at - currentTime for an item already playing when the bot joined), who queued it (from the playlist '
    'item with that media) and when it ended (the next play in the room). The changeMedia CyTube repeats to a '
    'rejoining bot continues the open play.';
