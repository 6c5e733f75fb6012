-- bot_commands_guard.sql — keeps daz.commands consistent: lower-case unique names and aliases, handlers with the right signature.

CREATE OR REPLACE FUNCTION daz.bot_commands_guard()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_clash text;
    v_proc  record;
BEGIN
    NEW.name := lower(NEW.name);
    SELECT coalesce(array_agg(DISTINCT lower(btrim(a)) ORDER BY lower(btrim(a))), '{}')
      INTO NEW.aliases
      FROM unnest(NEW.aliases) AS a
     WHERE btrim(a) <> '' AND lower(btrim(a)) <> NEW.name;
    IF EXISTS (SELECT 1 FROM unnest(NEW.aliases) a WHERE a !~ '^[a-z0-9][a-z0-9_-]{0,31}$') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.commands: bad alias in %s for command "%s" (use [a-z0-9_-], at most 32 chars)', NEW.aliases, NEW.name);
    END IF;
    SELECT c.name INTO v_clash
      FROM daz.commands c
     WHERE c.name <> coalesce(CASE WHEN TG_OP = 'UPDATE' THEN OLD.name END, '')
       AND c.name <> NEW.name
       AND (c.name = ANY (NEW.aliases) OR c.aliases && (NEW.aliases || NEW.name))
     LIMIT 1;
    IF v_clash IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '23505',
            MESSAGE = format('daz.commands: "%s" or one of its aliases %s is already taken by command "%s"', NEW.name, NEW.aliases, v_clash);
    END IF;
    SELECT p.pronargs, p.proargtypes[0] AS arg0, p.prorettype INTO v_proc
      FROM pg_proc p WHERE p.oid = NEW.handler;
    IF NOT FOUND OR v_proc.pronargs <> 1 OR v_proc.arg0 <> 'jsonb'::regtype OR v_proc.prorettype <> 'text'::regtype THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.commands: handler %s of command "%s" must have the signature (jsonb) RETURNS text', NEW.handler, NEW.name);
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION daz.bot_commands_guard() IS
    'Trigger on daz.commands: lower-cases name and aliases, refuses an alias or name already used by another command, and a handler whose signature is not (jsonb) RETURNS text.';

CREATE OR REPLACE TRIGGER commands_guard
    BEFORE INSERT OR UPDATE ON daz.commands
    FOR EACH ROW EXECUTE FUNCTION daz.bot_commands_guard();
COMMENT ON TRIGGER commands_guard ON daz.commands IS
    'Lower-cases name and aliases, refuses clashing names/aliases and handlers that are not (jsonb) RETURNS text; stamps updated_at.';
