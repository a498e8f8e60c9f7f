//! What the admins were told, kept in PostgreSQL.

use super::*;
use crate::store::Notifications;

impl Notifications for Postgres {
    fn add_notification(&self, connection: Option<&str>, kind: &str, message: &str, now: Time) -> Result<i64> {
        self.with(async |client| {
            one(
                &client,
                "storing the notification",
                "INSERT INTO notifications (connection, created_at, kind, message) VALUES ($1, $2, $3, $4) RETURNING id",
                &[&connection, &now, &kind, &message],
            )
            .await
        })
    }

    fn notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        self.with(async |client| {
            let rows = client
                .query(
                    "SELECT id, connection, created_at, kind, message FROM notifications ORDER BY id DESC LIMIT $1",
                    &[&limit],
                )
                .await
                .map_err(pg("reading notifications"))?;
            Ok(rows
                .iter()
                .map(|r| Notification {
                    id: r.get(0),
                    connection: r.get(1),
                    created_at: r.get(2),
                    kind: r.get(3),
                    message: r.get(4),
                })
                .collect())
        })
    }
}
