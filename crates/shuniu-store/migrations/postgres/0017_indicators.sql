-- Indicators (城市大脑): definitions, versioned and reviewed; computation runs with the dataset
-- versions they read; alerts raised by thresholds. The values themselves live in the lake
-- (the `_indicator_values` Delta table): the control plane keeps only the latest city figure
-- of each indicator, for lists.
CREATE TABLE indicators (
    code           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    department     TEXT NOT NULL,
    unit           TEXT NOT NULL,
    grain          TEXT NOT NULL,
    -- The version in force: 0 until one is published.
    version        BIGINT NOT NULL,
    -- The version in force, as JSON; '' until one is published.
    spec           TEXT NOT NULL,
    schedule       TEXT NOT NULL,
    next_run_at    TEXT,
    last_run_at    TEXT,
    latest_period  TEXT,
    -- Decimal text: values are exact as computed, never rounded through the control plane.
    latest_value   TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX indicators_department ON indicators(department, code);
CREATE INDEX indicators_next_run ON indicators(next_run_at);
CREATE TABLE indicator_versions (
    code           TEXT NOT NULL,
    version        BIGINT NOT NULL,
    spec           TEXT NOT NULL,
    -- draft | submitted | published | returned | superseded
    state          TEXT NOT NULL,
    author         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    reviewer       TEXT,
    reviewed_at    TEXT,
    comment        TEXT NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE TABLE indicator_runs (
    id             TEXT PRIMARY KEY,
    code           TEXT NOT NULL,
    version        BIGINT NOT NULL,
    -- schedule | demand | backfill
    trigger_kind   TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    -- succeeded | failed
    state          TEXT NOT NULL,
    rows_written   BIGINT NOT NULL,
    -- The dataset versions the query read: [{"resource": "…", "version": n}].
    sources        TEXT NOT NULL,
    -- The version of the values table that holds this run's rows.
    values_version BIGINT,
    error          TEXT NOT NULL,
    actor          TEXT NOT NULL
);
CREATE INDEX indicator_runs_code ON indicator_runs(code, started_at);
CREATE TABLE indicator_alerts (
    id             TEXT PRIMARY KEY,
    code           TEXT NOT NULL,
    -- '' for the city as a whole.
    district       TEXT NOT NULL,
    street         TEXT NOT NULL,
    -- upper | lower | change | no_data
    kind           TEXT NOT NULL,
    severity       TEXT NOT NULL,
    -- open | resolved
    state          TEXT NOT NULL,
    period         TEXT NOT NULL,
    value          TEXT,
    bound          TEXT,
    opened_at      TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    resolved_at    TEXT,
    event_id       TEXT,
    run_id         TEXT NOT NULL
);
CREATE INDEX indicator_alerts_code ON indicator_alerts(code, state);
CREATE INDEX indicator_alerts_state ON indicator_alerts(state, opened_at);
