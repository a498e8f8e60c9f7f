//! The company's views, across every connected account: one person in every app, and the licenses
//! in use with their holders, those the apps have not seen for a while among them (the seats that
//! could be taken back).

use super::{Error, Result, Services};
use crate::store::{Connection, Departed, LicenseHeld, PeopleQuery, Person, StoredUser, Time, UserQuery};

/// People by email, and where the next page starts.
pub struct PeoplePage {
    pub people: Vec<Person>,
    /// The last email of this page, when another page follows.
    pub next_cursor: Option<String>,
}

/// One person's account in one app.
pub struct PersonAccount {
    pub connection: Connection,
    pub user: StoredUser,
}

/// A license of one account, with its holders' count.
pub struct LicenseUse {
    pub connection: Connection,
    pub license: String,
    /// Users with access who hold it.
    pub holders: i64,
    /// Of those, the ones the app has not seen in the window.
    pub unseen: i64,
}

/// The licenses in use across every account.
pub struct Licenses {
    /// The window: holders the app has not seen since this time are counted apart.
    pub unseen_since: Time,
    pub licenses: Vec<LicenseUse>,
}

/// Who left but still has access: the apps' accounts compared with the company's directories.
pub struct AccessReview {
    /// The connections marked as directories; none, and there is nothing to compare with.
    pub directories: Vec<Connection>,
    /// Accounts with access whose person is active in no directory: how many, and those asked for.
    pub departed: (i64, Vec<DepartedAccount>),
    /// The directories' active people with access in no other account: how many, and those asked for.
    pub unaccounted: (i64, Vec<PersonAccount>),
}

/// Which rows of the access review's two lists to read: a page of each, or every row of both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReviewPages {
    /// The first of the accounts whose person left, and of the directory's people without one.
    pub departed_from: i64,
    pub unaccounted_from: i64,
    /// How many of each; every one without a limit.
    pub limit: Option<i64>,
}

impl ReviewPages {
    /// Every row of both lists, as an export reads them.
    pub const ALL: ReviewPages = ReviewPages { departed_from: 0, unaccounted_from: 0, limit: None };

    fn of(self, from: i64) -> Option<(i64, i64)> {
        self.limit.map(|limit| (from.max(0), limit))
    }
}

/// An account with access whose person is not active in the directory.
pub struct DepartedAccount {
    pub account: PersonAccount,
    /// A directory lists the person, no longer active: they left. Otherwise they were never in it.
    pub in_directory: bool,
}

/// The most days a "not seen in" window spans: ten years.
pub const MAX_UNSEEN_DAYS: u32 = 3650;

impl Services {
    /// The people `search` finds (all without one), at most `limit` after `after`.
    pub async fn people(&self, search: Option<String>, after: Option<String>, limit: i64) -> Result<PeoplePage> {
        // One more than asked shows whether a next page exists.
        let query = PeopleQuery { search, after, limit: limit + 1 };
        let mut people = self.in_store(move |store| store.people(&query)).await?;
        let more = people.len() as i64 > limit;
        people.truncate(limit as usize);
        let next_cursor = more.then(|| people.last().map(|p| p.email.clone())).flatten();
        Ok(PeoplePage { people, next_cursor })
    }

    /// Every account of the person with this email (without regard to case), by account.
    pub async fn person(&self, email: &str) -> Result<Vec<PersonAccount>> {
        let email = email.trim().to_owned();
        let (found, connections) = {
            let email = email.clone();
            self.in_store(move |store| Ok((store.person(&email)?, ById::read(store)?))).await?
        };
        let accounts: Vec<PersonAccount> = found
            .into_iter()
            .filter_map(|(id, user)| Some(PersonAccount { connection: connections.get(id)?, user }))
            .collect();
        if accounts.is_empty() {
            return Err(Error::not_found(format!("no account lists {email}")));
        }
        Ok(accounts)
    }

    /// Every license in use, with how many of its holders the apps have not seen in `unseen_days` days.
    pub async fn licenses(&self, unseen_days: u32) -> Result<Licenses> {
        let unseen_since = self.unseen_since(unseen_days)?;
        let before = rfc3339(unseen_since);
        let (held, connections) =
            self.in_store(move |store| Ok((store.licenses_held(&before)?, ById::read(store)?))).await?;
        let licenses = held
            .into_iter()
            .filter_map(|LicenseHeld { connection_id, license, holders, unseen }| {
                Some(LicenseUse { connection: connections.get(connection_id)?, license, holders, unseen })
            })
            .collect();
        Ok(Licenses { unseen_since, licenses })
    }

