-- retsctl 002: the sync-run log (one row per `retsctl sync` run of a team's feed).
-- Idempotent. Columns follow the sync command's JSON; run_id is the local run's id, so pushing a
-- run's log again updates its row instead of adding one.

CREATE TABLE IF NOT EXISTS public.sync_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id      text NOT NULL,
    source       text NOT NULL,
    run_id       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    fetched      integer NOT NULL DEFAULT 0,
    inserted     integer NOT NULL DEFAULT 0,
    updated      integer NOT NULL DEFAULT 0,
    unchanged    integer NOT NULL DEFAULT 0,
    deleted      integer NOT NULL DEFAULT 0,
    rejected     integer NOT NULL DEFAULT 0,
    photos       integer NOT NULL DEFAULT 0,
    pushed       integer NOT NULL DEFAULT 0,
    watermark    timestamptz,
    elapsed_s    numeric,
    error        jsonb,
    CONSTRAINT sync_runs_team_source_run_key UNIQUE (team_id, source, run_id)
);

COMMENT ON TABLE public.sync_runs IS 'One row per retsctl sync run: counts, watermark, outcome.';

CREATE INDEX IF NOT EXISTS sync_runs_team_started_idx ON public.sync_runs (team_id, started_at DESC);

ALTER TABLE public.sync_runs ENABLE ROW LEVEL SECURITY;
