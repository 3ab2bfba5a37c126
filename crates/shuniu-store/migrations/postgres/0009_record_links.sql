-- Record linkage (记录关联): which person or enterprise a record of a source without a clean
-- key (a hospital visit, a hotline call) belongs to. The subject is kept as its keyed SM3
-- digest, never as the ID number: a profile finds the links by the digest of the number it
-- was asked for. One link per record; `decided_by` is `model` for a link the linkage model
-- made, or the reviewer who confirmed it.
CREATE TABLE record_links (
    resource_code     TEXT NOT NULL,
    record_key        TEXT NOT NULL,
    subject_type      TEXT NOT NULL,
    subject_digest    TEXT NOT NULL,
    match_probability DOUBLE PRECISION NOT NULL,
    decided_by        TEXT NOT NULL,
    linked_at         TEXT NOT NULL,
    PRIMARY KEY (resource_code, record_key)
);
CREATE INDEX record_links_subject ON record_links(subject_type, subject_digest);
