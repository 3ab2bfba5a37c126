-- City events (一网统管): the category tree, the dispatch rules, the events, every step of each,
-- and the keys of the Open311 clients allowed to post.
CREATE TABLE event_categories (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    parent          TEXT,
    -- Deadlines per urgency, in working hours (the hub's calendar).
    normal_hours    BIGINT NOT NULL,
    urgent_hours    BIGINT NOT NULL,
    emergency_hours BIGINT NOT NULL,
    keywords        TEXT NOT NULL,
    -- Open311 attribute definitions (JSON list).
    attributes      TEXT NOT NULL,
    description     TEXT NOT NULL
);
CREATE TABLE event_rules (
    id              TEXT PRIMARY KEY,
    -- A category code or the code of a branch of the tree ('' = every category).
    category        TEXT NOT NULL,
    -- A GB/T 2260 district code ('' = every district).
    district        TEXT NOT NULL,
    department      TEXT NOT NULL,
    assisting       TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    -- The Open311 token a client polls until the request has an id.
    token           TEXT NOT NULL UNIQUE,
    parent_id       TEXT,
    channel         TEXT NOT NULL,
    external_id     TEXT,
    category        TEXT NOT NULL,
    -- The suggestion's confidence in thousandths, coordinates in millionths of a degree:
    -- integers, because a NULL float bound through sqlx's Any driver fixes the prepared
    -- statement's parameter type and a later float no longer binds on PostgreSQL.
    confidence      BIGINT,
    description     TEXT NOT NULL,
    address         TEXT NOT NULL,
    lat             BIGINT,
    lon             BIGINT,
    district        TEXT NOT NULL,
    street          TEXT NOT NULL,
    -- The reporter: their name and phone sealed (masked to handlers), and the audit subject.
    reporter_sealed TEXT NOT NULL,
    reporter_subject TEXT,
    state           TEXT NOT NULL,
    urgency         TEXT NOT NULL,
    department      TEXT,
    assisting       TEXT NOT NULL,
    reported_at     TEXT NOT NULL,
    dispatched_at   TEXT,
    handled_at      TEXT,
    closed_at       TEXT,
    due_at          TEXT,
    escalation      BIGINT NOT NULL,
    reminded        BIGINT NOT NULL,
    satisfaction    BIGINT,
    attributes      TEXT NOT NULL,
    media_url       TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX events_updated ON events(updated_at);
CREATE INDEX events_reported ON events(reported_at);
CREATE INDEX events_department ON events(department, state);
CREATE INDEX events_state_due ON events(state, due_at);
CREATE INDEX events_district ON events(district, category);
CREATE TABLE event_steps (
    event_id    TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    department  TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    note        TEXT NOT NULL,
    photos      TEXT NOT NULL,
    PRIMARY KEY (event_id, seq)
);
CREATE INDEX event_steps_at ON event_steps(at);
CREATE TABLE open311_clients (
    key_digest  TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
