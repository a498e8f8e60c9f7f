//! The company's views in PostgreSQL: people across every connection, licenses and their holders.

use super::users::{borrowed, values};
use super::*;
use crate::store::{Company, LicenseHeld, PeopleQuery, Person, filter};

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
}
