//! Which users a query selects, as SQL, written once for both backends: the
//! WHERE clause of a [`UserQuery`] with its parameters, and its ORDER BY.
//! Each backend says how its SQL writes a parameter and the few functions
//! that differ ([`Dialect`]).

use super::{FieldTest, PeopleQuery, UserField, UserOrder, UserQuery};

/// A parameter of a filter, as each backend binds it.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Param {
    Int(i64),
    Text(String),
    Flag(bool),
}

/// What differs between the backends' SQL in a user query.
pub(super) trait Dialect {
    /// The placeholder of the `n`th parameter, from 1.
    fn placeholder(n: usize) -> String;
    /// Whether the list in `column` (a JSON array of text: licenses, groups) holds `value`.
    fn holds(column: &str, value: &str) -> String;
    /// Whether `text` holds `part`.
    fn contains(text: &str, part: &str) -> String;
    /// Whether `text` starts with `prefix`.
    fn starts_with(text: &str, prefix: &str) -> String;
    /// How text is compared by its bytes (RFC 3339 times in UTC sort so), after a column.
    const BY_BYTES: &'static str;
    /// A FROM item of the elements of the list in `column` (a JSON array of text), and the
    /// expression of one element.
    fn elements(column: &str) -> (String, String);
}

/// SQL and the parameters its placeholders number.
#[derive(Debug, Default)]
pub(super) struct Filter {
    pub text: String,
    pub params: Vec<Param>,
}

impl Filter {
    /// Binds a parameter: its placeholder.
    pub(super) fn bind<D: Dialect>(&mut self, param: Param) -> String {
        self.params.push(param);
        D::placeholder(self.params.len())
    }
}

/// The whole name, or first and last.
const FULL_NAME: &str = "COALESCE(full_name, COALESCE(first_name, '') || ' ' || COALESCE(last_name, ''))";

/// The column a condition tests, and whether it compares exactly (otherwise without regard to case).
fn condition_column(field: UserField) -> (&'static str, bool) {
    match field {
        UserField::ExternalId => ("external_id", true),
        UserField::Email => ("email", false),
        UserField::UserName => ("COALESCE(username, email)", false),
        UserField::Access => ("(NOT deleted AND active)", true),
        UserField::Group => ("groups", true),
    }
}

/// The WHERE clause of a user query, its parameters bound: the connection's id is the first.
pub(super) fn users<D: Dialect>(connection_id: i64, query: &UserQuery) -> Filter {
    let mut filter = Filter::default();
    let id = filter.bind::<D>(Param::Int(connection_id));
    let mut clauses = vec![format!("connection_id = {id}")];
    if let Some(access) = query.access {
        clauses.push(format!("(NOT deleted AND active) = {}", filter.bind::<D>(Param::Flag(access))));
    }
    if let Some(license) = &query.license {
        clauses.push(D::holds("licenses", &filter.bind::<D>(Param::Text(license.clone()))));
    }
    if let Some(group) = &query.group {
        clauses.push(D::holds("groups", &filter.bind::<D>(Param::Text(group.clone()))));
    }
    if let Some(since) = query.changed_since {
        let since = filter.bind::<D>(Param::Int(since));
        clauses.push(format!("run_id IN (SELECT id FROM runs WHERE connection_id = {id} AND ended_at >= {since})"));
    }
    if let Some(after) = query.modified_after {
        // The history's index by time finds the users changed since; one whose history is pruned
        // was changed before any time it still holds.
        let after = filter.bind::<D>(Param::Int(after));
        clauses.push(format!(
            "(external_id IN (SELECT external_id FROM user_history WHERE connection_id = {id} AND at > {after}) \
             OR first_seen > {after})"
        ));
    }
    if let Some(search) = &query.search {
        let search = filter.bind::<D>(Param::Text(search.to_lowercase()));
        let (email, name) =
            (D::contains("lower(email)", &search), D::contains(&format!("lower({FULL_NAME})"), &search));
        clauses.push(format!("{email} OR {name}"));
    }
    if let Some(before) = &query.unseen_before {
        clauses.push(unseen::<D>(&filter.bind::<D>(Param::Text(before.clone()))));
    }
    if let Some(after) = &query.after {
        clauses.push(format!("external_id > {}", filter.bind::<D>(Param::Text(after.clone()))));
    }
    for condition in &query.conditions {
        if let (UserField::Group, FieldTest::Equals(group)) = (condition.field, &condition.test) {
            clauses.push(D::holds("groups", &filter.bind::<D>(Param::Text(group.clone()))));
            continue;
        }
        let (field, exact) = condition_column(condition.field);
        let folded = if exact { field.to_owned() } else { format!("lower({field})") };
        let mut text = |text: &String| {
            let text = if exact { text.clone() } else { text.to_lowercase() };
            filter.bind::<D>(Param::Text(text))
        };
        let clause = match &condition.test {
            FieldTest::Equals(value) => format!("{folded} = {}", text(value)),
            FieldTest::Contains(value) => D::contains(&folded, &text(value)),
            FieldTest::StartsWith(value) => D::starts_with(&folded, &text(value)),
            FieldTest::Present => format!("{field} IS NOT NULL AND {field} <> ''"),
            FieldTest::Is(yes) => format!("{field} = {}", filter.bind::<D>(Param::Flag(*yes))),
        };
        clauses.push(clause);
    }
    filter.text = clauses.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" AND ");
    filter
}

