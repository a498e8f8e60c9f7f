//! The paging style, guessed from the operation's query parameters, its
//! answer's properties and headers, by the names APIs give them.

use serde_json::Value;
use tib_front::ir::{Path, Segment};

use super::document::Document;
use super::draft::{From, Paging, Slot, Stop};
use super::operation::{Operation, Parameter};
use super::users::{Leaf, leaves, normal};

pub struct Found {
    pub paging: Slot<Paging>,
    /// What the guess rests on, for the draft's comment.
    pub reason: String,
    /// Fixed query parameters the style needs (the page size of a link or cursor listing).
    pub query: Vec<(String, String)>,
    /// The query parameters paging sets: not fixed in the request.
    pub used: Vec<String>,
}

impl Found {
    /// A style that fixes no query parameter of its own.
    fn without_query(paging: Slot<Paging>, reason: String, used: Vec<String>) -> Found {
        Found { paging, reason, query: Vec::new(), used }
    }
}

const OFFSET: &[&str] = &["offset", "skip", "start", "startat", "startindex"];
const LIMIT: &[&str] = &[
    "limit",
    "perpage",
    "pagesize",
    "size",
    "count",
    "top",
    "maxresults",
    "max",
    "take",
    "pagelimit",
    "resultsperpage",
];
const PAGE: &[&str] = &["page", "pagenumber", "pagenum", "pageno", "pageindex"];
const CURSOR: &[&str] = &[
    "cursor",
    "after",
    "startingafter",
    "pagetoken",
    "nextpagetoken",
    "continuationtoken",
    "continuation",
    "nexttoken",
    "nextcursor",
    "marker",
    "starttoken",
    "pagecursor",
    "skiptoken",
];
const TOKEN: &[&str] = &[
    "nextcursor",
    "cursor",
    "nextpagetoken",
    "pagetoken",
    "nexttoken",
    "endcursor",
    "after",
    "continuationtoken",
    "nextmarker",
    "marker",
];
const HAS_MORE: &[&str] =
    &["hasmore", "more", "hasnext", "hasnextpage", "moreresults", "morerecords", "hasmorepages", "hasmoreitems"];
const TOTAL: &[&str] =
    &["total", "totalcount", "totalresults", "totalitems", "totalrecords", "totalentries", "totalsize"];

/// The page size asked for when the document allows it: large pages, few requests.
const PAGE_SIZE: u64 = 100;
const MOST: u64 = 1000;

