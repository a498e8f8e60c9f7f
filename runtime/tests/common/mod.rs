//! What the test crates that run `tib` on PostgreSQL share; each uses a part.
#![allow(dead_code)]

pub mod acme;
pub mod server;

/// Logs in to the console at `base` with the admin `token`: the session's cookie.
pub async fn console_login(client: &reqwest::Client, base: &str, token: &str) -> String {
    let login = client
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .expect("sent");
    login.headers()["set-cookie"].to_str().expect("text").split(';').next().expect("a pair").to_owned()
}

/// The PostgreSQL that TIB_POSTGRES_URL names; `None` (the test skipped) without one, unless
/// TIB_REQUIRE_POSTGRES says it must run.
pub fn postgres_admin() -> Option<String> {
    let Ok(admin) = std::env::var("TIB_POSTGRES_URL") else {
        assert!(
            std::env::var_os("TIB_REQUIRE_POSTGRES").is_none(),
            "TIB_REQUIRE_POSTGRES is set, TIB_POSTGRES_URL is not"
        );
        eprintln!("skipped: set TIB_POSTGRES_URL (postgres://user@127.0.0.1:5432/test) to run it on PostgreSQL");
        return None;
    };
    Some(admin)
}

/// A schema of its own in the PostgreSQL that TIB_POSTGRES_URL names (dropped by the guard), and the
/// store URL that uses it; `None` (the test skipped) without one.
pub fn postgres_schema(name: &str) -> Option<(String, SchemaGuard)> {
    let admin = postgres_admin()?;
    let schema = format!("tib_cli_{name}_{}", std::process::id());
    let made = on_postgres(&admin, format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"));
    made.expect("a schema in the PostgreSQL at TIB_POSTGRES_URL");
    let separator = if admin.contains('?') { '&' } else { '?' };
    Some((format!("{admin}{separator}options=-c%20search_path%3D{schema}"), SchemaGuard { admin, schema }))
}

pub struct SchemaGuard {
    admin: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let _ = on_postgres(&self.admin, format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
    }
}

/// Runs SQL on the database at `url`, on a thread of its own: the blocking client cannot run on
/// the test's async workers.
pub fn on_postgres(url: &str, sql: String) -> Result<(), postgres::Error> {
    let url = url.to_owned();
    std::thread::spawn(move || postgres::Client::connect(&url, postgres::NoTls)?.batch_execute(&sql))
        .join()
        .expect("the PostgreSQL thread")
}

/// The first column of what `sql` selects on the database at `url`, as integers.
pub fn pg_numbers(url: &str, sql: &str) -> Vec<i64> {
    pg_column(url, sql)
}

/// The first column of what `sql` selects on the database at `url`, as text.
pub fn pg_texts(url: &str, sql: &str) -> Vec<String> {
    pg_column(url, sql)
}

fn pg_column<T: for<'a> postgres::types::FromSql<'a> + Send + 'static>(url: &str, sql: &str) -> Vec<T> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("the PostgreSQL");
        let rows = client.query(sql.as_str(), &[]).unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter().map(|row| row.get::<_, T>(0)).collect()
    })
    .join()
    .expect("the PostgreSQL thread")
}

/// `tib` as a deployment on the store at `url` runs it: with its `key` (TIB_KEY), a lease of
/// `lease_secs`, loopback allowed, no retries, and nothing from the test's own environment.
pub fn deployed_tib(url: &str, key: &str, lease_secs: u64, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tib"));
    command
        .args(args)
        .env("TIB_STORE", url)
        .env("TIB_KEY", key)
        .env("TIB_LEASE", format!("{lease_secs}s"))
        .env("TIB_MAX_RETRIES", "0")
        .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
        .env("RUST_LOG", "info")
        .env_remove("TIB_KEY_FILE")
        .env_remove("TIB_WEBHOOK_URL")
        .env_remove("TIB_ADMIN_TOKEN")
        .env_remove("TIB_INTEGRATION_CAPS")
        .env_remove("TIB_SPECS")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    command
}
