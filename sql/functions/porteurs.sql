-- porteurs.sql (schema api, see sql/README.md): Porteurs: the organisations that hold the places.

CREATE FUNCTION porteur_json(p porteurs) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p.id, 'name', p.name, 'departement', p.departement,
        'target_youth', p.target_youth, 'version', p.version,
        'created_at', p.created_at, 'updated_at', p.updated_at);
$$;

CREATE FUNCTION porteur_create(body jsonb, actor jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE p porteurs;
BEGIN
    INSERT INTO porteurs (name, departement, target_youth)
    VALUES (body->>'name', body->>'departement', coalesce((body->>'target_youth')::integer, 0))
    RETURNING * INTO p;
    PERFORM audit_write(actor, 'porteur.create', 'porteur', p.id, 'ok', 201);
    RETURN porteur_json(p);
END $$;

CREATE FUNCTION porteur_get(p_id bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE p porteurs;
BEGIN
    SELECT * INTO p FROM porteurs WHERE id = p_id;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('porteur %s does not exist', p_id));
    END IF;
    RETURN porteur_json(p);
END $$;

CREATE FUNCTION porteur_list(f jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT * FROM porteurs
        WHERE id > coalesce((f->>'cursor')::bigint, 0)
          AND (f->>'departement' IS NULL OR departement = f->>'departement')
        ORDER BY id LIMIT (f->>'limit')::integer + 1
    ), numbered AS (
        SELECT page.*, row_number() OVER (ORDER BY id) AS n FROM page
    )
    SELECT jsonb_build_object(
        'items', coalesce(jsonb_agg(porteur_json(ROW(id, name, departement, target_youth, version,
                    created_at, updated_at)::porteurs) ORDER BY id)
                 FILTER (WHERE n <= (f->>'limit')::integer), '[]'),
        'next_cursor', CASE WHEN count(*) > (f->>'limit')::integer
                            THEN (max(id) FILTER (WHERE n <= (f->>'limit')::integer))::text END)
    FROM numbered;
$$;

CREATE FUNCTION porteur_patch(p_id bigint, patch jsonb, if_match integer, actor jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE p porteurs; n porteurs;
BEGIN
    SELECT * INTO p FROM porteurs WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM siaod_fail(404, 'not-found', format('porteur %s does not exist', p_id));
    END IF;
    IF if_match IS NOT NULL AND if_match <> p.version THEN
        PERFORM siaod_fail(412, 'precondition-failed',
            format('the porteur is at version %s, not %s', p.version, if_match));
    END IF;
    n := jsonb_populate_record(p, patch);
    UPDATE porteurs SET name = n.name, departement = n.departement,
        target_youth = coalesce(n.target_youth, 0),
        version = version + 1, updated_at = now()
    WHERE id = p_id RETURNING * INTO p;
    PERFORM audit_write(actor, 'porteur.patch', 'porteur', p_id);
    RETURN porteur_json(p);
END $$;

CREATE FUNCTION porteur_if_match(p_id bigint, candidates integer[]) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT if_match_version(candidates, (SELECT version FROM porteurs WHERE id = p_id));
$$;
