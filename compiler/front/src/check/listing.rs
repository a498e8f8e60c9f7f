//! Listings: other paged listings, read whole before the users, whose items name the users they
//! belong to (`user = user_id  match = id`). A user's values read what a listing gave them under
//! its name: the list of items that name them, their latest event (`latest`), or the groups whose
//! members they are (`members`).

use crate::ast::{self, Str, StrPart};
use crate::diag::Diagnostic;
use crate::ir;
use crate::parse::path_in_text;

use super::credentials::{Credentials, Use};
use super::settings::Settings;

/// The settings of a `listing` block.
pub const LISTING_SETTINGS: &[&str] =
    &["query", "headers", "items", "user", "match", "latest", "window", "since", "since_format"];

/// The settings of a `members` block.
pub const MEMBERS_SETTINGS: &[&str] = &["query", "headers", "items", "user"];

/// How `since_format` writes the window's start.
const TIME_FORMATS: &[&str] = &["unix", "date", "iso"];

/// The most days a window spans: ten years of events is a history, not a last activity.
const MAX_WINDOW_DAYS: u64 = 3650;

/// What a listing's strings are read against.
pub struct Context<'c> {
    pub creds: &'c mut Credentials,
    /// The names of the session's values (`auth session`).
    pub session: &'c [String],
    /// The lookups' names: a listing's items cannot name a user by a lookup's answer.
    pub lookups: &'c [&'c ast::Word],
}

