-- Intake beyond Open311: the registry of cameras and sensors that may post alerts (each with
-- its signing secret, sealed), photos attached to events and their steps, and one event per
-- sending system's own number (a hotline work order pushed twice is one event).
CREATE UNIQUE INDEX events_external ON events(channel, external_id);
CREATE TABLE event_devices (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    -- camera | sensor
    kind          TEXT NOT NULL,
    -- Micro-degrees, for the reason given in 0014.
    lat           BIGINT NOT NULL,
    lon           BIGINT NOT NULL,
    district      TEXT NOT NULL,
    address       TEXT NOT NULL,
    -- The department that owns and answers for the device.
    department    TEXT NOT NULL,
    -- The category an alert of this device falls in unless the alert names one.
    category      TEXT NOT NULL,
    -- The HMAC-SM3 key alerts are signed with, sealed with the master key.
    secret_sealed TEXT NOT NULL,
    active        BIGINT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT
);
CREATE TABLE event_media (
    -- The SM3 digest of the bytes: the same photo uploaded twice is stored once.
    digest        TEXT PRIMARY KEY,
    content_type  TEXT NOT NULL,
    bytes         BYTEA NOT NULL,
    size          BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
