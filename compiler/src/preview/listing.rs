//! `compiler preview`: follow the pages (up to a bound) and show every user
//! as the connector would store it, with what would be lost and why.
//!
//! Users are written out page by page as they arrive, never all held: a
//! preview of an account of 100,000 users takes no more memory than a page.
//! What is reported at the end (dropped users, values left out, warnings)
//! keeps the first few of each and counts the rest.

use std::collections::HashSet;
use std::fmt::Write;

use serde_json::{Value, json};
use tib_support::{SyncError, SyncOptions, User};

use super::{Outcome, Session, hint, report};

/// The most of each kind of finding listed; more are counted.
const SHOWN: usize = 100;
/// Users per table block: each block is aligned on its own, so rows stream out.
const TABLE_ROWS: usize = 100;

/// Findings, the first [`SHOWN`] kept, all counted.
struct Kept<T> {
    items: Vec<T>,
    count: usize,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept { items: Vec::new(), count: 0 }
    }
}

impl<T> Kept<T> {
    fn push(&mut self, item: T) {
        self.count += 1;
        if self.items.len() < SHOWN {
            self.items.push(item);
        }
    }

    /// `… and N more` when some were not kept.
    fn more(&self) -> String {
        match self.count - self.items.len() {
            0 => String::new(),
            n => format!(" … and {n} more"),
        }
    }
}

