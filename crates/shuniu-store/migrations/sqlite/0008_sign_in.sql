-- Sign-in beyond the console's passwords: citizens' sessions on their own record (个人数据使用
-- 记录), OpenID Connect sign-ins under way (state, nonce and PKCE verifier between the
-- redirect to the identity provider and its answer), and sign-in attempts per client address
-- for the rate limit. In the store, not in one server's memory, so that every process of a
-- PostgreSQL deployment sees the same sessions and counts.
CREATE TABLE citizen_sessions (
    token_hash TEXT PRIMARY KEY,
    id_number  TEXT NOT NULL,
    name       TEXT NOT NULL,
    via        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX citizen_sessions_expiry ON citizen_sessions(expires_at);

CREATE TABLE sign_in_flows (
    state_hash    TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX sign_in_flows_expiry ON sign_in_flows(expires_at);

CREATE TABLE sign_in_attempts (
    scope        TEXT NOT NULL,
    address      TEXT NOT NULL,
    window_start TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    PRIMARY KEY (scope, address)
);
