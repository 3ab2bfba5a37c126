-- Eligible lists (免申即享名单): who qualifies for a policy in a period, kept so that the issuing
-- department can review and confirm them, export payment instructions and record payment.
-- One list per policy and period; its entries are keyed by the subject's keyed digest (the
-- audit log's subject form), never by the ID number itself.
CREATE TABLE policy_lists (
    policy           TEXT NOT NULL,
    period           TEXT NOT NULL,
    -- The policy version and library version the list was computed from.
    policy_version   BIGINT NOT NULL,
    library          TEXT NOT NULL,
    library_version  BIGINT NOT NULL,
    eligible         BIGINT NOT NULL,
    amount           DOUBLE PRECISION NOT NULL,
    -- evaluated | confirmed
    state            TEXT NOT NULL,
    evaluated_by     TEXT NOT NULL,
    evaluated_at     TEXT NOT NULL,
    confirmed_by     TEXT,
    confirmed_at     TEXT,
    -- The last refresh: 'full', or 'incremental N' (subjects re-evaluated).
    refreshed        TEXT NOT NULL,
    PRIMARY KEY (policy, period)
);
CREATE TABLE policy_list_entries (
    policy       TEXT NOT NULL,
    period       TEXT NOT NULL,
    -- The subject's keyed digest.
    subject      TEXT NOT NULL,
    key_masked   TEXT NOT NULL,
    name_masked  TEXT,
    amount       DOUBLE PRECISION,
    -- pending | paid | failed
    payment      TEXT NOT NULL,
    -- The payer's reference (bank batch and line) and a note on a failure.
    payment_ref  TEXT NOT NULL,
    payment_note TEXT NOT NULL,
    paid_at      TEXT,
    PRIMARY KEY (policy, period, subject)
);
CREATE INDEX policy_list_entries_payment ON policy_list_entries(policy, period, payment);
