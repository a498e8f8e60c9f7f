//! The company's views in the SQLite file: people across every connection, licenses and their holders.

use super::users::values;
use super::*;
use crate::store::{Company, Departed, LicenseHeld, PeopleQuery, Person, filter};

impl Company for Sqlite {
    fn people(&self, query: &PeopleQuery) -> Result<Vec<Person>> {
        let db = self.read();
        let filter = filter::people::<Sqlite>(query);
        let mut statement = db.prepare_cached(&filter.text).map_err(err("reading people"))?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(values(&filter)), |r| rows::person(r))
            .map_err(err("reading people"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading people"))
    }

    fn person(&self, email: &str) -> Result<Vec<(i64, StoredUser)>> {
        let db = self.read();
        let mut statement = db.prepare_cached(&filter::person::<Sqlite>()).map_err(err("reading a person"))?;
        let rows =
            statement.query_map([email.to_lowercase()], |r| rows::persons_user(r)).map_err(err("reading a person"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading a person"))
    }

    fn licenses_held(&self, unseen_before: &str) -> Result<Vec<LicenseHeld>> {
        let db = self.read();
        let mut statement = db.prepare_cached(&filter::licenses_held::<Sqlite>()).map_err(err("counting licenses"))?;
        let rows = statement.query_map([unseen_before], |r| rows::license_held(r)).map_err(err("counting licenses"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("counting licenses"))
    }

    fn set_directory(&self, connection_id: i64, directory: bool) -> Result<()> {
        let db = self.lock();
        let sql = if directory {
            "INSERT INTO directories (connection_id) VALUES (?1) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM directories WHERE connection_id = ?1"
        };
        db.execute(sql, [connection_id]).map(drop).map_err(err("marking the directory"))
    }

    fn directories(&self) -> Result<Vec<i64>> {
        let db = self.read();
        let mut statement = db
            .prepare_cached("SELECT connection_id FROM directories ORDER BY connection_id")
            .map_err(err("reading the directories"))?;
        let rows = statement.query_map([], |r| r.get(0)).map_err(err("reading the directories"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading the directories"))
    }

    fn departed(&self, page: Option<(i64, i64)>) -> Result<(i64, Vec<Departed>)> {
        let db = self.read();
        let mut statement = db.prepare_cached(&filter::departed::<Sqlite>()).map_err(err("reviewing access"))?;
        let (offset, limit) = rows::page_window(page);
        let rows = statement.query_map([offset, limit], |r| rows::departed(r)).map_err(err("reviewing access"))?;
        rows.collect::<rusqlite::Result<_>>().map(rows::counted).map_err(err("reviewing access"))
    }

    fn unaccounted(&self, page: Option<(i64, i64)>) -> Result<(i64, Vec<(i64, StoredUser)>)> {
        let db = self.read();
        let mut statement = db.prepare_cached(&filter::unaccounted::<Sqlite>()).map_err(err("reviewing access"))?;
        let (offset, limit) = rows::page_window(page);
        let rows = statement.query_map([offset, limit], |r| rows::unaccounted(r)).map_err(err("reviewing access"))?;
        rows.collect::<rusqlite::Result<_>>().map(rows::counted).map_err(err("reviewing access"))
    }
}
