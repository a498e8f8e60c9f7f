//! A connection's stored users in the SQLite file, as the edges read them (filtered, sorted, paged,
//! counted), their licenses, and their history.

use super::*;
use crate::store::Users;
use crate::store::filter;

impl Users for Sqlite {
    fn find_users(&self, connection_id: i64, query: &UserQuery) -> Result<Vec<StoredUser>> {
        let db = self.read();
        let mut filter = filter::users::<Sqlite>(connection_id, query);
        let limit = filter.bind::<Sqlite>(Param::Int(query.limit.unwrap_or(-1)));
        let offset = filter.bind::<Sqlite>(Param::Int(query.offset.unwrap_or(0)));
        let sql = format!(
            "SELECT {} FROM users WHERE {} ORDER BY {} LIMIT {limit} OFFSET {offset}",
            rows::stored_user_columns("users", "?1"),
            filter.text,
            filter::order_by::<Sqlite>(query.order, query.reversed)
        );
        let mut statement = db.prepare_cached(&sql).map_err(err("reading users"))?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(values(&filter)), |r| rows::stored_user(r))
            .map_err(err("reading users"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading users"))
    }

    fn count_users(&self, connection_id: i64, query: &UserQuery) -> Result<i64> {
        let db = self.read();
        let filter = filter::users::<Sqlite>(connection_id, &UserQuery { after: None, ..query.clone() });
        db.prepare_cached(&format!("SELECT COUNT(*) FROM users WHERE {}", filter.text))
            .and_then(|mut statement| statement.query_row(rusqlite::params_from_iter(values(&filter)), |r| r.get(0)))
            .map_err(err("counting users"))
    }

    fn license_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>> {
        let db = self.read();
        let mut statement = db
            .prepare_cached(
                "SELECT license.value, COUNT(*) FROM users, json_each(users.licenses) AS license \
                 WHERE connection_id = ?1 AND deleted = 0 AND active = 1 \
                 GROUP BY license.value ORDER BY COUNT(*) DESC, license.value",
            )
            .map_err(err("counting licenses"))?;
        let rows =
            statement.query_map([connection_id], |r| Ok((r.get(0)?, r.get(1)?))).map_err(err("counting licenses"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("counting licenses"))
    }

    fn group_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>> {
        let db = self.read();
        let mut statement = db
            .prepare_cached(
                "SELECT member.value, COUNT(*) FROM users, json_each(users.groups) AS member \
                 WHERE connection_id = ?1 AND deleted = 0 \
                 GROUP BY member.value ORDER BY COUNT(*) DESC, member.value",
            )
            .map_err(err("counting groups"))?;
        let rows =
            statement.query_map([connection_id], |r| Ok((r.get(0)?, r.get(1)?))).map_err(err("counting groups"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("counting groups"))
    }

    fn user_counts(&self, connection_id: i64) -> Result<(i64, i64)> {
        self.read()
            .query_row(
                "SELECT COALESCE(SUM(deleted = 0 AND active = 1), 0), COUNT(*) FROM users WHERE connection_id = ?1",
                [connection_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err("counting users"))
    }

    fn all_user_counts(&self) -> Result<Vec<(i64, i64, i64)>> {
        let db = self.read();
        let mut statement = db
            .prepare_cached(
                "SELECT connection_id, COALESCE(SUM(deleted = 0 AND active = 1), 0), COUNT(*) FROM users \
                 GROUP BY connection_id",
            )
            .map_err(err("counting users"))?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(err("counting users"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("counting users"))
    }

    fn history(&self, connection_id: i64, query: &HistoryQuery) -> Result<Vec<Change>> {
        let e = err("reading the history");
        let db = self.read();
        let mut statement = db.prepare(&filter::history::<Sqlite>()).map_err(&e)?;
        let rows = statement
            .query_map(params![connection_id, query.since.unwrap_or(i64::MIN), query.user, query.limit], |r| {
                rows::change(r)
            })
            .map_err(&e)?;
        let changes: Vec<Option<Change>> = rows.collect::<rusqlite::Result<_>>().map_err(&e)?;
        Ok(changes.into_iter().flatten().collect())
    }
}

/// A filter's parameters as SQLite binds them.
pub(super) fn values(filter: &Filter) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    filter
        .params
        .iter()
        .map(|param| match param {
            Param::Int(n) => Value::Integer(*n),
            Param::Text(text) => Value::Text(text.clone()),
            Param::Flag(yes) => Value::Integer(i64::from(*yes)),
        })
        .collect()
}
