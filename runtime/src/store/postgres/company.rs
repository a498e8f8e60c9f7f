//! The company's views in PostgreSQL: people across every connection, licenses and their holders.

use super::users::{borrowed, values};
use super::*;
use crate::store::{Company, Departed, LicenseHeld, PeopleQuery, Person, filter};

impl Company for Postgres {
    fn people(&self, query: &PeopleQuery) -> Result<Vec<Person>> {
        let filter = filter::people::<Postgres>(query);
        let values = values(&filter);
        self.with(async |client| {
            let rows = client.query(&filter.text, &borrowed(&values)).await.map_err(pg("reading people"))?;
            all(&rows, "reading people", rows::person)
        })
    }

    fn person(&self, email: &str) -> Result<Vec<(i64, StoredUser)>> {
        let email = email.to_lowercase();
        self.with(async |client| {
            let rows = client.query(&filter::person::<Postgres>(), &[&email]).await.map_err(pg("reading a person"))?;
            all(&rows, "reading a person", rows::persons_user)
        })
    }

    fn licenses_held(&self, unseen_before: &str) -> Result<Vec<LicenseHeld>> {
        self.with(async |client| {
            let rows = client
                .query(&filter::licenses_held::<Postgres>(), &[&unseen_before])
                .await
                .map_err(pg("counting licenses"))?;
            all(&rows, "counting licenses", rows::license_held)
        })
    }

    fn set_directory(&self, connection_id: i64, directory: bool) -> Result<()> {
        let sql = if directory {
            "INSERT INTO directories (connection_id) VALUES ($1) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM directories WHERE connection_id = $1"
        };
        self.with(async |client| {
            client.execute(sql, &[&connection_id]).await.map(drop).map_err(pg("marking the directory"))
        })
    }

    fn directories(&self) -> Result<Vec<i64>> {
        self.with(async |client| {
            let rows = client
                .query("SELECT connection_id FROM directories ORDER BY connection_id", &[])
                .await
                .map_err(pg("reading the directories"))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn departed(&self, page: Option<(i64, i64)>) -> Result<(i64, Vec<Departed>)> {
        let (offset, limit) = rows::page_window(page);
        self.with(async |client| {
            let rows = client
                .query(&filter::departed::<Postgres>(), &[&offset, &limit])
                .await
                .map_err(pg("reviewing access"))?;
            all(&rows, "reviewing access", rows::departed).map(rows::counted)
        })
    }

    fn unaccounted(&self, page: Option<(i64, i64)>) -> Result<(i64, Vec<(i64, StoredUser)>)> {
        let (offset, limit) = rows::page_window(page);
        self.with(async |client| {
            let rows = client
                .query(&filter::unaccounted::<Postgres>(), &[&offset, &limit])
                .await
                .map_err(pg("reviewing access"))?;
            all(&rows, "reviewing access", rows::unaccounted).map(rows::counted)
        })
    }
}
