//! `compiler test`: the first page's request and answer, and whether the
//! spec's response path finds the users in it.

use std::fmt::Write;

use serde_json::Value;
use tib_support::{PageError, SyncError};

use super::{Outcome, Session, hint, report};

/// Lines of the body shown.
const SAMPLE_LINES: usize = 40;

pub async fn run(session: &Session) -> Outcome {
    let spec = session.interpreted.ir();
    let mut out = String::new();
    let probe =
        match tib_support::probe(&session.client, session.interpreted.as_ref(), &session.connection(), &session.retry)
            .await
        {
            Ok(probe) => probe,
            Err(error) => {
                super::failure(&mut out, &error, spec);
                return Outcome { text: out, ok: false };
            }
        };
    let _ = writeln!(out, "{} {}", probe.method, probe.url);
    let _ = writeln!(out, "auth: {}", super::connect::auth_kind(&spec.auth));
    for (name, value) in &probe.headers {
        let _ = writeln!(out, "  {name}: {value}");
    }
    if let Some(body) = &probe.body {
        let _ = writeln!(out, "body: {body}");
    }
    let answer = match probe.answer {
        Ok(answer) => answer,
        Err(error) => {
            out.push('\n');
            super::failure(&mut out, &error, spec);
            return Outcome { text: out, ok: false };
        }
    };
    let _ = writeln!(
        out,
        "\nHTTP {} in {} ms, {}",
        answer.status,
        answer.elapsed.as_millis(),
        report::size(answer.body.len())
    );
    // Link, X-Next-Page, rate limits: what paging and retries read.
    for (name, value) in &answer.headers {
        let _ = writeln!(out, "  {name}: {value}");
    }
    out.push('\n');
    // Some APIs echo the credential back; it must not reach the terminal.
    let secrets = &probe.secrets;
    let _ = writeln!(out, "{}\n", secrets.redact(&report::sample(&answer.body, SAMPLE_LINES)));

    // The page read exactly as preview and the connector read it.
    let (mut kept, mut dropped) = (0, 0);
    let read = tib_support::Connector::parse_page(session.interpreted.as_ref(), &answer.body, &mut |user| match user {
        Ok(_) => kept += 1,
        Err(_) => dropped += 1,
    });
    let body: Option<Value> = serde_json::from_slice(&answer.body).ok();
    match read {
        Ok(info) => {
            let items = body.as_ref().and_then(|b| session.interpreted.users(b)).unwrap_or_default();
            let _ = writeln!(out, "users at `{}`: {} items", spec.users_path, info.count);
            let _ = writeln!(out, "fields on the items (how many of the {} have it, and one value):", items.len());
            for field in report::field_paths(items) {
                let _ = writeln!(out, "  {}  {}  {}", field.path, field.count, secrets.redact(&field.example));
            }
            let absent: Vec<String> =
                session.interpreted.presence().into_iter().filter(|(_, n)| *n == 0).map(|(p, _)| p).collect();
            if !absent.is_empty() && info.count > 0 {
                let _ = writeln!(out, "mapped paths no item on this page has: {}", absent.join(", "));
            }
            let _ = writeln!(
                out,
                "{kept} users map, {dropped} would be dropped; `compiler preview` shows them and follows the pages"
            );
            Outcome { text: out, ok: true }
        }
        Err(error) => {
            let error = error.redacted(secrets);
            let _ = writeln!(out, "error: {error}");
            match (&error, &body) {
                (PageError::MissingUsers { .. } | PageError::NotAnArray { .. }, Some(body)) => {
                    suggest_path(&mut out, body)
                }
                _ => {
                    let error = SyncError::Page { page: 1, url: probe.url.clone(), error };
                    let _ = writeln!(out, "hint: {}", hint::hint(&error, spec));
                }
            }
            Outcome { text: out, ok: false }
        }
    }
}

/// Lists the arrays of objects in the body and suggests the likeliest as the users path.
fn suggest_path(out: &mut String, body: &Value) {
    let found = report::arrays_of_objects(body);
    if found.is_empty() {
        let _ = writeln!(out, "the body holds no array of objects; is this the users endpoint?");
        return;
    }
    let _ = writeln!(out, "arrays of objects in the body:");
    for (path, len) in &found {
        let _ = writeln!(out, "  {path} ({len} items)");
    }
    // The longest array is most often the users; a tie goes to the shallowest.
    if let Some((best, _)) = found.iter().max_by_key(|(path, len)| (*len, std::cmp::Reverse(path.segments.len()))) {
        let _ = writeln!(out, "hint: write `users at {best}`");
    }
}
