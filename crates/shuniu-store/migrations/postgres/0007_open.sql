-- Open data (公共数据开放): what each open resource publishes (the open rules the provider
-- set, and the publication derived from a dataset version with them), portal counters,
-- the public's accounts and applications for conditionally open data, and public data
-- requests (数据需求征集).
CREATE TABLE open_rules (
    code       TEXT PRIMARY KEY REFERENCES resources(code),
    rules      TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE open_publications (
    code               TEXT PRIMARY KEY REFERENCES resources(code),
    access             TEXT NOT NULL,
    source_version     BIGINT,
    rules              TEXT NOT NULL,
    columns            TEXT NOT NULL,
    rows_published     BIGINT NOT NULL DEFAULT 0,
    state              TEXT NOT NULL,
    error              TEXT NOT NULL DEFAULT '',
    first_published_at TEXT NOT NULL,
    published_at       TEXT NOT NULL
);
CREATE INDEX open_publications_modified ON open_publications(published_at);

CREATE TABLE open_stats (
    code      TEXT PRIMARY KEY,
    views     BIGINT NOT NULL DEFAULT 0,
    downloads BIGINT NOT NULL DEFAULT 0,
    api_calls BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE open_users (
    login         TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    org_name      TEXT NOT NULL,
    credit_code   TEXT,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE open_sessions (
    token_hash TEXT PRIMARY KEY,
    login      TEXT NOT NULL REFERENCES open_users(login),
    expires_at TEXT NOT NULL
);

CREATE TABLE open_applications (
    id           TEXT PRIMARY KEY,
    code         TEXT NOT NULL REFERENCES resources(code),
    provider     TEXT NOT NULL,
    applicant    TEXT NOT NULL REFERENCES open_users(login),
    purpose      TEXT NOT NULL,
    state        TEXT NOT NULL,
    token_hash   TEXT,
    decided_by   TEXT,
    reason       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    decided_at   TEXT
);
CREATE INDEX open_applications_provider ON open_applications(provider, state);
CREATE INDEX open_applications_applicant ON open_applications(applicant);
CREATE UNIQUE INDEX open_applications_token ON open_applications(token_hash);

CREATE TABLE open_requests (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    department  TEXT,
    contact     TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    answer      TEXT NOT NULL DEFAULT '',
    answered_by TEXT,
    created_at  TEXT NOT NULL,
    answered_at TEXT
);
CREATE INDEX open_requests_created ON open_requests(created_at);