/// Neither time the app gives for a user (last sign-in, last activity) is at or after `before`.
fn unseen<D: Dialect>(before: &str) -> String {
    let bytes = D::BY_BYTES;
    format!(
        "NOT (COALESCE(last_seen_at{bytes} >= {before}, FALSE) OR COALESCE(last_activity_at{bytes} >= {before}, FALSE))"
    )
}

/// The person a stored user's `email` column makes: the email in lower case, compared by its bytes
/// so that one index (`users_by_person`) serves both finding a person and paging people in order.
pub(super) fn person_of<D: Dialect>(email: &str) -> String {
    format!("lower({email}){}", D::BY_BYTES)
}

/// The people a query selects, with their parameters: a row per person of email (lower case),
/// a name, accounts, accounts with access, the latest last sign-in and the latest last activity.
///
/// The page of people is chosen first, from the users the search finds (or, without one, by walking
/// the person index in order); only that page's people are then summed up over all their accounts.
/// Summing up every person first and filtering after cost seconds at a million users.
pub(super) fn people<D: Dialect>(query: &PeopleQuery) -> Filter {
    let mut filter = Filter::default();
    let bytes = D::BY_BYTES;
    let person = person_of::<D>("email");
    let mut clauses = vec!["email <> ''".to_owned()];
    if let Some(after) = &query.after {
        clauses.push(format!("{person} > {}", filter.bind::<D>(Param::Text(after.to_lowercase()))));
    }
    // A person is found by any of their accounts, and shown with all of them.
    let searched = query.search.is_some();
    if let Some(search) = &query.search {
        let search = filter.bind::<D>(Param::Text(search.to_lowercase()));
        let (email, name) =
            (D::contains("lower(email)", &search), D::contains(&format!("lower({FULL_NAME})"), &search));
        clauses.push(format!("{email} OR {name}"));
    }
    let limit = filter.bind::<D>(Param::Int(query.limit));
    let clauses = clauses.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" AND ");
    // Without a search the person index gives the people in order, and the page stops it early. A
    // search tests every user: it reads the table through once (MATERIALIZED keeps the planner
    // from walking the index in order instead, a lookup of every row: seconds at a million), and
    // only the few found are sorted.
    let page = if searched {
        format!(
            "found AS MATERIALIZED (SELECT {person} AS person FROM users WHERE {clauses}), \
             page AS (SELECT DISTINCT person FROM found ORDER BY 1 LIMIT {limit})"
        )
    } else {
        format!("page AS (SELECT DISTINCT {person} AS person FROM users WHERE {clauses} ORDER BY 1 LIMIT {limit})")
    };
    filter.text = format!(
        "WITH {page} \
         SELECT page.person, MAX(NULLIF(trim({FULL_NAME}), '')), COUNT(*), \
         SUM(CASE WHEN NOT deleted AND active THEN 1 ELSE 0 END), MAX(last_seen_at{bytes}), \
         MAX(last_activity_at{bytes}) FROM page JOIN users ON {person} = page.person \
         GROUP BY page.person ORDER BY page.person"
    );
    filter
}

