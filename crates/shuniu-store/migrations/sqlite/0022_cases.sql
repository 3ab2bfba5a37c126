-- Integrated services (一件事一次办) and the durable case engine. A service's definitions are
-- versioned (a running case keeps the version it started on). A case's state and every step
-- live here, so a restarted server continues each case where it stopped; automatic steps and
-- compensations go through an outbox (case_jobs) whose completion is written in the same
-- transaction as the step it completes, and what each did is recorded once per (case, step,
-- action) in case_effects. The applicant's form is sealed under the master key; the
-- applicant is named by the audit's subject digest, never by the ID number itself.
CREATE TABLE services (
    code             TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    version          BIGINT NOT NULL,
    -- The resource whose new rows open cases (event-triggered services), else empty.
    trigger_resource TEXT NOT NULL DEFAULT '',
    updated_at       TEXT NOT NULL
);

CREATE TABLE service_versions (
    code       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    spec       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (code, version)
);

CREATE TABLE cases (
    id             TEXT PRIMARY KEY,
    service        TEXT NOT NULL,
    version        BIGINT NOT NULL,
    -- open, completed, refused, incident, withdrawn
    state          TEXT NOT NULL,
    subject        TEXT NOT NULL,
    subject_masked TEXT NOT NULL,
    form_sealed    TEXT NOT NULL,
    -- application, or event:RESOURCE@VERSION
    origin         TEXT NOT NULL,
    -- One case per service and trigger (an event's subject): opening it twice is a no-op.
    trigger_key    TEXT,
    opened_by      TEXT NOT NULL,
    opened_at      TEXT NOT NULL,
    due_at         TEXT NOT NULL,
    closed_at      TEXT,
    rating         BIGINT,
    rating_note    TEXT NOT NULL DEFAULT '',
    UNIQUE (service, trigger_key)
);
CREATE INDEX cases_service ON cases(service, opened_at);
CREATE INDEX cases_subject ON cases(subject);
CREATE INDEX cases_state ON cases(state);

CREATE TABLE case_steps (
    case_id    TEXT NOT NULL,
    step       TEXT NOT NULL,
    name       TEXT NOT NULL,
    department TEXT NOT NULL,
    -- waiting, ready, done, skipped, returned, refused, failed, compensated
    state      TEXT NOT NULL,
    ready_at   TEXT,
    due_at     TEXT,
    overdue    BIGINT NOT NULL DEFAULT 0,
    decided_at TEXT,
    decided_by TEXT,
    note       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, step)
);
CREATE INDEX case_steps_queue ON case_steps(department, state, due_at);
CREATE INDEX case_steps_due ON case_steps(state, overdue, due_at);

CREATE TABLE case_jobs (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL,
    step       TEXT NOT NULL,
    -- the handler (record, notify …), or compensate:HANDLER
    action     TEXT NOT NULL,
    -- pending, done, failed
    state      TEXT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    next_at    TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    done_at    TEXT,
    UNIQUE (case_id, step, action)
);
CREATE INDEX case_jobs_due ON case_jobs(state, next_at);

CREATE TABLE case_effects (
    case_id TEXT NOT NULL,
    step    TEXT NOT NULL,
    action  TEXT NOT NULL,
    at      TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, step, action)
);

CREATE TABLE case_events (
    case_id TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    step    TEXT NOT NULL DEFAULT '',
    actor   TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, seq)
);

-- How far each event-triggered service has read its resource (Delta version).
CREATE TABLE service_follows (
    service  TEXT PRIMARY KEY,
    resource TEXT NOT NULL,
    version  BIGINT NOT NULL
);
