-- retsctl 003: enrichment_jobs, one row queued for every property inserted or whose mapped columns
-- really change. Idempotent.
-- Every insert or real change adds its own job (never merged into a pending one); an upsert that
-- changes no mapped column adds none. Statement-level triggers with transition tables queue a whole
-- bulk upsert's jobs in one INSERT … SELECT (row triggers would cost one insert per row).

CREATE TABLE IF NOT EXISTS public.enrichment_jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    property_id      bigint NOT NULL,  -- properties.id; no FOREIGN KEY: its per-row check locks the property row,
                                       -- a real cost on bulk loads, and properties are never deleted
    team_id          text NOT NULL,
    source           text NOT NULL,
    external_id      text NOT NULL,
    reason           text NOT NULL CHECK (reason IN ('insert', 'update')),
    changed_columns  text[] NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    error            text
);

COMMENT ON TABLE public.enrichment_jobs IS 'Queued by triggers on properties: one job per insert or real change of a mapped column.';

-- Workers claim pending jobs in order (… WHERE state = ''pending'' ORDER BY id FOR UPDATE SKIP LOCKED).
CREATE INDEX IF NOT EXISTS enrichment_jobs_pending_idx ON public.enrichment_jobs (id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS enrichment_jobs_property_idx ON public.enrichment_jobs (property_id);

CREATE OR REPLACE FUNCTION public.retsctl_enqueue_inserted_properties() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    INSERT INTO public.enrichment_jobs (property_id, team_id, source, external_id, reason, changed_columns)
    SELECT n.id, n.team_id, n.source, n.external_id, 'insert',
           ARRAY['external_id', 'address', 'list_price', 'bedrooms', 'bathrooms', 'square_feet', 'year_built',
                 'status', 'description', 'photo_urls']
    FROM inserted_properties AS n
    ORDER BY n.id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION public.retsctl_enqueue_changed_properties() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    INSERT INTO public.enrichment_jobs (property_id, team_id, source, external_id, reason, changed_columns)
    SELECT n.id, n.team_id, n.source, n.external_id, 'update', changed.columns
    FROM new_properties AS n
    JOIN old_properties AS o ON o.id = n.id
    CROSS JOIN LATERAL (SELECT array_remove(ARRAY[
        CASE WHEN o.external_id IS DISTINCT FROM n.external_id THEN 'external_id' END,
        CASE WHEN o.address IS DISTINCT FROM n.address THEN 'address' END,
        CASE WHEN o.list_price IS DISTINCT FROM n.list_price THEN 'list_price' END,
        CASE WHEN o.bedrooms IS DISTINCT FROM n.bedrooms THEN 'bedrooms' END,
        CASE WHEN o.bathrooms IS DISTINCT FROM n.bathrooms THEN 'bathrooms' END,
        CASE WHEN o.square_feet IS DISTINCT FROM n.square_feet THEN 'square_feet' END,
        CASE WHEN o.year_built IS DISTINCT FROM n.year_built THEN 'year_built' END,
        CASE WHEN o.status IS DISTINCT FROM n.status THEN 'status' END,
        CASE WHEN o.description IS DISTINCT FROM n.description THEN 'description' END,
        CASE WHEN o.photo_urls IS DISTINCT FROM n.photo_urls THEN 'photo_urls' END
    ], NULL) AS columns) AS changed
    WHERE cardinality(changed.columns) > 0
    ORDER BY n.id;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS properties_enqueue_inserted ON public.properties;
CREATE TRIGGER properties_enqueue_inserted AFTER INSERT ON public.properties
    REFERENCING NEW TABLE AS inserted_properties
    FOR EACH STATEMENT EXECUTE FUNCTION public.retsctl_enqueue_inserted_properties();

DROP TRIGGER IF EXISTS properties_enqueue_changed ON public.properties;
CREATE TRIGGER properties_enqueue_changed AFTER UPDATE ON public.properties
    REFERENCING OLD TABLE AS old_properties NEW TABLE AS new_properties
    FOR EACH STATEMENT EXECUTE FUNCTION public.retsctl_enqueue_changed_properties();

ALTER TABLE public.enrichment_jobs ENABLE ROW LEVEL SECURITY;
