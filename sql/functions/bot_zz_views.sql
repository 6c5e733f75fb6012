-- bot_zz_views.sql — daz.command_overview: every command with its rules and how it was used in the last 24 hours.

CREATE OR REPLACE VIEW daz.command_overview AS
SELECT c.name,
       c.aliases,
       c.enabled,
       c.rooms,
       c.min_rank,
       c.admin_only,
       coalesce(c.cooldown, daz.setting('default_cooldown', '5 seconds')::interval) AS cooldown,
       c.handler,
       coalesce(l.ok, 0)       AS ok_24h,
       coalesce(l.errors, 0)   AS errors_24h,
       coalesce(l.refused, 0)  AS refused_24h,
       l.last_used,
       l.last_error
  FROM daz.commands c
  LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE g.outcome = 'ok')                              AS ok,
               count(*) FILTER (WHERE g.outcome = 'error')                           AS errors,
               count(*) FILTER (WHERE g.outcome IN ('rank', 'admin', 'cooldown'))    AS refused,
               max(g.at) FILTER (WHERE g.outcome = 'ok')                             AS last_used,
               (array_agg(g.error ORDER BY g.id DESC) FILTER (WHERE g.outcome = 'error'))[1] AS last_error
          FROM daz.command_log g
         WHERE g.command = c.name AND g.at > now() - interval '24 hours') l ON true
 ORDER BY c.name;

COMMENT ON VIEW daz.command_overview IS
    'Chat commands for DBAs and dashboards: aliases, enabled, rooms, rank, admin-only, effective cooldown, handler, and from daz.command_log the last 24 hours: successful uses, handler errors, refusals (rank, admin, cooldown), last use and last error.';

REVOKE ALL ON daz.command_overview FROM PUBLIC;
GRANT SELECT ON daz.command_overview TO daz_operator, daz_reader;
