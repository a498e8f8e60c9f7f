//! A connection's stored users in PostgreSQL, as the edges read them (filtered, sorted, paged,
//! counted), their licenses, and their history.

use super::*;
use crate::store::Users;
use crate::store::filter;

impl Users for Postgres {
    fn find_users(&self, connection_id: i64, query: &UserQuery) -> Result<Vec<StoredUser>> {
        let mut filter = filter::users::<Postgres>(connection_id, query);
        let limit = filter.bind::<Postgres>(Param::Int(query.limit.unwrap_or(i64::MAX)));
        let offset = filter.bind::<Postgres>(Param::Int(query.offset.unwrap_or(0)));
        let sql = format!(
            "SELECT {} FROM users WHERE {} ORDER BY {} LIMIT {limit} OFFSET {offset}",
            rows::stored_user_columns("users", "$1"),
            filter.text,
            filter::order_by::<Postgres>(query.order, query.reversed)
        );
        let values = values(&filter);
        self.with(async |client| {
            let rows = client.query(&sql, &borrowed(&values)).await.map_err(pg("reading users"))?;
            all(&rows, "reading users", rows::stored_user)
        })
    }

    fn count_users(&self, connection_id: i64, query: &UserQuery) -> Result<i64> {
        let filter = filter::users::<Postgres>(connection_id, &UserQuery { after: None, ..query.clone() });
        let text = format!("SELECT COUNT(*) FROM users WHERE {}", filter.text);
        let values = values(&filter);
        self.with(async |client| one(&client, "counting users", &text, &borrowed(&values)).await)
    }

    fn license_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>> {
        self.with(async |client| {
            let rows = client
                .query(
                    "SELECT l, COUNT(*) FROM users, jsonb_array_elements_text(users.licenses::jsonb) AS l \
                     WHERE connection_id = $1 AND NOT deleted AND active \
                     GROUP BY l ORDER BY COUNT(*) DESC, l COLLATE \"C\"",
                    &[&connection_id],
                )
                .await
                .map_err(pg("counting licenses"))?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn group_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>> {
        self.with(async |client| {
            let rows = client
                .query(
                    "SELECT g, COUNT(*) FROM users, jsonb_array_elements_text(users.groups::jsonb) AS g \
                     WHERE connection_id = $1 AND NOT deleted \
                     GROUP BY g ORDER BY COUNT(*) DESC, g COLLATE \"C\"",
                    &[&connection_id],
                )
                .await
                .map_err(pg("counting groups"))?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn user_counts(&self, connection_id: i64) -> Result<(i64, i64)> {
        self.with(async |client| {
            let row = client
                .query_one(
                    "SELECT COUNT(*) FILTER (WHERE NOT deleted AND active), COUNT(*) FROM users WHERE connection_id = $1",
                    &[&connection_id],
                )
                .await
                .map_err(pg("counting users"))?;
            Ok((row.get(0), row.get(1)))
        })
    }

    fn all_user_counts(&self) -> Result<Vec<(i64, i64, i64)>> {
        self.with(async |client| {
            let rows = client
                .query(
                    "SELECT connection_id, COUNT(*) FILTER (WHERE NOT deleted AND active), COUNT(*) FROM users \
                     GROUP BY connection_id",
                    &[],
                )
                .await
                .map_err(pg("counting users"))?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
        })
    }

    fn history(&self, connection_id: i64, query: &HistoryQuery) -> Result<Vec<Change>> {
        let since = query.since.unwrap_or(i64::MIN);
        self.with(async |client| {
            let sql = filter::history::<Postgres>();
            let params: [&(dyn ToSql + Sync); 4] = [&connection_id, &since, &query.user, &query.limit];
            let rows = client.query(&sql, &params).await.map_err(pg("reading the history"))?;
            Ok(all(&rows, "reading the history", rows::change)?.into_iter().flatten().collect())
        })
    }
}

/// A filter's parameters as PostgreSQL binds them.
pub(super) fn values(filter: &Filter) -> Vec<Box<dyn ToSql + Sync + Send>> {
    filter
        .params
        .iter()
        .map(|param| -> Box<dyn ToSql + Sync + Send> {
            match param {
                Param::Int(n) => Box::new(*n),
                Param::Text(text) => Box::new(text.clone()),
                Param::Flag(yes) => Box::new(*yes),
            }
        })
        .collect()
}

/// Parameters as a query takes them.
pub(super) fn borrowed(values: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|value| value.as_ref() as &(dyn ToSql + Sync)).collect()
}
