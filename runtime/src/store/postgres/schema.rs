//! The PostgreSQL store's schema: each migration moves it one version on;
//! `tib_schema` says how far a database is.

/// Each entry moves the schema one version on.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE connections (
    id              BIGSERIAL PRIMARY KEY,
    integration     TEXT NOT NULL,
    account         TEXT NOT NULL,
    credentials     BYTEA NOT NULL,
    base_url        TEXT,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    interval_secs   BIGINT NOT NULL,
    next_sync_at    BIGINT NOT NULL,
    replace_users   BOOLEAN NOT NULL DEFAULT FALSE,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    token_url       TEXT,
    authorize_url   TEXT,
    tokens          BYTEA,
    users_version   BIGINT NOT NULL DEFAULT 0,
    users_synced_at BIGINT,
    UNIQUE (integration, account)
);
CREATE INDEX connections_due ON connections (next_sync_at) WHERE enabled;
CREATE TABLE runs (
    id              BIGSERIAL PRIMARY KEY,
    connection_id   BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    outcome         TEXT NOT NULL,
    pages           BIGINT NOT NULL DEFAULT 0,
    users_seen      BIGINT NOT NULL DEFAULT 0,
    users_dropped   BIGINT NOT NULL DEFAULT 0,
    dropped_reasons TEXT NOT NULL DEFAULT '[]',
    error           TEXT,
    users_version   BIGINT,
    added           BIGINT NOT NULL DEFAULT 0,
    updated         BIGINT NOT NULL DEFAULT 0,
    deleted         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_connection ON runs (connection_id, id);
CREATE INDEX runs_running ON runs (id) WHERE outcome = 'running';
-- External ids sort by their bytes, as in the SQLite store: the cursor of a page is one.
CREATE TABLE users (
    connection_id   BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    external_id     TEXT COLLATE "C" NOT NULL,
    email           TEXT NOT NULL,
    username        TEXT,
    full_name       TEXT,
    first_name      TEXT,
    last_name       TEXT,
    role            TEXT,
    created_at      TEXT,
    last_seen_at    TEXT,
    active          BOOLEAN NOT NULL,
    status          TEXT NOT NULL,
    licenses        TEXT NOT NULL,
    custom_fields   TEXT NOT NULL,
    deleted         BOOLEAN NOT NULL DEFAULT FALSE,
    first_seen      BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL,
    digest          BIGINT,
    run_id          BIGINT,
    PRIMARY KEY (connection_id, external_id)
);
-- A run's staged records, in the batches the sync handed over; any instance can apply or approve them.
CREATE TABLE staged (
    run_id          BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq             BIGSERIAL,
    records         BYTEA NOT NULL,
    PRIMARY KEY (run_id, seq)
);
-- A held run's baseline: the digests of the users it kept.
CREATE TABLE held (
    run_id          BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    kept            BYTEA NOT NULL
);
CREATE TABLE notifications (
    id              BIGSERIAL PRIMARY KEY,
    connection      TEXT,
    created_at      BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    message         TEXT NOT NULL
);
CREATE TABLE authorizations (
    state           TEXT PRIMARY KEY,
    integration     TEXT NOT NULL,
    account         TEXT NOT NULL,
    verifier        BYTEA NOT NULL,
    redirect_uri    TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE TABLE user_history (
    id              BIGSERIAL PRIMARY KEY,
    connection_id   BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    external_id     TEXT COLLATE "C" NOT NULL,
    at              BIGINT NOT NULL,
    run_id          BIGINT NOT NULL,
    event           TEXT NOT NULL,
    detail          TEXT
);
CREATE INDEX history_by_user ON user_history (connection_id, external_id, id);
CREATE INDEX history_by_time ON user_history (connection_id, at);
"#,
    // What an operator should look at in a run that worked (only its first page read, say).
    r#"
ALTER TABLE runs ADD COLUMN warning TEXT;
"#,
    // Roles and groups (JSON lists), the account type and the last activity: null where the user has
    // none; what a run's lookups cost.
    r#"
ALTER TABLE runs ADD COLUMN lookups BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lookup_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN roles TEXT;
ALTER TABLE users ADD COLUMN groups TEXT;
ALTER TABLE users ADD COLUMN account_type TEXT;
ALTER TABLE users ADD COLUMN last_activity_at TEXT;
"#,
    // The connections an operator marked as the company's directory (its Okta, Entra ID or Google
    // Workspace); users found by person (their email, in any case) across connections, and by
    // SCIM's userName within one.
    r#"
CREATE TABLE directories (
    connection_id   BIGINT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE
);
CREATE INDEX users_by_person ON users (lower(email));
CREATE INDEX users_by_user_name ON users (connection_id, lower(COALESCE(username, email)));
"#,
    // Operators by name: named API tokens (by their SHA-256; the token itself is never kept), the
    // audit log of every change, and how far each operator has read the notifications.
    r#"
CREATE TABLE api_tokens (
    name            TEXT PRIMARY KEY,
    hash            TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE TABLE audit (
    id              BIGSERIAL PRIMARY KEY,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    via             TEXT NOT NULL,
    address         TEXT NOT NULL,
    action          TEXT NOT NULL,
    target          TEXT NOT NULL,
    outcome         TEXT NOT NULL
);
CREATE TABLE notification_reads (
    operator        TEXT PRIMARY KEY,
    last_read       BIGINT NOT NULL
);
"#,
    // The first users a run dropped, by id, each with why: the counts by reason say what, these say who.
    r#"
ALTER TABLE runs ADD COLUMN dropped_users TEXT NOT NULL DEFAULT '[]';
"#,
    // People are paged in byte order (as SQLite pages them): the index of users by person holds
    // their emails so, or every page of people would sort every user.
    r#"
DROP INDEX users_by_person;
CREATE INDEX users_by_person ON users ((lower(email) COLLATE "C"));
"#,
];
