//! The SQLite store's schema: each migration moves it one version on.

/// Each entry moves the schema one version on; `PRAGMA user_version` says how far a file is.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE connections (
    id              INTEGER PRIMARY KEY,
    integration     TEXT NOT NULL,
    account         TEXT NOT NULL,
    credentials     BLOB NOT NULL,
    base_url        TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    interval_secs   INTEGER NOT NULL,
    next_sync_at    INTEGER NOT NULL,
    replace_users   INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (integration, account)
);
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    connection_id   INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    outcome         TEXT NOT NULL,
    pages           INTEGER NOT NULL DEFAULT 0,
    users_seen      INTEGER NOT NULL DEFAULT 0,
    users_dropped   INTEGER NOT NULL DEFAULT 0,
    dropped_reasons TEXT NOT NULL DEFAULT '[]',
    error           TEXT
);
CREATE INDEX runs_by_connection ON runs (connection_id, id);
CREATE TABLE users (
    connection_id   INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    external_id     TEXT NOT NULL,
    email           TEXT NOT NULL,
    username        TEXT,
    full_name       TEXT,
    first_name      TEXT,
    last_name       TEXT,
    role            TEXT,
    created_at      TEXT,
    last_seen_at    TEXT,
    active          INTEGER NOT NULL,
    status          TEXT NOT NULL,
    licenses        TEXT NOT NULL,
    custom_fields   TEXT NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    PRIMARY KEY (connection_id, external_id)
) WITHOUT ROWID;
CREATE TABLE staged_users (
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    external_id     TEXT NOT NULL,
    email           TEXT NOT NULL,
    username        TEXT,
    full_name       TEXT,
    first_name      TEXT,
    last_name       TEXT,
    role            TEXT,
    created_at      TEXT,
    last_seen_at    TEXT,
    active          INTEGER NOT NULL,
    status          TEXT NOT NULL,
    licenses        TEXT NOT NULL,
    custom_fields   TEXT NOT NULL,
    PRIMARY KEY (run_id, external_id)
) WITHOUT ROWID;
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    connection      TEXT,
    created_at      INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    message         TEXT NOT NULL
);
"#,
    r#"
ALTER TABLE connections ADD COLUMN token_url TEXT;
ALTER TABLE connections ADD COLUMN authorize_url TEXT;
ALTER TABLE connections ADD COLUMN tokens BLOB;
CREATE TABLE authorizations (
    state           TEXT PRIMARY KEY,
    integration     TEXT NOT NULL,
    account         TEXT NOT NULL,
    verifier        BLOB NOT NULL,
    redirect_uri    TEXT NOT NULL,
    expires_at      INTEGER NOT NULL
);
"#,
    // Digests: a sync writes only the users that changed. Staging moves to
    // files beside the store (see `apply`), so the staging table goes; a run
    // held before this version cannot be approved, and the next sync replaces it.
    r#"
ALTER TABLE users ADD COLUMN digest INTEGER;
ALTER TABLE users ADD COLUMN run_id INTEGER;
ALTER TABLE connections ADD COLUMN users_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN users_synced_at INTEGER;
UPDATE connections SET users_synced_at = (SELECT MAX(last_seen) FROM users WHERE connection_id = connections.id);
ALTER TABLE runs ADD COLUMN users_version INTEGER;
ALTER TABLE runs ADD COLUMN added INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN updated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET outcome = 'superseded', error = 'staged before an upgrade of tib; the next sync replaces it'
    WHERE outcome = 'held';
DROP TABLE staged_users;
CREATE TABLE user_history (
    id              INTEGER PRIMARY KEY,
    connection_id   INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    external_id     TEXT NOT NULL,
    at              INTEGER NOT NULL,
    run_id          INTEGER NOT NULL,
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
ALTER TABLE runs ADD COLUMN lookups INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lookup_ms INTEGER NOT NULL DEFAULT 0;
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
    connection_id   INTEGER PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE
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
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE TABLE audit (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    via             TEXT NOT NULL,
    address         TEXT NOT NULL,
    action          TEXT NOT NULL,
    target          TEXT NOT NULL,
    outcome         TEXT NOT NULL
);
CREATE TABLE notification_reads (
    operator        TEXT PRIMARY KEY,
    last_read       INTEGER NOT NULL
);
"#,
    // The first users a run dropped, by id, each with why: the counts by reason say what, these say who.
    r#"
ALTER TABLE runs ADD COLUMN dropped_users TEXT NOT NULL DEFAULT '[]';
"#,
];
