-- The review queue of record linkage (人工复核): pairs the model found likely but not certain
-- (match probability between the review floor and the link threshold) wait for a person.
-- The candidate subject is kept as its keyed digest (as in record_links) and, for showing
-- the reviewer the candidate's own record, sealed with the data key (never in clear). A
-- decision is kept: an accepted pair becomes a record link decided by the reviewer; a
-- rejected pair is never linked or queued again by a later model run.
CREATE TABLE link_reviews (
    id                TEXT PRIMARY KEY,
    resource_code     TEXT NOT NULL,
    record_key        TEXT NOT NULL,
    against_code      TEXT NOT NULL,
    subject_type      TEXT NOT NULL,
    subject_digest    TEXT NOT NULL,
    subject_sealed    TEXT NOT NULL,
    match_probability DOUBLE PRECISION NOT NULL,
    explanation       TEXT NOT NULL,
    state             TEXT NOT NULL,
    decided_by        TEXT,
    decided_at        TEXT,
    created_at        TEXT NOT NULL,
    UNIQUE (resource_code, record_key, subject_digest)
);
CREATE INDEX link_reviews_state ON link_reviews(state, resource_code);
