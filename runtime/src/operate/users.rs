//! Reading a connection's users: a page by cursor (the API), a page by offset
//! with its count (SCIM), one user, all of them (the CLI), their history, and
//! everything one account's page shows.

use super::{Error, Result, Services, Summary};
use crate::store::{Change, Condition, FieldTest, HistoryQuery, Run, StoredUser, UserField, UserQuery};

/// Users in the order of their external ids, and where the next page starts.
pub struct UsersPage {
    pub users: Vec<StoredUser>,
    /// The last external id of this page, when another page follows.
    pub next_cursor: Option<String>,
}

/// Which users an account's page shows.
pub struct AccountQuery {
    pub users: UserQuery,
    /// The runs shown, newest first.
    pub runs: i64,
}

/// Everything an account's page shows.
pub struct Account {
    pub summary: Summary,
    pub runs: Vec<Run>,
    pub users: Vec<StoredUser>,
    /// Users the query selects, over every page.
    pub selected: i64,
    /// Each license held by users with access, with how many hold it.
    pub licenses: Vec<(String, i64)>,
    pub progress: crate::live::Progress,
}

impl Services {
    /// A page of at most `limit` users after `query.after` (its own limit aside), and whether another follows.
    pub async fn users_page(
        &self,
        integration: &str,
        account: &str,
        query: UserQuery,
        limit: i64,
    ) -> Result<UsersPage> {
        // One more than asked shows whether a next page exists.
        let mut users = self.find_users(integration, account, UserQuery { limit: Some(limit + 1), ..query }).await?;
        let more = users.len() as i64 > limit;
        users.truncate(limit as usize);
        let next_cursor = more.then(|| users.last().map(|u| u.user.external_id.clone())).flatten();
        Ok(UsersPage { users, next_cursor })
    }

    /// The users `query` selects.
    pub async fn find_users(&self, integration: &str, account: &str, query: UserQuery) -> Result<Vec<StoredUser>> {
        let connection = self.find(integration, account).await?;
        self.in_store(move |store| store.find_users(connection.id, &query)).await
    }

    /// The users `query` selects, and how many it selects over every page.
    pub async fn count_users(
        &self,
        integration: &str,
        account: &str,
        query: UserQuery,
    ) -> Result<(i64, Vec<StoredUser>)> {
        let connection = self.find(integration, account).await?;
        self.in_store(move |store| {
            Ok((store.count_users(connection.id, &query)?, store.find_users(connection.id, &query)?))
        })
        .await
    }

    /// The user with this external id.
    pub async fn user(&self, integration: &str, account: &str, external_id: &str) -> Result<StoredUser> {
        let exact = Condition { field: UserField::ExternalId, test: FieldTest::Equals(external_id.to_owned()) };
        let query = UserQuery { conditions: vec![exact], limit: Some(1), ..UserQuery::default() };
        self.find_users(integration, account, query)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found(format!("no user {external_id}")))
    }

    /// The groups of a connection's present users, each with its members' count, largest first.
    pub async fn groups(&self, integration: &str, account: &str) -> Result<Vec<(String, i64)>> {
        let connection = self.find(integration, account).await?;
        self.in_store(move |store| store.group_counts(connection.id)).await
    }

    /// The present members of one group, by external id.
    pub async fn group_members(&self, integration: &str, account: &str, group: &str) -> Result<Vec<StoredUser>> {
        let connection = self.find(integration, account).await?;
        let query = UserQuery { group: Some(group.to_owned()), ..UserQuery::default() };
        let members = self.in_store(move |store| store.find_users(connection.id, &query)).await?;
        let present: Vec<StoredUser> = members.into_iter().filter(|member| !member.deleted).collect();
        if present.is_empty() {
            return Err(Error::not_found(format!("no group {group}")));
        }
        Ok(present)
    }

    /// Every stored user with access; with `include_deleted`, those without too.
    pub async fn all_users(&self, integration: &str, account: &str, include_deleted: bool) -> Result<Vec<StoredUser>> {
        let connection = self.find(integration, account).await?;
        self.in_store(move |store| store.users(connection.id, include_deleted)).await
    }

    /// What changed for a connection's users, sync by sync, newest first.
    pub async fn history(&self, integration: &str, account: &str, query: HistoryQuery) -> Result<Vec<Change>> {
        let connection = self.find(integration, account).await?;
        self.in_store(move |store| store.history(connection.id, &query)).await
    }

    /// One account as its page shows it.
    pub async fn account(&self, integration: &str, account: &str, query: AccountQuery) -> Result<Account> {
        let connection = self.find(integration, account).await?;
        let id = connection.id;
        let progress = self.live.watch(id).borrow().clone();
        self.in_store(move |store| {
            let users = store.find_users(id, &query.users)?;
            let selected = store.count_users(id, &query.users)?;
            let runs = store.runs(id, query.runs)?;
            let (with_access, all) = store.user_counts(id)?;
            let directory = store.directories()?.contains(&id);
            let summary = Summary { connection, last_run: runs.first().cloned(), with_access, users: all, directory };
            Ok(Account { summary, runs, users, selected, licenses: store.license_counts(id)?, progress })
        })
        .await
    }
}

impl Services {
    /// Who the account's held sync would mark deleted if approved now, a page from `offset`; `None`
    /// when nothing is held.
    pub async fn held_deletions(
        &self,
        integration: &str,
        account: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Option<crate::store::HeldDeletions>> {
        let (id, now) = (self.find(integration, account).await?.id, self.clock.now());
        self.in_store(move |store| store.held_deletions(id, offset.max(0), limit, now)).await
    }
}
