-- Benefit policies (免申即享、惠企通): definitions in the rule language, versioned and reviewed
-- like indicators. The definition is JSON (docs/matching.md); what the lists need is in columns.
CREATE TABLE policies (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    department  TEXT NOT NULL,
    -- persons | enterprises
    target      TEXT NOT NULL,
    -- The version in force: 0 until one is published.
    version     BIGINT NOT NULL,
    -- The version in force, as JSON; '' until one is published.
    spec        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX policies_department ON policies(department, code);
CREATE TABLE policy_versions (
    code        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    spec        TEXT NOT NULL,
    -- draft | submitted | published | returned | superseded
    state       TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    reviewer    TEXT,
    reviewed_at TEXT,
    comment     TEXT NOT NULL,
    PRIMARY KEY (code, version)
);