/// What the pages held, and what in it deserves the author's eye.
#[derive(Default)]
struct Listing {
    pages: u32,
    users: usize,
    /// With the page each came from, and why.
    dropped: Kept<(u32, Option<String>, String)>,
    /// User id, field, why.
    left_out: Kept<(String, &'static str, String)>,
    /// Ids of users whose Status in App is "Active" while Calculated Status says inactive.
    active_but_inactive: Kept<String>,
    /// Every id seen, to find the ones returned more than once.
    ids: HashSet<String>,
    /// Ids returned more than once: pagination that overlaps or repeats.
    duplicate_ids: Kept<String>,
}

impl Listing {
    fn note(&mut self, page: u32, users: &[User]) {
        self.pages = page;
        self.users += users.len();
        for user in users {
            let id = user.external_id.to_string();
            if !self.ids.insert(id.clone()) && !self.duplicate_ids.items.contains(&id) {
                self.duplicate_ids.push(id.clone());
            }
            if user.status == "Active" && !user.active {
                self.active_but_inactive.push(id.clone());
            }
            for issue in &user.issues {
                self.left_out.push((id.clone(), issue.field, issue.reason.to_string()));
            }
        }
    }
}

/// Runs the preview; users go to `out` as they arrive, and the outcome's text is what follows them.
pub async fn run(session: &Session, max_pages: u32, as_json: bool, out: &mut (dyn FnMut(&str) + Send)) -> Outcome {
    let spec = session.interpreted.ir();
    let mut listing = Listing::default();
    // The rows of a table block not yet written.
    let mut block: Vec<User> = Vec::new();
    let mut first = true;
    if as_json {
        out("{\n  \"users\": [");
    }
    let options = SyncOptions { max_pages, retry: session.retry.clone(), ..SyncOptions::default() };
    let result =
        tib_support::sync(&session.client, session.interpreted.clone(), &session.connection(), &options, &mut |page| {
            listing.note(page.number, &page.users);
            for dropped in page.dropped {
                listing.dropped.push((
                    page.number,
                    dropped.external_id.map(|id| id.to_string()),
                    dropped.reason.to_string(),
                ));
            }
            if as_json {
                for user in report::json(&page.users).as_array().into_iter().flatten() {
                    let text = serde_json::to_string_pretty(user).unwrap_or_default().replace('\n', "\n    ");
                    out(&format!("{}\n    {text}", if first { "" } else { "," }));
                    first = false;
                }
            } else {
                block.extend(page.users);
                while block.len() >= TABLE_ROWS {
                    let rest = block.split_off(TABLE_ROWS);
                    out(&format!("{}\n\n", report::table(&block, &spec.custom_fields)));
                    block = rest;
                }
            }
        })
        .await;
    if !as_json && !block.is_empty() {
        out(&format!("{}\n\n", report::table(&block, &spec.custom_fields)));
    }
    let absent_paths: Vec<String> = if listing.users + listing.dropped.count == 0 {
        Vec::new()
    } else {
        session.interpreted.presence().into_iter().filter(|(_, n)| *n == 0).map(|(p, _)| p).collect()
    };
    let unlinked = result.as_ref().is_ok_and(|summary| summary.unlinked).then(|| unlinked(spec));
    let stop = result.err();
    let ok = matches!(stop, None | Some(SyncError::PageCap { .. }));
    let text = if as_json {
        json(&listing, &absent_paths, stop.as_ref(), session, max_pages, unlinked.as_deref())
    } else {
        let mut text = text(&listing, &absent_paths, stop.as_ref(), session, max_pages);
        if let Some(unlinked) = &unlinked {
            let _ = writeln!(text, "\nwarning: {unlinked}");
        }
        text
    };
    Outcome { text, ok }
}

/// What a preview that read one page of linked pages says: where the link was looked for.
fn unlinked(spec: &tib_front::ir::Spec) -> String {
    use tib_front::ir::{NextUrlSource, Pagination, TokenSource};
    let place = match &spec.pagination {
        Pagination::NextUrl(next) => match &next.source {
            NextUrlSource::Body(path) => format!("the next URL at `{path}`"),
            NextUrlSource::LinkHeader => "a `Link: <…>; rel=\"next\"` header".to_owned(),
        },
        Pagination::Token(token) => match &token.source {
            TokenSource::Body(path) => format!("the next token at `{path}`"),
            TokenSource::Header(name) => format!("the next token in the `{name}` header"),
        },
        _ => "a link to the next page".to_owned(),
    };
    format!(
        "only the first page was read: no page held {place}; right for an account of one page, and for a larger \
         one, `from` reads the wrong place"
    )
}

fn text(
    listing: &Listing,
    absent_paths: &[String],
    stop: Option<&SyncError>,
    session: &Session,
    max_pages: u32,
) -> String {
    let spec = session.interpreted.ir();
    let mut out = String::new();
    let _ = writeln!(out, "{} pages, {} users, {} dropped", listing.pages, listing.users, listing.dropped.count);
    match stop {
        None => {}
        Some(SyncError::PageCap { .. }) => {
            let _ = writeln!(out, "{}", stopped_after(max_pages));
        }
        Some(error) => super::failure(&mut out, error, spec),
    }
    if listing.dropped.count > 0 {
        let _ = writeln!(out, "\ndropped (not stored):");
        for (page, id, reason) in &listing.dropped.items {
            let id = id.as_deref().map_or_else(|| "an item".to_owned(), |id| format!("user {id}"));
            let _ = writeln!(out, "  page {page}, {id}: {reason}");
        }
        if !listing.dropped.more().is_empty() {
            let _ = writeln!(out, " {}", listing.dropped.more());
        }
    }
    if listing.left_out.count > 0 {
        let _ = writeln!(out, "\nvalues left out (the user is kept without them):");
        for (id, field, reason) in &listing.left_out.items {
            let _ = writeln!(out, "  user {id}, {field}: {reason}");
        }
        if !listing.left_out.more().is_empty() {
            let _ = writeln!(out, " {}", listing.left_out.more());
        }
    }
    if !absent_paths.is_empty() {
        let _ = writeln!(out, "\nmapped paths no user in the sample has (typos?):");
        for path in absent_paths {
            let _ = writeln!(out, "  {path}");
        }
    }
    if listing.duplicate_ids.count > 0 {
        let _ = writeln!(
            out,
            "\nwarning: the same users came back more than once (the pages overlap; check the pagination): {}{}",
            listing.duplicate_ids.items.join(", "),
            listing.duplicate_ids.more()
        );
    }
    if listing.active_but_inactive.count > 0 {
        let _ = writeln!(
            out,
            "\nwarning: Status in App says \"Active\" for users the Calculated Status rules mark inactive: {}{}",
            listing.active_but_inactive.items.join(", "),
            listing.active_but_inactive.more()
        );
    }
    out
}

/// What a preview cut by `--pages` says.
fn stopped_after(max_pages: u32) -> String {
    format!("stopped after {max_pages} pages (--pages); more remain")
}

/// The rest of the JSON document whose `users` were written as they came.
fn json(
    listing: &Listing,
    absent_paths: &[String],
    stop: Option<&SyncError>,
    session: &Session,
    max_pages: u32,
    unlinked: Option<&str>,
) -> String {
    let spec = session.interpreted.ir();
    let dropped: Vec<Value> = listing
        .dropped
        .items
        .iter()
        .map(|(page, id, reason)| json!({"page": page, "external_id": id, "reason": reason}))
        .collect();
    let stop = match stop {
        None => Value::Null,
        // The author's own cut, said as the text output says it.
        Some(SyncError::PageCap { .. }) => {
            json!({"complete": false, "message": stopped_after(max_pages)})
        }
        Some(error) => json!({
            "complete": false,
            "message": error.to_string(),
            "hint": hint::hint(error, spec),
        }),
    };
    let rest = json!({
        "pages": listing.pages,
        "user_count": listing.users,
        "dropped": dropped,
        "dropped_count": listing.dropped.count,
        "absent_paths": absent_paths,
        "active_but_inactive": listing.active_but_inactive.items,
        "duplicate_ids": listing.duplicate_ids.items,
        "unlinked": unlinked,
        "stopped": stop,
    });
    // The object's members after `users`, as a pretty-printed object's would be.
    let text = serde_json::to_string_pretty(&rest).unwrap_or_default();
    let members = text.trim_start_matches('{').trim_end_matches('}').trim_end();
    let close = if listing.users == 0 { "]" } else { "\n  ]" };
    format!("{close},{members}\n}}\n")
}
