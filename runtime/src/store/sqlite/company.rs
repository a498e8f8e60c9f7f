//! The company's views in the SQLite file: people across every connection, licenses and their holders.

use super::users::values;
use super::*;
use crate::store::{Company, LicenseHeld, PeopleQuery, Person, filter};

impl Company for Sqlite {
    fn people(&self, query: &PeopleQuery) -> Result<Vec<Person>> {
        let db = self.lock();
        let filter = filter::people::<Sqlite>(query);
        let mut statement = db.prepare_cached(&filter.text).map_err(err("reading people"))?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(values(&filter)), |r| rows::person(r))
            .map_err(err("reading people"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading people"))
    }

    fn person(&self, email: &str) -> Result<Vec<(i64, StoredUser)>> {
        let db = self.lock();
        let mut statement = db.prepare_cached(&filter::person::<Sqlite>()).map_err(err("reading a person"))?;
        let rows =
            statement.query_map([email.to_lowercase()], |r| rows::persons_user(r)).map_err(err("reading a person"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading a person"))
    }

    fn licenses_held(&self, unseen_before: &str) -> Result<Vec<LicenseHeld>> {
        let db = self.lock();
        let mut statement = db.prepare_cached(&filter::licenses_held::<Sqlite>()).map_err(err("counting licenses"))?;
        let rows = statement.query_map([unseen_before], |r| rows::license_held(r)).map_err(err("counting licenses"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("counting licenses"))
    }
}
