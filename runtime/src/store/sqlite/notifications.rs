//! What the admins were told, kept in the SQLite file.

use super::*;
use crate::store::Notifications;

impl Notifications for Sqlite {
    fn add_notification(&self, connection: Option<&str>, kind: &str, message: &str, now: Time) -> Result<i64> {
        let db = self.lock();
        db.execute(
            "INSERT INTO notifications (connection, created_at, kind, message) VALUES (?1, ?2, ?3, ?4)",
            params![connection, now, kind, message],
        )
        .map_err(err("storing the notification"))?;
        Ok(db.last_insert_rowid())
    }

    fn notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        let db = self.read();
        let mut statement = db
            .prepare("SELECT id, connection, created_at, kind, message FROM notifications ORDER BY id DESC LIMIT ?1")
            .map_err(err("reading notifications"))?;
        let rows = statement
            .query_map([limit], |r| {
                Ok(Notification {
                    id: r.get(0)?,
                    connection: r.get(1)?,
                    created_at: r.get(2)?,
                    kind: r.get(3)?,
                    message: r.get(4)?,
                })
            })
            .map_err(err("reading notifications"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(err("reading notifications"))
    }
}
