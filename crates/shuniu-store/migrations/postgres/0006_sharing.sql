-- Sharing (供需对接) and the unified data service: demands, requests with their events,
-- grants, daily usage, change subscriptions and webhook deliveries, comparison jobs, and the
-- working-day calendar (public holidays and make-up working days).
CREATE TABLE demands (
    id            TEXT PRIMARY KEY,
    department    TEXT NOT NULL REFERENCES departments(code),
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    resource_code TEXT,
    routed_to     TEXT,
    state         TEXT NOT NULL,
    answer        TEXT NOT NULL DEFAULT '',
    satisfied     BIGINT,
    filed_by      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    answered_at   TEXT
);
CREATE INDEX demands_routed ON demands(routed_to, state);

CREATE TABLE share_requests (
    id             TEXT PRIMARY KEY,
    resource_code  TEXT NOT NULL REFERENCES resources(code),
    provider       TEXT NOT NULL,
    consumer       TEXT NOT NULL,
    application_id TEXT NOT NULL,
    share_type     TEXT NOT NULL,
    state          TEXT NOT NULL,
    spec           TEXT NOT NULL,
    due_at         TEXT,
    requested_by   TEXT NOT NULL,
    decided_by     TEXT,
    reason         TEXT NOT NULL DEFAULT '',
    grant_id       TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX share_requests_provider ON share_requests(provider, state);
CREATE INDEX share_requests_consumer ON share_requests(consumer, state);

CREATE TABLE share_events (
    request_id  TEXT NOT NULL REFERENCES share_requests(id),
    seq         BIGINT NOT NULL,
    at          TEXT NOT NULL,
    principal   TEXT NOT NULL,
    department  TEXT NOT NULL,
    action      TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, seq)
);

CREATE TABLE grants (
    id             TEXT PRIMARY KEY,
    request_id     TEXT,
    resource_code  TEXT NOT NULL REFERENCES resources(code),
    provider       TEXT NOT NULL,
    consumer       TEXT NOT NULL,
    application_id TEXT NOT NULL,
    terms          TEXT NOT NULL,
    state          TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    revoked_by     TEXT,
    revoke_reason  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX grants_application ON grants(application_id, resource_code);

CREATE TABLE grant_usage (
    grant_id  TEXT NOT NULL,
    day       TEXT NOT NULL,
    calls     BIGINT NOT NULL,
    rows_out  BIGINT NOT NULL,
    refused   BIGINT NOT NULL,
    PRIMARY KEY (grant_id, day)
);

CREATE TABLE subscriptions (
    id             TEXT PRIMARY KEY,
    grant_id       TEXT NOT NULL REFERENCES grants(id),
    resource_code  TEXT NOT NULL,
    application_id TEXT NOT NULL,
    url            TEXT NOT NULL,
    cursor_pos     TEXT NOT NULL,
    active         BIGINT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
    from_cursor     TEXT NOT NULL,
    to_cursor       TEXT NOT NULL,
    changes         BIGINT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);

CREATE TABLE comparison_jobs (
    id             TEXT PRIMARY KEY,
    grant_id       TEXT NOT NULL,
    resource_code  TEXT NOT NULL,
    application_id TEXT NOT NULL,
    consumer       TEXT NOT NULL,
    version        BIGINT,
    state          TEXT NOT NULL,
    keys_total     BIGINT NOT NULL,
    keys_done      BIGINT NOT NULL,
    found          BIGINT NOT NULL,
    error          TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    finished_at    TEXT
);

CREATE TABLE calendar_days (
    day   TEXT PRIMARY KEY,
    kind  TEXT NOT NULL,
    note  TEXT NOT NULL DEFAULT ''
);
