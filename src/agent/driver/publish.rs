//! What this member publishes in its member key, and writing it.

use super::*;

impl Driver {
    pub(super) fn member_data(&self, pg: &PgState, info: &ServerInfo) -> MemberData {
        let tags = if self.sync_release {
            let mut t = self.cfg.tags.clone();
            t.nosync = true;
            t.other.insert("sync_priority".into(), Json::from(0));
            Some(t)
        } else if self.cfg.tags == Default::default() {
            None
        } else {
            Some(self.cfg.tags.clone())
        };
        let mut m = MemberData {
            conn_url: format!(
                "postgres://{}/postgres",
                self.cfg.postgresql.connect_address
            ),
            api_url: self.api_url(),
            state: self.state.as_str().to_string(),
            role: self.role.as_str().to_string(),
            version: PATRONI_COMPAT_VERSION.to_string(),
            timeline: pg.timeline,
            tags,
            pause: self.dynamic.pause.then_some(true),
            ..Default::default()
        };
        if pg.running {
            if pg.in_recovery {
                m.xlog_location = Some(pg.lsn());
                m.receive_lsn = pg.receive_lsn;
                m.replay_lsn = pg.replay_lsn;
                m.replication_state = Some(
                    if info.receiver_status.as_deref() == Some("streaming") {
                        "streaming"
                    } else {
                        "in archive recovery"
                    }
                    .into(),
                );
            } else {
                m.xlog_location = pg.wal_lsn;
            }
        }
        m.other.insert(
            "praetor_version".into(),
            Json::String(env!("CARGO_PKG_VERSION").into()),
        );
        m
    }

    pub(super) async fn touch_member(&mut self, pg: &PgState, info: &ServerInfo) -> Result<()> {
        let data = self.member_data(pg, info);
        // While a lease we hold could not be renewed, this may not outlast the next decision.
        let dcs = self.cycle_dcs();
        // The leader renewed the shared lease moments ago in this cycle: no second keepalive.
        let renewed_now = self
            .lease_renewed_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(self.dynamic.loop_wait.max(1)) / 2);
        let alive = renewed_now || dcs.keepalive(self.dynamic.ttl).await?;
        let lease = dcs.ensure_lease(self.dynamic.ttl).await?;
        if alive && self.last_member.as_ref() == Some(&(data.clone(), lease)) {
            return Ok(());
        }
        dcs.touch_member(&data, self.dynamic.ttl).await?;
        self.last_member = Some((data, lease));
        // The leader publishes its WAL position for the others' lag checks.
        if self.leader_until.is_some() && pg.running && !pg.in_recovery {
            if let Some(lsn) = pg.wal_lsn {
                let _ = dcs
                    .put(
                        keys::STATUS,
                        &serde_json::json!({"optime": lsn}).to_string(),
                    )
                    .await;
            }
        }
        Ok(())
    }
}
