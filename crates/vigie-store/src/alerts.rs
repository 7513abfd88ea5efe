//! Alert subscriptions and the durable outbox of their deliveries
//! (migration 4). The store keeps the rows and their state; what to send,
//! how to sign it, where it may go and when to retry are `vigie-publish`'s
//! (its `alerts` module).
//!
//! An outbox row is keyed by its subscription and a notice key (such as
//! `start:IQ@1692579600`): enqueueing the same notice again adds nothing, so
//! a detection pass may run any number of times, before or after a restart.
//! A row is `pending` until delivered (`delivered`) or given up (`failed`).

use rusqlite::params;
use serde::{Deserialize, Serialize};
use vigie_model::{Entity, EntityKind, UnixSecs};

use crate::error::sql_error;
use crate::sqlite::SqliteStore;
use crate::StoreError;

/// A subscription as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredSubscription {
    /// Its id.
    pub id: i64,
    /// Whose incidents.
    pub entity: Entity,
    /// Which notices (such as `start`, `restoration`, `end`).
    pub notices: Vec<String>,
    /// Where to deliver (a webhook URL or `mailto:`).
    pub target: String,
    /// The key deliveries are signed with.
    pub secret: String,
    /// How deliveries are written: `json` (vigie's notice) or `slack`.
    #[serde(default = "json_format")]
    pub format: String,
}

fn json_format() -> String {
    "json".into()
}

/// A notice to add to the outbox for one subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxNotice {
    /// The subscription it is for.
    pub subscription_id: i64,
    /// What makes it unique for that subscription (`start:IQ@1692579600`).
    pub notice_key: String,
    /// The body to deliver (JSON).
    pub payload: String,
}

/// One outbox row's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Row id (deliveries send it so receivers can deduplicate).
    pub id: i64,
    /// The notice key.
    pub notice_key: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due, Unix seconds.
    pub next_attempt_at: UnixSecs,
    /// The last failure.
    pub last_error: Option<String>,
}

/// A pending outbox row that is due, with what is needed to deliver it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueDelivery {
    /// Row id.
    pub id: i64,
    /// The body to deliver.
    pub payload: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The notice key.
    pub notice_key: String,
    /// The subscription's target.
    pub target: String,
    /// The subscription's signing key.
    pub secret: String,
    /// The subscription's format (`json` or `slack`).
    #[serde(default = "json_format")]
    pub format: String,
}

impl SqliteStore {
    pub(crate) fn add_subscription(
        &mut self,
        entity: &Entity,
        notices: &[String],
        target: &str,
        secret: &str,
        format: &str,
        created_at: UnixSecs,
    ) -> Result<i64, StoreError> {
        let label = self.label();
        let conn = self.connection();
        conn.prepare_cached(
            "INSERT INTO subscriptions (kind, code, notices, target, secret, created_at, format)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                entity.kind().name(),
                entity.code(),
                notices.join(","),
                target,
                secret,
                created_at,
                format
            ])
        })
        .map_err(sql_error(label, "storing a subscription"))?;
        Ok(conn.last_insert_rowid())
    }

    pub(crate) fn subscriptions(&self) -> Result<Vec<StoredSubscription>, StoreError> {
        let label = self.label();
        let context = "reading subscriptions";
        let mut stmt = self
            .connection()
            .prepare_cached(
                "SELECT subscription_id, kind, code, notices, target, secret, format
                 FROM subscriptions ORDER BY subscription_id",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                ))
            })
            .map_err(sql_error(label, context))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind, code, notices, target, secret, format) =
                row.map_err(sql_error(label, context))?;
            // A row naming no valid entity is skipped.
            let entity = kind
                .parse::<EntityKind>()
                .ok()
                .and_then(|k| Entity::from_kind_code(k, &code).ok());
            if let Some(entity) = entity {
                out.push(StoredSubscription {
                    id,
                    entity,
                    notices: notices.split(',').map(str::to_string).collect(),
                    target,
                    secret,
                    format,
                });
            }
        }
        Ok(out)
    }

    pub(crate) fn enqueue_notices(
        &mut self,
        notices: &[OutboxNotice],
        now: UnixSecs,
    ) -> Result<usize, StoreError> {
        let label = self.label().to_string();
        let context = "adding notices to the outbox";
        let tx = self
            .connection()
            .unchecked_transaction()
            .map_err(sql_error(&label, context))?;
        let mut added = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO outbox (subscription_id, notice_key, payload, state,
                       attempts, next_attempt_at, created_at)
                     VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4)",
                )
                .map_err(sql_error(&label, context))?;
            for notice in notices {
                added += stmt
                    .execute(params![
                        notice.subscription_id,
                        notice.notice_key,
                        notice.payload,
                        now
                    ])
                    .map_err(sql_error(&label, context))?;
            }
        }
        tx.commit()
            .map_err(sql_error(&label, "committing notices to the outbox"))?;
        Ok(added)
    }

    pub(crate) fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let label = self.label();
        let context = "reading the outbox";
        let mut stmt = self
            .connection()
            .prepare_cached(
                "SELECT delivery_id, notice_key, state, attempts, next_attempt_at, last_error
                 FROM outbox ORDER BY delivery_id",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(OutboxEntry {
                    id: row.get(0)?,
                    notice_key: row.get(1)?,
                    state: row.get(2)?,
                    attempts: row.get(3)?,
                    next_attempt_at: row.get(4)?,
                    last_error: row.get(5)?,
                })
            })
            .map_err(sql_error(label, context))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql_error(label, context))
    }

    pub(crate) fn due_deliveries(&self, now: UnixSecs) -> Result<Vec<DueDelivery>, StoreError> {
        let label = self.label();
        let context = "reading the due deliveries";
        let mut stmt = self
            .connection()
            .prepare_cached(
                "SELECT o.delivery_id, o.payload, o.attempts, o.notice_key, s.target, s.secret,
                   s.format
                 FROM outbox o JOIN subscriptions s ON s.subscription_id = o.subscription_id
                 WHERE o.state = 'pending' AND o.next_attempt_at <= ?1 ORDER BY o.delivery_id",
            )
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map([now], |row| {
                Ok(DueDelivery {
                    id: row.get(0)?,
                    payload: row.get(1)?,
                    attempts: row.get(2)?,
                    notice_key: row.get(3)?,
                    target: row.get(4)?,
                    secret: row.get(5)?,
                    format: row.get(6)?,
                })
            })
            .map_err(sql_error(label, context))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql_error(label, context))
    }

    pub(crate) fn mark_delivered(
        &mut self,
        id: i64,
        attempts: u32,
        delivered_at: UnixSecs,
    ) -> Result<(), StoreError> {
        self.connection()
            .prepare_cached(
                "UPDATE outbox SET state = 'delivered', attempts = ?2, delivered_at = ?3,
                   last_error = NULL
                 WHERE delivery_id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![id, attempts, delivered_at]))
            .map_err(sql_error(self.label(), "marking a delivery done"))?;
        Ok(())
    }

    pub(crate) fn mark_delivery_failed(
        &mut self,
        id: i64,
        attempts: u32,
        next_attempt_at: UnixSecs,
        error: &str,
        give_up: bool,
    ) -> Result<(), StoreError> {
        self.connection()
            .prepare_cached(
                "UPDATE outbox SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_error = ?5
                 WHERE delivery_id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    id,
                    if give_up { "failed" } else { "pending" },
                    attempts,
                    next_attempt_at,
                    error
                ])
            })
            .map_err(sql_error(self.label(), "recording a failed delivery"))?;
        Ok(())
    }
}
