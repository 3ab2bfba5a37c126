-- Traceability. audit_records is the audit log itself when it is kept in the database
-- (PostgreSQL in production): entry and checkpoint records in log order. audit_index and
-- audit_subjects are derived from the log (wherever it is kept) for search, the citizen page
-- and flow monitoring; they can be rebuilt from it and are never used to verify it.
CREATE TABLE audit_records (
    position BIGINT PRIMARY KEY,
    kind     TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    payload  BYTEA NOT NULL,
    hash     BYTEA NOT NULL
);
CREATE INDEX audit_records_seq ON audit_records (kind, seq);

CREATE TABLE audit_index (
    idx        BIGINT PRIMARY KEY,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    action     TEXT NOT NULL,
    principal  TEXT NOT NULL,
    department TEXT NOT NULL,
    channel    TEXT NOT NULL,
    resource   TEXT,
    provider   TEXT,
    rows_count BIGINT,
    result     TEXT NOT NULL,
    purpose    TEXT
);
CREATE INDEX audit_index_at ON audit_index (at);
CREATE INDEX audit_index_resource ON audit_index (resource, at);
CREATE INDEX audit_index_principal ON audit_index (principal, at);
CREATE INDEX audit_index_department ON audit_index (department, at);

CREATE TABLE audit_subjects (
    subject TEXT NOT NULL,
    idx     BIGINT NOT NULL,
    PRIMARY KEY (subject, idx)
);