/// Every stored user of one person ([`super::rows::stored_user_columns`], then the connection's id):
/// its parameter is the email in lower case.
pub(super) fn person<D: Dialect>() -> String {
    format!(
        "SELECT {}, connection_id FROM users WHERE {} = {} ORDER BY connection_id, external_id",
        super::rows::stored_user_columns("users", "users.connection_id"),
        person_of::<D>("email"),
        D::placeholder(1)
    )
}

/// Each license of each connection held by users with access: connection, license, holders, and
/// holders the app has not seen since the first parameter.
pub(super) fn licenses_held<D: Dialect>() -> String {
    let (from, license) = D::elements("users.licenses");
    let unseen = unseen::<D>(&D::placeholder(1));
    format!(
        "SELECT connection_id, {license}, COUNT(*), SUM(CASE WHEN {unseen} THEN 1 ELSE 0 END) FROM users, {from} \
         WHERE NOT deleted AND active GROUP BY connection_id, {license} \
         ORDER BY connection_id, COUNT(*) DESC, {license}{}",
        D::BY_BYTES
    )
}

/// The connections marked as directories, as a subquery.
const DIRECTORIES: &str = "(SELECT connection_id FROM directories)";

/// One page of a list of stored users chosen by `found`, a query of their keys (`connection_id`,
/// `external_id`), a sort key `person` and a `flag` the rows carry, sorted by `order` (of those
/// columns): the stored users' columns, the connection's id, the flag, and how many `found` holds in
/// all. Its parameters are how many rows to skip and how many to give.
///
/// The page is chosen from the keys alone; only its rows' columns are read, so that a long list
/// costs a scan, not a read of every row it holds.
fn paged<D: Dialect>(found: &str, order: &str) -> String {
    let (offset, limit) = (D::placeholder(1), D::placeholder(2));
    format!(
        "WITH found AS ({found}), \
         page AS (SELECT connection_id AS page_connection, external_id AS page_user, flag, COUNT(*) OVER () AS total, \
         ROW_NUMBER() OVER (ORDER BY {order}) AS place FROM found ORDER BY {order} LIMIT {limit} OFFSET {offset}) \
         SELECT {}, u.connection_id, page.flag, page.total FROM page \
         JOIN users u ON u.connection_id = page.page_connection AND u.external_id = page.page_user \
         ORDER BY page.place",
        super::rows::stored_user_columns("u", "u.connection_id"),
    )
}

/// [`super::Departed`]s, one page ([`paged`]; the flag is whether a directory lists them).
/// None without a directory: there is nothing to compare with.
///
/// Each directory's people are summed up once (active in any directory or not), then every other
/// account is looked up among them: one pass over the users, not a search of the directories per user.
pub(super) fn departed<D: Dialect>() -> String {
    let found = format!(
        "WITH listed AS (SELECT {} AS person, MAX(CASE WHEN NOT deleted AND active THEN 1 ELSE 0 END) AS active \
         FROM users WHERE connection_id IN {DIRECTORIES} AND email <> '' GROUP BY 1) \
         SELECT u.connection_id, u.external_id, {} AS person, listed.person IS NOT NULL AS flag \
         FROM users u LEFT JOIN listed ON listed.person = {} \
         WHERE EXISTS (SELECT 1 FROM directories) AND u.connection_id NOT IN {DIRECTORIES} \
         AND NOT u.deleted AND u.active AND u.email <> '' AND COALESCE(listed.active, 0) = 0",
        person_of::<D>("email"),
        person_of::<D>("u.email"),
        person_of::<D>("u.email"),
    );
    paged::<D>(&found, "connection_id, person, external_id")
}

/// The directories' active users with access in no other connection, one page ([`paged`]; the
/// flag is unused).
pub(super) fn unaccounted<D: Dialect>() -> String {
    let found = format!(
        "SELECT a.connection_id, a.external_id, {} AS person, FALSE AS flag FROM users a \
         WHERE a.connection_id IN {DIRECTORIES} AND NOT a.deleted AND a.active AND a.email <> '' \
         AND NOT EXISTS (SELECT 1 FROM users o WHERE {} = {} AND o.connection_id NOT IN {DIRECTORIES} \
         AND NOT o.deleted AND o.active)",
        person_of::<D>("a.email"),
        person_of::<D>("o.email"),
        person_of::<D>("a.email"),
    );
    paged::<D>(&found, "person, connection_id, external_id")
}