pub fn paging(doc: &Document, op: &Operation<'_>, users: Option<&Path>) -> Found {
    let query: Vec<&Parameter<'_>> = op.parameters.iter().filter(|p| p.location == "query").collect();
    let param = |names: &[&str]| names.iter().find_map(|name| query.iter().find(|p| normal(p.name) == *name)).copied();
    // The answer's own properties, outside the users array.
    let body: Vec<Leaf<'_>> = op
        .response
        .map(|schema| leaves(doc, schema))
        .unwrap_or_default()
        .into_iter()
        .filter(|leaf| !leaf.path.segments.iter().any(|s| matches!(s, Segment::Index(_))))
        .filter(|leaf| users.is_none_or(|users| !leaf.path.segments.starts_with(&users.segments)))
        .collect();
    let in_body = |names: &[&str], kinds: &[&str]| {
        names
            .iter()
            .find_map(|name| body.iter().find(|l| normal(l.key) == *name && l.kind.is_none_or(|k| kinds.contains(&k))))
    };
    let has_more = in_body(HAS_MORE, &["boolean"]).map(|l| Stop::NoMore(l.path.clone()));
    // A total that may be null (PagerDuty's, unless asked for) cannot end a listing.
    let total =
        in_body(TOTAL, &["integer", "number"]).filter(|l| !nullable(l.schema)).map(|l| Stop::Total(l.path.clone()));
    let next_url = body.iter().find(|l| is_next_url(l));
    let token = in_body(TOKEN, &["string"]).filter(|l| next_url.is_none_or(|n| n.path != l.path));
    let limit = param(LIMIT);
    let size_query = |used: &mut Vec<String>| {
        limit
            .map(|l| {
                used.push(l.name.to_owned());
                vec![(l.name.to_owned(), page_size(l.schema).to_string())]
            })
            .unwrap_or_default()
    };
    // The API's own word that more remain, else its count, else an empty page.
    let counted_stops = || vec![has_more.clone().or_else(|| total.clone()).unwrap_or(Stop::EmptyPage)];
    let mut used: Vec<String> = Vec::new();

    if op.response_headers.iter().any(|h| h.eq_ignore_ascii_case("link")) {
        used.extend([param(PAGE), param(CURSOR)].into_iter().flatten().map(|p| p.name.to_owned()));
        let query = size_query(&mut used);
        return Found {
            paging: Slot::Known(Paging::NextUrl { from: From::LinkHeader, stops: vec![Stop::MissingToken] }),
            reason: "Paged by the answer's Link header (rel=\"next\"), which the document declares.".to_owned(),
            query,
            used,
        };
    }
    if let Some(cursor) = param(CURSOR) {
        used.push(cursor.name.to_owned());
        let query = size_query(&mut used);
        let stop = has_more.clone().unwrap_or(Stop::MissingToken);
        let from = if let Some(token) = token {
            Some((From::Body(token.path.clone()), format!("`{}` in the answer", token.path)))
        } else {
            let header = op.response_headers.iter().find(|h| {
                let h = normal(h);
                h.contains("cursor") || h.contains("token") || h.contains("next")
            });
            header.map(|h| (From::Header((*h).to_owned()), format!("the answer's `{h}` header")))
        };
        let (paging, reason) = match (from, next_url) {
            (Some((from, source)), _) => (
                Slot::Known(Paging::Token { param: cursor.name.to_owned(), from, stops: vec![stop] }),
                format!("Paged by the `{}` parameter, from {source}.", cursor.name),
            ),
            (None, Some(next)) => (
                Slot::Known(Paging::NextUrl { from: From::Body(next.path.clone()), stops: vec![Stop::MissingToken] }),
                format!("Paged by the next page's URL at `{}` in the answer.", next.path),
            ),
            (None, None) => (
                Slot::Gap(format!(
                    "the paging: the operation takes a `{}` cursor, but the document does not say where an answer gives the next one",
                    cursor.name
                )),
                format!("The `{}` parameter takes a cursor.", cursor.name),
            ),
        };
        return Found { paging, reason, query, used };
    }
    if let Some(next) = next_url {
        let query = size_query(&mut used);
        return Found {
            paging: Slot::Known(Paging::NextUrl {
                from: From::Body(next.path.clone()),
                stops: vec![Stop::MissingToken],
            }),
            reason: format!("Paged by the next page's URL at `{}` in the answer.", next.path),
            query,
            used,
        };
    }
    if let (Some(offset), Some(limit)) = (param(OFFSET), limit) {
        used.extend([offset.name.to_owned(), limit.name.to_owned()]);
        return Found::without_query(
            Slot::Known(Paging::Offset {
                offset_param: offset.name.to_owned(),
                limit_param: limit.name.to_owned(),
                page_size: page_size(limit.schema),
                start: least(offset.schema).unwrap_or(0),
                stops: counted_stops(),
            }),
            format!("Paged by the `{}` and `{}` parameters.", offset.name, limit.name),
            used,
        );
    }
    if let Some(page) = param(PAGE) {
        used.push(page.name.to_owned());
        let Some(size) = limit else {
            return Found::without_query(
                Slot::Gap(format!(
                    "the paging: the operation takes a `{}` number but no page size, so how many users a page holds is unknown",
                    page.name
                )),
                format!("The `{}` parameter numbers the pages.", page.name),
                used,
            );
        };
        used.push(size.name.to_owned());
        return Found::without_query(
            Slot::Known(Paging::Page {
                page_param: page.name.to_owned(),
                size_param: size.name.to_owned(),
                page_size: page_size(size.schema),
                first_page: least(page.schema).unwrap_or(1),
                stops: counted_stops(),
            }),
            format!("Paged by the `{}` and `{}` parameters.", page.name, size.name),
            used,
        );
    }
    if let Some(token) = token {
        return Found::without_query(
            Slot::Gap(format!(
                "the paging: the answer holds `{}`, but no parameter of the operation takes it back",
                token.path
            )),
            "The answer holds a cursor.".to_owned(),
            used,
        );
    }
    Found::without_query(
        Slot::Known(Paging::None),
        "The operation takes no paging parameter: one answer holds every user.".to_owned(),
        used,
    )
}

/// A property that holds the next page's URL: `next`, `nextLink`,
/// `@odata.nextLink`, `links.next`, `paging.next.href`, as a URL or a name that says link.
fn is_next_url(leaf: &Leaf<'_>) -> bool {
    if leaf.kind.is_some_and(|k| k != "string") {
        return false;
    }
    let key = normal(leaf.key);
    let whole: String = leaf
        .path
        .segments
        .iter()
        .filter_map(|s| match s {
            Segment::Key(k) => Some(normal(k)),
            Segment::Index(_) => None,
        })
        .collect();
    let urlish = matches!(leaf.format, Some("uri" | "url" | "uri-reference"))
        || ["url", "link", "href", "uri"].iter().any(|w| key.contains(w))
        || whole.contains("link")
        || whole.contains("paging");
    whole.contains("next") && urlish
}

fn nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool).unwrap_or(false)
        || schema.get("type").and_then(Value::as_array).is_some_and(|types| types.iter().any(|t| t == "null"))
}

/// The page size: the most the document allows up to a thousand, else its default, else 100.
fn page_size(schema: &Value) -> u32 {
    let number = |key: &str| schema.get(key).and_then(Value::as_u64);
    let size = match (number("maximum"), number("default")) {
        (Some(most), _) => most.min(MOST),
        (None, Some(default)) => default.clamp(PAGE_SIZE, MOST),
        (None, None) => PAGE_SIZE,
    };
    u32::try_from(size).unwrap_or(PAGE_SIZE as u32)
}

/// A counter's first value: its minimum, else its default.
fn least(schema: &Value) -> Option<u32> {
    let number = |key: &str| schema.get(key).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
    number("minimum").or_else(|| number("default"))
}
