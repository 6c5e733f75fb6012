-- events_html.sql — daz.html_to_text: CyTube chat HTML (escaped text, <a href> links) to plain text.

CREATE OR REPLACE FUNCTION daz.html_to_text(p_html text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    -- Tags are stripped first, then entities decoded in one pass, so "&lt;b&gt;" becomes the text "<b>"
    -- and "&amp;lt;" becomes "&lt;" (never decoded twice).
    SELECT COALESCE(string_agg(
               CASE
                   WHEN m[2] IS NULL THEN m[1]
                   WHEN m[2] = 'amp'  THEN '&'
                   WHEN m[2] = 'lt'   THEN '<'
                   WHEN m[2] = 'gt'   THEN '>'
                   WHEN m[2] = 'quot' THEN '"'
                   WHEN m[2] = 'apos' THEN ''''
                   WHEN m[2] = 'nbsp' THEN chr(160)
                   WHEN m[2] ~ '^#[0-9]{1,7}$'
                        AND substr(m[2], 2)::int BETWEEN 1 AND 1114111
                        AND substr(m[2], 2)::int NOT BETWEEN 55296 AND 57343
                       THEN chr(substr(m[2], 2)::int)
                   WHEN m[2] ~* '^#x[0-9a-f]{1,6}$'
                        AND ('x' || lpad(substr(m[2], 3), 8, '0'))::bit(32)::int BETWEEN 1 AND 1114111
                        AND ('x' || lpad(substr(m[2], 3), 8, '0'))::bit(32)::int NOT BETWEEN 55296 AND 57343
                       THEN chr(('x' || lpad(substr(m[2], 3), 8, '0'))::bit(32)::int)
                   ELSE m[1]
               END, '' ORDER BY r.n), '')
      FROM regexp_matches(regexp_replace(p_html, '<[^>]*>', '', 'g'),
                          '([^&]+|&(#?[A-Za-z0-9]{1,8});|&)', 'g') WITH ORDINALITY AS r(m, n)
$$;
COMMENT ON FUNCTION daz.html_to_text(text) IS
    'Plain text of a CyTube chat message: HTML tags stripped (links keep their text), then entities decoded '
    '(&amp; &lt; &gt; &quot; &apos; &nbsp; and numeric &#NN; / &#xHH;). Unknown entities are kept as written.';

GRANT EXECUTE ON FUNCTION daz.html_to_text(text) TO PUBLIC;