/// The checked listings, in spec order; their `match` values go into `keys`, the values of the user
/// the lookups are asked with, each once.
pub fn listings<'a>(
    found: &[&'a ast::Listing],
    context: &mut Context<'_>,
    keys: &mut Vec<(ir::Path, &'a ast::Path)>,
    d: &mut Vec<Diagnostic>,
) -> Option<Vec<ir::Listing>> {
    let mut checked = Vec::new();
    let mut ok = true;
    for (i, listing) in found.iter().enumerate() {
        let name = &listing.name;
        let earlier = found[..i]
            .iter()
            .map(|l| &l.name)
            .chain(context.lookups.iter().copied())
            .find(|other| other.text == name.text);
        if earlier.is_some() {
            let mut error = Diagnostic::error(
                "tib::duplicate-lookup",
                format!("`{}` names two lookups or listings", name.text),
                name.span,
                "named again here",
            )
            .with_help("each lookup's and listing's answer is read under its name: give each its own");
            if let Some(first) = earlier {
                error = error.with_label(first.span, "first named here");
            }
            d.push(error);
            ok = false;
            continue;
        }
        match one(listing, context, keys, d) {
            Some(listing) => checked.push(listing),
            None => ok = false,
        }
    }
    ok.then_some(checked)
}

fn one<'a>(
    listing: &'a ast::Listing,
    context: &mut Context<'_>,
    keys: &mut Vec<(ir::Path, &'a ast::Path)>,
    d: &mut Vec<Diagnostic>,
) -> Option<ir::Listing> {
    let name = &listing.name.text;
    let owner = format!("listing `{name}`");
    let written = &listing.request;
    let settings = written.settings.as_ref().map(|block| Settings::block(block, LISTING_SETTINGS, &owner, d));
    let request = request(written, settings.as_ref(), &owner, None, context, d);
    let Some(s) = settings else {
        d.push(
            Diagnostic::error("tib::listing", format!("{owner} needs its settings"), listing.name.span, "no block")
                .with_help(format!(
                    "say how its pages follow, which user each item names and by which value, e.g. listing {name} GET \
                     \"/access_logs\" {{ paginate none  user = user_id  match = id }}"
                )),
        );
        return None;
    };
    let matches = matched(&s, &owner, context, keys, d);
    let members = match written.members.as_slice() {
        [] => Some(None),
        [(_, members)] => {
            let s = members.settings.as_ref().map(|block| Settings::block(block, MEMBERS_SETTINGS, "`members`", d));
            let mut group_keys = Vec::new();
            let request = request_with_group(members, s.as_ref(), &mut group_keys, context, d);
            let user = match &s {
                Some(s) => user(s, "`members`", d),
                None => {
                    missing_user(members.path.span, "`members`", d);
                    None
                }
            };
            Some(Some((request, group_keys, user)))
        }
        [_, (again, _), ..] => {
            d.push(
                Diagnostic::error("tib::listing", format!("{owner} lists members twice"), again.span, "again")
                    .with_help("a listing of groups has one `members` request, asked once per group"),
            );
            None
        }
    };
    let latest = s.get("latest");
    let kind = match (members?, latest) {
        (Some((members, group_keys, member_user)), None) => {
            if let Some(value) = s.get("user") {
                d.push(
                    Diagnostic::error(
                        "tib::listing",
                        format!("in {owner} the members name the users, not the groups"),
                        value.span(),
                        "a group's value",
                    )
                    .with_help(
                        "move `user` into the `members` block: members GET \"/groups/{id}/members\" { user = id }",
                    ),
                );
                return None;
            }
            ir::ListingKind::Members { members: Box::new(members?), group_keys, user: member_user? }
        }
        (Some(_), Some(latest)) => {
            d.push(
                Diagnostic::error(
                    "tib::listing",
                    format!("{owner} lists groups and their members: it has no latest event"),
                    latest.span(),
                    "not with members",
                )
                .with_help("read events in a listing of their own: listing access GET \"/logins\" { … latest = date }"),
            );
            return None;
        }
        (None, None) => {
            for setting in ["window", "since", "since_format"] {
                if let Some(value) = s.get(setting) {
                    d.push(
                        Diagnostic::error(
                            "tib::listing",
                            format!("`{setting}` is for a listing of events, which names its time with `latest`"),
                            value.span(),
                            "without `latest`",
                        )
                        .with_help("add the event's time, e.g. latest = date_last"),
                    );
                    return None;
                }
            }
            ir::ListingKind::Items { user: user(&s, &owner, d)? }
        }
        (None, Some(latest)) => {
            let at = super::values::path_value("latest", latest, d);
            let window = window(&s, &owner, d);
            ir::ListingKind::Latest { user: user(&s, &owner, d)?, at: at?, window: window? }
        }
    };
    Some(ir::Listing { name: name.clone(), request: request?, kind, matches: matches?, keep: None })
}

/// The request of a listing (`group_keys` none) or of a group's members.
fn request(
    written: &ast::ListingRequest,
    s: Option<&Settings<'_>>,
    owner: &str,
    group_keys: Option<&mut Vec<ir::Path>>,
    context: &mut Context<'_>,
    d: &mut Vec<Diagnostic>,
) -> Option<ir::ListingRequest> {
    let mut ok = super::lookup::get_only(
        &written.method,
        "a listing",
        "a listing is a `GET` of pages, e.g. listing teams GET \"/teams\"",
        d,
    );
    let mut group_keys = group_keys;
    let path = path(&written.path, group_keys.as_deref_mut(), context, d);
    let query = match s {
        Some(s) if s.get("query").is_some() => {
            let mut params = Vec::new();
            for (entry, value) in s.map("query", d)? {
                let value = template(value, "a query value", group_keys.as_deref_mut(), context, d);
                match value {
                    Some(value) => params.push(ir::LookupParam { name: entry.key.text.clone(), value }),
                    None => ok = false,
                }
            }
            Some(params)
        }
        _ => Some(Vec::new()),
    };
    let headers = match s {
        Some(s) => super::endpoint::fixed_params(s, "headers", Use::Secret, context.creds, d)
            .map(|headers| headers.into_iter().map(|(param, _)| param).collect()),
        None => Some(Vec::new()),
    };
    let items = match s.and_then(|s| s.get("items")) {
        Some(value) => super::values::path_value("items", value, d),
        None => Some(ir::Path::default()),
    };
    let pagination = match written.paginate.as_slice() {
        [] => {
            d.push(
                Diagnostic::error("tib::listing", format!("{owner} does not say how its pages follow"), written.path.span, "no paginate")
                    .with_help("add a paginate line to its block, as the users request has: paginate none, if one answer holds them all"),
            );
            None
        }
        [(style, body)] => {
            match super::paginate::pagination(style, body.as_ref(), d) {
                Some((ir::Pagination::Token(ir::Token { param: ir::TokenTarget::Body(_), .. }), None)) => {
                    d.push(
                    Diagnostic::error("tib::listing", "a listing is a GET: its token goes back in a query parameter", style.span, "a body's token")
                        .with_help("write param = \"cursor\" (the parameter the API reads the token from) instead of body_field"),
                );
                    None
                }
                Some((pagination, None)) => Some(pagination),
                Some((_, Some(_))) => {
                    d.push(
                        Diagnostic::error(
                            "tib::listing",
                            "`max_users` caps the users listing only",
                            style.span,
                            "in a listing",
                        )
                        .with_help("remove it: a listing is read whole, up to the sync's page limit"),
                    );
                    None
                }
                None => None,
            }
        }
        [_, (again, _), ..] => {
            d.push(
                Diagnostic::error(
                    "tib::listing",
                    format!("{owner} says twice how its pages follow"),
                    again.span,
                    "again",
                )
                .with_help("keep one paginate line"),
            );
            None
        }
    };
    let request =
        ir::ListingRequest { path: path?, query: query?, headers: headers?, pagination: pagination?, items: items? };
    ok.then_some(request)
}

fn request_with_group(
    written: &ast::ListingRequest,
    s: Option<&Settings<'_>>,
    group_keys: &mut Vec<ir::Path>,
    context: &mut Context<'_>,
    d: &mut Vec<Diagnostic>,
) -> Option<ir::ListingRequest> {
    let request = request(written, s, "`members`", Some(group_keys), context, d)?;
    if group_keys.is_empty() {
        d.push(
            Diagnostic::error(
                "tib::listing-path",
                "this members request holds no value of the group",
                written.path.span,
                "the same for every group",
            )
            .with_help("name the group in its path or query, e.g. members GET \"/teams/{slug}/members\""),
        );
        return None;
    }
    Some(request)
}

/// `"/teams/{slug}/members"`: a path after base_url, with no query of its own.
fn path(
    s: &Str,
    group_keys: Option<&mut Vec<ir::Path>>,
    context: &mut Context<'_>,
    d: &mut Vec<Diagnostic>,
) -> Option<Vec<ir::LookupPart>> {
    let text = crate::parse::string_text(s);
    if !text.starts_with('/') || text.contains('?') || text.starts_with("//") {
        let help = if text.contains('?') {
            "move the parameters to the block's query: listing access GET \"/logins\" { query = { \"count\" = \"1000\" } }"
        } else {
            "write the path after base_url, starting with `/`: \"/access_logs\""
        };
        d.push(
            Diagnostic::error("tib::listing-path", "a listing's path is a path after base_url", s.span, "here")
                .with_help(help),
        );
        return None;
    }
    template(s, "a listing's path", group_keys, context, d)
}

/// Text, credentials, the session's values and, in a members request, values of the group.
fn template(
    s: &Str,
    what: &str,
    mut group_keys: Option<&mut Vec<ir::Path>>,
    context: &mut Context<'_>,
    d: &mut Vec<Diagnostic>,
) -> Option<Vec<ir::LookupPart>> {
    let mut parts = Vec::new();
    let mut ok = true;
    for part in &s.parts {
        match part {
            StrPart::Text(text) => parts.push(ir::LookupPart::Text(text.clone())),
            StrPart::Placeholder(word)
                if let Some(fixed) = super::lookup::fixed(word, context.creds, context.session, what, d) =>
            {
                match fixed {
                    Some(fixed) => parts.push(fixed),
                    None => ok = false,
                }
            }
            StrPart::Placeholder(word) => {
                let group_path = path_in_text(&word.text, word.span.start, &mut Vec::new());
                match (group_keys.as_deref_mut(), group_path) {
                    (Some(keys), Some(written)) => {
                        let Some(path) = super::values::path(&written, d) else {
                            ok = false;
                            continue;
                        };
                        let index = keys.iter().position(|known| *known == path).unwrap_or_else(|| {
                            keys.push(path);
                            keys.len() - 1
                        });
                        parts.push(ir::LookupPart::User(index));
                    }
                    (group, _) => {
                        let help = if group.is_some() {
                            "each {…} is a credential, a value of the session or a value of the group, e.g. {id} or {slug}"
                        } else {
                            "a listing is asked once for the account: each {…} is a credential or a value of the session"
                        };
                        d.push(
                            Diagnostic::error(
                                "tib::listing-path",
                                format!("`{{{}}}` is neither a credential nor a value of the session", word.text),
                                word.span,
                                "unknown",
                            )
                            .with_help(help),
                        );
                        ok = false;
                    }
                }
            }
        }
    }
    ok.then_some(parts)
}

fn missing_user(at: crate::span::Span, owner: &str, d: &mut Vec<Diagnostic>) {
    d.push(
        Diagnostic::error("tib::listing", format!("{owner} does not say which user each item names"), at, "no `user`")
            .with_help("add `user = ...`, the path in an item of the value that names its user, e.g. user = user_id"),
    );
}

/// `user = user_id`: where an item names its user.
fn user(s: &Settings<'_>, owner: &str, d: &mut Vec<Diagnostic>) -> Option<ir::Path> {
    let Some(value) = s.get("user") else {
        missing_user(s.span(), owner, d);
        return None;
    };
    let path = super::values::path_value("user", value, d)?;
    if path.segments.is_empty() {
        d.push(
            Diagnostic::error("tib::listing", "`user` is a value inside an item", value.span(), "the whole item")
                .with_help("name the item's key that holds the user's id or email, e.g. user = user_id"),
        );
        return None;
    }
    Some(path)
}

/// `match = id`: the listed user's value the items name.
fn matched<'a>(
    s: &Settings<'a>,
    owner: &str,
    context: &Context<'_>,
    keys: &mut Vec<(ir::Path, &'a ast::Path)>,
    d: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let value = s.required("match", "match = id", d)?;
    let ast::Value::Path(written) = value else {
        d.push(super::values::wrong_kind("match", "a path of the listed user, e.g. match = id", value));
        return None;
    };
    let path = super::values::path(written, d)?;
    if let Some(ir::Segment::Key(first)) = path.segments.first()
        && context.lookups.iter().any(|lookup| lookup.text == *first)
    {
        d.push(
            Diagnostic::error(
                "tib::lookup-order",
                format!("{owner} cannot match users by `{first}`, a lookup's answer"),
                written.span,
                "a lookup's answer",
            )
            .with_help("match the items to a value the users listing gives, e.g. match = id"),
        );
        return None;
    }
    Some(keys.iter().position(|(known, _)| *known == path).unwrap_or_else(|| {
        keys.push((path, written));
        keys.len() - 1
    }))
}

/// `window = 90`, with the query parameter that asks for events since its start, if the API has one.
fn window(s: &Settings<'_>, owner: &str, d: &mut Vec<Diagnostic>) -> Option<ir::Window> {
    let days = s.required_integer("window", 1..=MAX_WINDOW_DAYS, "window = 90", d);
    let since = match s.get("since") {
        None => {
            if let Some(value) = s.get("since_format") {
                d.push(
                    Diagnostic::error(
                        "tib::listing",
                        "`since_format` says how `since` is written",
                        value.span(),
                        "without `since`",
                    )
                    .with_help(format!(
                        "add the query parameter {owner} takes the window's start in, e.g. since = \"oldest\""
                    )),
                );
                return None;
            }
            None
        }
        Some(_) => {
            let param = s.string("since", d).and_then(|text| super::values::plain(text, "`since`", d));
            let format = match s.string("since_format", d) {
                None if s.get("since_format").is_some() => None,
                None => Some(ir::TimeFormat::Iso),
                Some(text) => match text.plain().as_deref() {
                    Some("unix") => Some(ir::TimeFormat::Unix),
                    Some("date") => Some(ir::TimeFormat::Date),
                    Some("iso") => Some(ir::TimeFormat::Iso),
                    other => {
                        d.push(
                            Diagnostic::error(
                                "tib::listing",
                                format!(
                                    "`since_format` is \"unix\", \"date\" or \"iso\", not {:?}",
                                    other.unwrap_or("a template")
                                ),
                                text.span,
                                "unknown",
                            )
                            .did_you_mean(
                                other.unwrap_or_default(),
                                TIME_FORMATS,
                                "it takes",
                            ),
                        );
                        None
                    }
                },
            };
            Some((param?, format?))
        }
    };
    Some(ir::Window { days: days? as u32, since })
}

/// What the spec reads of each listing decides what is kept of an item for its user; a listing of
/// items or groups is a list, read with `name[]` or `some`, and a listing of events one event.
pub fn read_as_written(
    found: &[&ast::Listing],
    listings: &mut [ir::Listing],
    user: &ir::Shape,
    d: &mut Vec<Diagnostic>,
) -> bool {
    let ir::Shape::Object(object) = user else { return true };
    let mut ok = true;
    for (listing, written) in listings.iter_mut().zip(found) {
        let Some(field) = object.fields.iter().find(|field| field.joined && field.key == listing.name) else {
            d.push(
                Diagnostic::warning(
                    "tib::unread-lookup",
                    format!("nothing reads `{}`, this listing's answer", listing.name),
                    written.name.span,
                    "never read",
                )
                .with_help("read it in fields or rules, or remove the listing: it is read whole at every sync"),
            );
            continue;
        };
        let latest = matches!(listing.kind, ir::ListingKind::Latest { .. });
        let item = match (&field.shape, latest) {
            (ir::Shape::Any, _) => None,
            (ir::Shape::Object(item), true) => Some(item),
            (ir::Shape::Array(item), false) => match item.as_ref() {
                ir::Shape::Object(item) => Some(item),
                _ => None,
            },
            _ => {
                let (is, read) = if latest {
                    ("one event, the user's latest", format!("{}.date", listing.name))
                } else {
                    ("a list of items", format!("{}[].name", listing.name))
                };
                d.push(
                    Diagnostic::error(
                        "tib::listing-read",
                        format!("`{}` gives each user {is}, and the spec reads it otherwise", listing.name),
                        written.name.span,
                        "read otherwise",
                    )
                    .with_help(format!("read a value of it as {read}")),
                );
                ok = false;
                continue;
            }
        };
        listing.keep = item.map(|item| item.fields.iter().map(|field| field.key.clone()).collect());
    }
    ok
}