/// The ORDER BY of a user query: its order, or that order reversed. Users without the value sorted
/// on come last either way.
pub(super) fn order_by<D: Dialect>(order: UserOrder, reversed: bool) -> String {
    let bytes = D::BY_BYTES;
    // Each key, and whether it sorts descending in the order's own direction.
    let (missing_last, keys): (Option<String>, Vec<(String, bool)>) = match order {
        UserOrder::ExternalId => (None, vec![]),
        UserOrder::Email => (None, vec![("lower(email)".to_owned(), false)]),
        UserOrder::UserName => (None, vec![("lower(COALESCE(username, email))".to_owned(), false)]),
        UserOrder::Name => {
            (Some(format!("trim(lower({FULL_NAME})) = ''")), vec![(format!("trim(lower({FULL_NAME}))"), false)])
        }
        UserOrder::LastSeen => (Some("last_seen_at IS NULL".to_owned()), vec![(format!("last_seen_at{bytes}"), true)]),
        UserOrder::Created => (Some("created_at IS NULL".to_owned()), vec![(format!("created_at{bytes}"), true)]),
        UserOrder::Modified => (None, vec![(super::rows::modified_at("users"), false)]),
    };
    let keys = keys.into_iter().chain([("external_id".to_owned(), false)]);
    let keys = keys.map(|(key, descending)| if descending != reversed { format!("{key} DESC") } else { key });
    missing_last.into_iter().chain(keys).collect::<Vec<_>>().join(", ")
}

/// A connection's history entries, newest first ([`super::rows::HISTORY_COLUMNS`]): its parameters are
/// the connection's id, the time they are at or after, the user (by external id, or by email among the
/// stored users) or `NULL` for all, and how many.
pub(super) fn history<D: Dialect>() -> String {
    let (id, since, user, limit) = (D::placeholder(1), D::placeholder(2), D::placeholder(3), D::placeholder(4));
    format!(
        "SELECT {} FROM user_history h WHERE h.connection_id = {id} AND h.at >= {since} AND (CAST({user} AS TEXT) IS NULL OR \
         h.external_id = {user} OR h.external_id IN (SELECT external_id FROM users WHERE connection_id = {id} AND \
         lower(email) = lower({user}))) ORDER BY h.id DESC LIMIT {limit}",
        super::rows::HISTORY_COLUMNS
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Condition;

    /// A dialect that shows what the builder asked of it.
    struct Shown;

    impl Dialect for Shown {
        fn placeholder(n: usize) -> String {
            format!("${n}")
        }
        fn holds(column: &str, value: &str) -> String {
            format!("holds({column}, {value})")
        }
        fn contains(text: &str, part: &str) -> String {
            format!("contains({text}, {part})")
        }
        fn starts_with(text: &str, prefix: &str) -> String {
            format!("starts({text}, {prefix})")
        }
        const BY_BYTES: &'static str = "";
        fn elements(column: &str) -> (String, String) {
            (format!("each({column}) AS e"), "e".to_owned())
        }
    }

    #[test]
    fn a_query_becomes_one_clause_per_filter_with_its_parameters_numbered() {
        let query = UserQuery {
            access: Some(true),
            license: Some("Pro".to_owned()),
            search: Some("ÅDA".to_owned()),
            after: Some("42".to_owned()),
            conditions: vec![
                Condition { field: UserField::Email, test: FieldTest::StartsWith("Ada@".to_owned()) },
                Condition { field: UserField::ExternalId, test: FieldTest::Equals("X1".to_owned()) },
                Condition { field: UserField::UserName, test: FieldTest::Present },
            ],
            ..UserQuery::default()
        };
        let filter = users::<Shown>(7, &query);
        assert_eq!(
            filter.text,
            format!(
                "(connection_id = $1) AND ((NOT deleted AND active) = $2) AND (holds(licenses, $3)) AND \
                 (contains(lower(email), $4) OR contains(lower({FULL_NAME}), $4)) AND (external_id > $5) AND \
                 (starts(lower(email), $6)) AND (external_id = $7) AND \
                 (COALESCE(username, email) IS NOT NULL AND COALESCE(username, email) <> '')"
            )
        );
        assert_eq!(
            filter.params,
            [
                Param::Int(7),
                Param::Flag(true),
                Param::Text("Pro".to_owned()),
                Param::Text("åda".to_owned()),
                Param::Text("42".to_owned()),
                Param::Text("ada@".to_owned()),
                Param::Text("X1".to_owned()),
            ]
        );
    }
}
