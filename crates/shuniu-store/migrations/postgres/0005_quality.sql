-- Governance and quality: rules per resource, the result of every check run, problem tickets
-- (rule failures, objections, source conflicts) with their history, and the designated
-- authoritative sources of attributes (一数一源).
CREATE TABLE quality_rules (
    resource_code TEXT NOT NULL REFERENCES resources(code),
    rule_id       TEXT NOT NULL,
    spec          TEXT NOT NULL,
    updated_by    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (resource_code, rule_id)
);

CREATE TABLE quality_runs (
    id            TEXT PRIMARY KEY,
    resource_code TEXT NOT NULL REFERENCES resources(code),
    provider      TEXT NOT NULL,
    version       BIGINT NOT NULL,
    load_id       TEXT,
    trigger_kind  TEXT NOT NULL,
    principal     TEXT NOT NULL,
    rows_checked  BIGINT NOT NULL,
    score         DOUBLE PRECISION NOT NULL,
    dimensions    TEXT NOT NULL,
    results       TEXT NOT NULL,
    finished_at   TEXT NOT NULL
);
CREATE INDEX quality_runs_resource ON quality_runs(resource_code, finished_at);

CREATE TABLE quality_tickets (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    resource_code TEXT NOT NULL REFERENCES resources(code),
    provider      TEXT NOT NULL,
    raised_by     TEXT NOT NULL,
    rule_id       TEXT,
    record_key    TEXT,
    column_name   TEXT,
    state         TEXT NOT NULL,
    failed        BIGINT NOT NULL DEFAULT 0,
    summary_zh    TEXT NOT NULL,
    summary_en    TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '{}',
    deadline      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    closed_at     TEXT
);
CREATE INDEX quality_tickets_provider ON quality_tickets(provider, state);
CREATE INDEX quality_tickets_resource ON quality_tickets(resource_code, kind, rule_id);

CREATE TABLE quality_ticket_events (
    ticket_id       TEXT NOT NULL REFERENCES quality_tickets(id),
    seq             BIGINT NOT NULL,
    at              TEXT NOT NULL,
    principal       TEXT NOT NULL,
    department_code TEXT NOT NULL,
    action          TEXT NOT NULL,
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ticket_id, seq)
);

CREATE TABLE authoritative_sources (
    attribute     TEXT PRIMARY KEY,
    label         TEXT NOT NULL,
    key_type      TEXT NOT NULL,
    resource_code TEXT NOT NULL REFERENCES resources(code),
    column_name   TEXT NOT NULL,
    key_column    TEXT NOT NULL,
    designated_by TEXT NOT NULL,
    designated_at TEXT NOT NULL
);