    /// The holders of one license of an account, with access, by email; with `unseen_days`, only
    /// those the app has not seen in that many days. How many there are, and those on the page
    /// (`offset`, `limit`), or all of them.
    pub async fn license_holders(
        &self,
        integration: &str,
        account: &str,
        license: &str,
        unseen_days: Option<u32>,
        page: Option<(i64, i64)>,
    ) -> Result<(i64, Vec<StoredUser>)> {
        let query = UserQuery {
            access: Some(true),
            license: Some(license.to_owned()),
            unseen_before: self.unseen_before(unseen_days)?,
            order: crate::store::UserOrder::Email,
            offset: page.map(|(offset, _)| offset),
            limit: page.map(|(_, limit)| limit),
            ..UserQuery::default()
        };
        self.count_users(integration, account, query).await
    }

    /// The time a user query's `unseen_before` holds for a window of `days` days, if any.
    pub fn unseen_before(&self, days: Option<u32>) -> Result<Option<String>> {
        days.map(|days| self.unseen_since(days).map(rfc3339)).transpose()
    }

    /// Who left but still has access, and who in the directory has no account: each list counted,
    /// and the page of it `pages` asks for.
    pub async fn access_review(&self, pages: ReviewPages) -> Result<AccessReview> {
        let (directories, (departed_total, departed), (unaccounted_total, unaccounted), connections) = self
            .in_store(move |store| {
                let departed = counted_page(pages.of(pages.departed_from), |page| store.departed(page))?;
                let unaccounted = counted_page(pages.of(pages.unaccounted_from), |page| store.unaccounted(page))?;
                Ok((store.directories()?, departed, unaccounted, ById::read(store)?))
            })
            .await?;
        let connection = |id: i64| connections.get(id);
        let departed = departed
            .into_iter()
            .filter_map(|Departed { connection_id, user, in_directory }| {
                let account = PersonAccount { connection: connection(connection_id)?, user };
                Some(DepartedAccount { account, in_directory })
            })
            .collect();
        let unaccounted = unaccounted
            .into_iter()
            .filter_map(|(id, user)| Some(PersonAccount { connection: connection(id)?, user }))
            .collect();
        let directories = directories.into_iter().filter_map(connection).collect();
        Ok(AccessReview {
            directories,
            departed: (departed_total, departed),
            unaccounted: (unaccounted_total, unaccounted),
        })
    }

    /// The start of a window of `days` days that ends now.
    pub fn unseen_since(&self, days: u32) -> Result<Time> {
        if !(1..=MAX_UNSEEN_DAYS).contains(&days) {
            return Err(Error::invalid(format!("the days not seen are from 1 to {MAX_UNSEEN_DAYS}, not {days}")));
        }
        Ok(self.clock.now() - i64::from(days) * 86_400)
    }
}

/// A page of a list the store counts with its rows, and how many the list holds: a page past the
/// end has no row to count with, so the count is asked for apart.
fn counted_page<T>(
    page: Option<(i64, i64)>,
    read: impl Fn(Option<(i64, i64)>) -> crate::store::Result<(i64, Vec<T>)>,
) -> crate::store::Result<(i64, Vec<T>)> {
    let (total, rows) = read(page)?;
    match page {
        Some((from, _)) if from > 0 && rows.is_empty() => Ok((read(Some((0, 1)))?.0, rows)),
        _ => Ok((total, rows)),
    }
}

/// Every connection by its id: what the company's views name each row's account by, looked up once
/// a row however many rows (an access review lists thousands).
struct ById(std::collections::HashMap<i64, Connection>);

impl ById {
    fn read(store: &dyn crate::store::Store) -> crate::store::Result<ById> {
        Ok(ById(store.connections()?.into_iter().map(|c| (c.id, c)).collect()))
    }

    fn get(&self, id: i64) -> Option<Connection> {
        self.0.get(&id).cloned()
    }
}

/// A time as the store holds the apps' times: RFC 3339 in UTC, `+00:00`.
fn rfc3339(time: Time) -> String {
    chrono::DateTime::from_timestamp(time, 0).unwrap_or_default().to_rfc3339()
}
