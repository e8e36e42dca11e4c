-- retsctl 001: the properties table (one row per listing per team and feed).
-- Idempotent: safe to run again. Unique on (team_id, source, external_id); rows are never deleted,
-- reconciliation sets deleted_at instead.

CREATE TABLE IF NOT EXISTS public.properties (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id      text NOT NULL CHECK (team_id <> ''),
    source       text NOT NULL CHECK (source <> ''),
    external_id  text NOT NULL CHECK (external_id <> ''),
    address      text,
    list_price   numeric CHECK (list_price >= 0),
    bedrooms     integer CHECK (bedrooms >= 0),
    bathrooms    numeric CHECK (bathrooms >= 0),
    square_feet  integer CHECK (square_feet >= 0),
    year_built   integer,
    status       text CHECK (status IN ('active', 'active_under_contract', 'pending', 'closed', 'canceled',
                                        'expired', 'withdrawn', 'hold', 'coming_soon', 'delete', 'incomplete')),
    description  text,
    photo_urls   text[] NOT NULL DEFAULT '{}',
    source_key   text,
    modified_at  timestamptz,
    raw          jsonb NOT NULL DEFAULT '{}',
    synced_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz,
    CONSTRAINT properties_team_source_external_key UNIQUE (team_id, source, external_id)
);

COMMENT ON TABLE public.properties IS 'Listings synced by retsctl from RETS feeds; unique per (team_id, source, external_id).';

CREATE INDEX IF NOT EXISTS properties_team_status_idx ON public.properties (team_id, status);
CREATE INDEX IF NOT EXISTS properties_team_modified_idx ON public.properties (team_id, modified_at DESC);
CREATE INDEX IF NOT EXISTS properties_team_source_synced_idx ON public.properties (team_id, source, synced_at);
CREATE INDEX IF NOT EXISTS properties_team_price_idx ON public.properties (team_id, list_price) WHERE deleted_at IS NULL;

-- An upsert that changes nothing (PostgREST's ON CONFLICT DO UPDATE sets every column) writes nothing.
DROP TRIGGER IF EXISTS properties_skip_noop_update ON public.properties;
CREATE TRIGGER properties_skip_noop_update BEFORE UPDATE ON public.properties
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();

-- Supabase exposes the public schema over its Data API: no access without a policy (service_role
-- and the table owner bypass RLS, which is how retsctl writes).
ALTER TABLE public.properties ENABLE ROW LEVEL SECURITY;
