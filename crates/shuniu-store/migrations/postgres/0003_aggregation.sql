-- Aggregation: the record of every load, saved column mappings, and scheduled pulls from
-- department databases. Dataset contents live in the lake, never here.
CREATE TABLE loads (
    id               TEXT PRIMARY KEY,
    resource_code    TEXT NOT NULL REFERENCES resources(code),
    mode             TEXT NOT NULL,
    status           TEXT NOT NULL,
    principal        TEXT NOT NULL,
    department_code  TEXT NOT NULL,
    connector_id     TEXT,
    source_name      TEXT NOT NULL,
    source_format    TEXT NOT NULL,
    source_encoding  TEXT,
    source_sm3       TEXT,
    source_bytes     BIGINT NOT NULL DEFAULT 0,
    bytes_read       BIGINT NOT NULL DEFAULT 0,
    rows_read        BIGINT NOT NULL DEFAULT 0,
    rows_accepted    BIGINT NOT NULL DEFAULT 0,
    rows_rejected    BIGINT NOT NULL DEFAULT 0,
    rows_inserted    BIGINT NOT NULL DEFAULT 0,
    rows_updated     BIGINT NOT NULL DEFAULT 0,
    rows_deleted     BIGINT NOT NULL DEFAULT 0,
    version          BIGINT,
    error_code       TEXT,
    error_zh         TEXT,
    error_en         TEXT,
    report           TEXT NOT NULL DEFAULT '{}',
    started_at       TEXT NOT NULL,
    heartbeat_at     TEXT NOT NULL,
    finished_at      TEXT,
    duration_ms      BIGINT
);
CREATE INDEX loads_resource ON loads(resource_code, started_at);
CREATE INDEX loads_status ON loads(status);

CREATE TABLE column_mappings (
    resource_code TEXT NOT NULL REFERENCES resources(code),
    source_header TEXT NOT NULL,
    item_name     TEXT NOT NULL,
    updated_by    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (resource_code, source_header)
);

CREATE TABLE connectors (
    id              TEXT PRIMARY KEY,
    resource_code   TEXT NOT NULL REFERENCES resources(code),
    kind            TEXT NOT NULL,
    url             TEXT NOT NULL,
    source_table    TEXT NOT NULL,
    mode            TEXT NOT NULL,
    updated_column  TEXT,
    schedule        TEXT NOT NULL,
    watermark       TEXT,
    enabled         BIGINT NOT NULL DEFAULT 1,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    next_run_at     TEXT,
    last_run_at     TEXT,
    last_load_id    TEXT
);
CREATE INDEX connectors_resource ON connectors(resource_code);
