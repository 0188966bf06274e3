//! What this member publishes in its member key, and writing it.

use super::*;

impl Driver {
    /// This member's key value now ([`crate::ha::publish::member_data`]).
    pub(super) fn member_data(&self, pg: &PgState, info: &ServerInfo) -> MemberData {
        crate::ha::publish::member_data(&crate::ha::publish::MemberFacts {
            tags: &self.cfg.tags,
            sync_release: self.sync_release,
            connect_address: &self.cfg.postgresql.connect_address,
            proxy_address: self.cfg.postgresql.proxy_address.as_deref(),
            api_url: self.api_url(),
            state: self.state,
            role: self.role,
            pg,
            streaming: info.receiver_status.as_deref() == Some("streaming"),
            pause: self.dynamic.pause,
            pending_restart: (pg.running && info.pending_restart)
                .then_some(&info.pending_restart_reason),
            scheduled_restart: self
                .shared
                .scheduled_restart
                .lock()
                .expect("not poisoned")
                .as_ref()
                .map(ScheduledRestart::to_json),
        })
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
        let slots_moved = self.published_slot_positions != self.slot_positions;
        if alive && !slots_moved && self.last_member.as_ref() == Some(&(data.clone(), lease)) {
            return Ok(());
        }
        dcs.touch_member(&data, self.dynamic.ttl).await?;
        self.last_member = Some((data, lease));
        // The leader publishes its WAL position for the others' lag checks, and its permanent
        // slots' positions for the replicas' copies of them.
        if let Some(lsn) = crate::ha::publish::published_optime(
            self.leader_until.is_some(),
            self.dynamic.is_standby_cluster(),
            pg,
        ) {
            let status = crate::dcs::encode_status(lsn, &self.slot_positions);
            if dcs.put(keys::STATUS, &status).await.is_ok() {
                self.published_slot_positions = self.slot_positions.clone();
            }
        }
        Ok(())
    }
}
