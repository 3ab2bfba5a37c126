-- The hub's outbound notifications (an indicator alert opened or resolved …): written in the
-- same transaction as the change they announce (a transactional outbox), then delivered by the
-- sharing engine's webhook sender — signed, retried with backoff, dead after 8 attempts.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    -- What the notification is about; its signing secret is derived from it
    -- (`indicator:IND-BIRTHS`).
    topic           TEXT NOT NULL,
    -- `indicator.alert.opened`, `indicator.alert.resolved`.
    kind            TEXT NOT NULL,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    -- pending | delivered | dead
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX notifications_due ON notifications(state, next_attempt_at);
CREATE INDEX notifications_topic ON notifications(topic, created_at);
