//! The one session the agent keeps to its own server, with the statements it runs every cycle
//! prepared once: a query by text costs two round trips in the extended protocol (parse and
//! describe, then bind and execute); a prepared one costs one, so an idle cycle wakes the server
//! and the agent half as often.

use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

/// A kept connection and its prepared statements (they live as long as the session).
pub(super) struct Session {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl Session {
    pub(super) fn new(client: Client) -> Self {
        Session {
            client,
            prepared: HashMap::new(),
        }
    }

    /// Runs `sql` (a fixed text: it is the cache key) with `params`, preparing it on first use.
    ///
    /// # Errors
    /// Preparing or running the statement failed.
    pub(super) async fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let stmt = match self.prepared.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = self.client.prepare(sql).await?;
                self.prepared.insert(sql, s.clone());
                s
            }
        };
        self.client.query(&stmt, params).await
    }

    /// [`Session::query`] for a statement that returns exactly one row.
    ///
    /// # Errors
    /// As [`Session::query`], or not exactly one row.
    pub(super) async fn query_one(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<Row> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            n => Err(anyhow::anyhow!("expected one row, got {n}")),
        }
    }
}

impl std::ops::Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}
