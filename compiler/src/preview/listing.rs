//! `compiler preview`: follow the pages (up to a bound) and show every user
//! as the connector would store it, with what would be lost and why.

use std::fmt::Write;

use serde_json::{Value, json};
use tib_support::{Dropped, SyncError, SyncOptions, User};

use super::{Outcome, Session, hint, report};

/// What the sample of pages held, and what in it deserves the author's eye.
struct Listing {
    pages: u32,
    users: Vec<User>,
    /// With the page each came from.
    dropped: Vec<(u32, Dropped)>,
    /// Mapped paths no user in the sample has a value at.
    absent_paths: Vec<String>,
    /// Ids of users whose Status in App is "Active" while Calculated Status says inactive.
    active_but_inactive: Vec<String>,
    /// Ids returned more than once: pagination that overlaps or repeats.
    duplicate_ids: Vec<String>,
    /// How the sync ended: `None` when it reached the last page.
    stop: Option<SyncError>,
}

pub async fn run(session: &Session, max_pages: u32, as_json: bool) -> Outcome {
    let mut users = Vec::new();
    let mut dropped = Vec::new();
    let mut pages = 0;
    let options = SyncOptions { max_pages, retry: session.retry.clone(), ..SyncOptions::default() };
    let result =
        tib_support::sync(&session.client, session.interpreted.clone(), &session.connection(), &options, &mut |page| {
            pages = page.number;
            users.extend(page.users);
            dropped.extend(page.dropped.into_iter().map(|d| (page.number, d)));
        })
        .await;
    let seen = users.len() + dropped.len();
    let listing = Listing {
        pages,
        absent_paths: if seen == 0 {
            Vec::new()
        } else {
            session.interpreted.presence().into_iter().filter(|(_, n)| *n == 0).map(|(p, _)| p).collect()
        },
        duplicate_ids: duplicates(&users),
        active_but_inactive: users
            .iter()
            .filter(|u| u.status == "Active" && !u.active)
            .map(|u| u.external_id.to_string())
            .collect(),
        users,
        dropped,
        stop: result.err(),
    };
    let ok = matches!(listing.stop, None | Some(SyncError::PageCap { .. }));
    let text = if as_json { json(&listing, session) } else { text(&listing, session, max_pages) };
    Outcome { text, ok }
}

fn text(listing: &Listing, session: &Session, max_pages: u32) -> String {
    let spec = session.interpreted.ir();
    let mut out = String::new();
    if !listing.users.is_empty() {
        let _ = writeln!(out, "{}\n", report::table(&listing.users, &spec.custom_fields));
    }
    let _ = writeln!(out, "{} pages, {} users, {} dropped", listing.pages, listing.users.len(), listing.dropped.len());
    match &listing.stop {
        None => {}
        Some(SyncError::PageCap { .. }) => {
            let _ = writeln!(out, "stopped after {max_pages} pages (--pages); more remain");
        }
        Some(error) => super::failure(&mut out, error, spec),
    }
    if !listing.dropped.is_empty() {
        let _ = writeln!(out, "\ndropped (not stored):");
        for (page, d) in &listing.dropped {
            let id = d.external_id.as_deref().map_or_else(|| "an item".to_owned(), |id| format!("user {id}"));
            let _ = writeln!(out, "  page {page}, {id}: {}", d.reason);
        }
    }
    let left_out: Vec<(&User, &tib_support::record::FieldIssue)> =
        listing.users.iter().flat_map(|u| u.issues.iter().map(move |i| (u, i))).collect();
    if !left_out.is_empty() {
        let _ = writeln!(out, "\nvalues left out (the user is kept without them):");
        for (user, issue) in left_out {
            let _ = writeln!(out, "  user {}, {}: {}", user.external_id, issue.field, issue.reason);
        }
    }
    if !listing.absent_paths.is_empty() {
        let _ = writeln!(out, "\nmapped paths no user in the sample has (typos?):");
        for path in &listing.absent_paths {
            let _ = writeln!(out, "  {path}");
        }
    }
    if !listing.duplicate_ids.is_empty() {
        let _ = writeln!(
            out,
            "\nwarning: the same users came back more than once (the pages overlap; check the pagination): {}",
            listing.duplicate_ids.join(", ")
        );
    }
    if !listing.active_but_inactive.is_empty() {
        let _ = writeln!(
            out,
            "\nwarning: Status in App says \"Active\" for users the Calculated Status rules mark inactive: {}",
            listing.active_but_inactive.join(", ")
        );
    }
    out
}

fn json(listing: &Listing, session: &Session) -> String {
    let spec = session.interpreted.ir();
    let dropped: Vec<Value> = listing
        .dropped
        .iter()
        .map(|(page, d)| json!({"page": page, "external_id": d.external_id, "reason": d.reason.to_string()}))
        .collect();
    let stop = match &listing.stop {
        None => Value::Null,
        Some(error @ SyncError::PageCap { .. }) => json!({"complete": false, "message": error.to_string()}),
        Some(error) => json!({
            "complete": false,
            "message": error.to_string(),
            "hint": hint::hint(error, spec),
        }),
    };
    let value = json!({
        "pages": listing.pages,
        "users": report::json(&listing.users),
        "dropped": dropped,
        "absent_paths": listing.absent_paths,
        "active_but_inactive": listing.active_but_inactive,
        "duplicate_ids": listing.duplicate_ids,
        "stopped": stop,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// External ids seen more than once, in first-seen order.
fn duplicates(users: &[User]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut repeated: Vec<String> = Vec::new();
    for user in users {
        if !seen.insert(user.external_id.as_str()) && !repeated.iter().any(|r| *r == user.external_id) {
            repeated.push(user.external_id.to_string());
        }
    }
    repeated
}
