-- Foundation: identity and the catalog. Integers are 64-bit and booleans are 0/1 so that
-- the same queries decode identically on SQLite and PostgreSQL.
CREATE TABLE departments (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    short_name  TEXT NOT NULL,
    parent_code TEXT REFERENCES departments(code),
    division    TEXT NOT NULL,
    credit_code TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    login           TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    department_code TEXT NOT NULL REFERENCES departments(code),
    password_hash   TEXT NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    login      TEXT NOT NULL REFERENCES users(login),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_login ON sessions(login);

CREATE TABLE applications (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    department_code TEXT NOT NULL REFERENCES departments(code),
    role            TEXT NOT NULL,
    key_prefix      TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT
);

CREATE TABLE resources (
    code         TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    name         TEXT NOT NULL,
    provider     TEXT NOT NULL REFERENCES departments(code),
    category     TEXT NOT NULL,
    share_type   TEXT NOT NULL,
    open_type    TEXT NOT NULL,
    level        TEXT NOT NULL,
    update_cycle TEXT NOT NULL,
    spec_json    TEXT NOT NULL,
    status_note  TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX resources_provider ON resources(provider);
CREATE INDEX resources_status ON resources(status);

CREATE TABLE resource_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    code      TEXT NOT NULL REFERENCES resources(code),
    version   INTEGER NOT NULL,
    action    TEXT NOT NULL,
    status    TEXT NOT NULL,
    actor     TEXT NOT NULL,
    at        TEXT NOT NULL,
    note      TEXT NOT NULL DEFAULT '',
    spec_json TEXT NOT NULL
);
CREATE INDEX resource_history_code ON resource_history(code, id);

CREATE TABLE code_sequences (
    scope TEXT PRIMARY KEY,
    last  INTEGER NOT NULL
);
