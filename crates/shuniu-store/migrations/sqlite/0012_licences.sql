-- Electronic licences (电子证照) and e-seals (电子印章).
--
-- A licence type (证照类型, GB/T 36902 code) is issued by its departments from a catalog
-- resource: which item identifies the holder, which gives the holder's name and the serial,
-- which fields the face and the QR code carry, how long a licence is valid. An e-seal is a
-- department's SM2 key pair: the public key in clear (it is published in the trust list), the
-- private key only sealed under the master key; a seal is rotated by issuing a new one and
-- retiring the old, which stays in the trust list to verify what it signed. A licence is one
-- version of one licence (GB/T 36904 identifier); a re-issue is a new row that supersedes it.
-- The holder is kept as the audit log's keyed subject digest, never in clear; the holder's
-- identifier as shown (masked for persons) is what the face says. Every change of state is
-- an event with its reason.
CREATE TABLE licence_types (
    code             TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    definer          TEXT NOT NULL,
    issuers          TEXT NOT NULL,
    resource_code    TEXT NOT NULL,
    holder_item      TEXT NOT NULL,
    holder_type      TEXT NOT NULL,
    holder_name_item TEXT NOT NULL,
    serial_item      TEXT,
    fields           TEXT NOT NULL,
    validity_years   BIGINT,
    reached_version  BIGINT,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE TABLE licence_seals (
    code               TEXT PRIMARY KEY,
    department         TEXT NOT NULL,
    name               TEXT NOT NULL,
    kid                TEXT NOT NULL UNIQUE,
    public_key         TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    signer_id          TEXT NOT NULL,
    valid_from         TEXT NOT NULL,
    valid_until        TEXT NOT NULL,
    state              TEXT NOT NULL,
    info               TEXT NOT NULL,
    created_by         TEXT NOT NULL,
    created_at         TEXT NOT NULL
);
CREATE INDEX licence_seals_department ON licence_seals(department, state);
CREATE TABLE licences (
    id              TEXT PRIMARY KEY,
    type_code       TEXT NOT NULL,
    serial          TEXT NOT NULL,
    version         BIGINT NOT NULL,
    holder_subject  TEXT NOT NULL,
    holder_type     TEXT NOT NULL,
    holder_name     TEXT NOT NULL,
    holder_shown    TEXT NOT NULL,
    issuer          TEXT NOT NULL,
    seal_code       TEXT NOT NULL,
    resource_code   TEXT NOT NULL,
    source_version  BIGINT NOT NULL,
    status_index    BIGINT NOT NULL UNIQUE,
    state           TEXT NOT NULL,
    issued_at       TEXT NOT NULL,
    valid_from      TEXT NOT NULL,
    valid_until     TEXT,
    envelope        TEXT NOT NULL,
    claims          TEXT NOT NULL,
    uses            BIGINT NOT NULL,
    superseded_by   TEXT,
    UNIQUE (type_code, serial, version)
);
CREATE INDEX licences_holder ON licences(holder_subject);
CREATE INDEX licences_type_state ON licences(type_code, state);
CREATE TABLE licence_events (
    licence_id  TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (licence_id, seq)
);
