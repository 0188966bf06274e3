//! Exact-output tests of the renderers: every expected text below is what patronictl 4.1.5
//! (the same `ctl.py` as 4.1.4) printed for the same DCS content, captured by running its
//! `output_members`, `print_output`, `format_config_for_editing` and `show_diff`.

use serde_json::Value;

use crate::dcs::ClusterView;

use super::*;

/// DCS content of the `simple` fixture: per group, the keys patronictl reads.
const SIMPLE: &str = r#"{
 "scope": "batman",
 "groups": {
  "0": {
   "initialize": "7277694203142172922",
   "leader": "postgresql0",
   "config": {
    "ttl": 30,
    "loop_wait": 10
   },
   "status": {
    "optime": 67109272
   },
   "members": {
    "postgresql0": {
     "conn_url": "postgres://10.0.0.1:5432/postgres",
     "api_url": "http://10.0.0.1:8008/patroni",
     "state": "running",
     "role": "primary",
     "timeline": 5,
     "xlog_location": 67109272
    },
    "postgresql1": {
     "conn_url": "postgres://10.0.0.2:5432/postgres",
     "api_url": "http://10.0.0.2:8008/patroni",
     "state": "running",
     "role": "replica",
     "timeline": 5,
     "replication_state": "streaming",
     "receive_lsn": 67109272,
     "replay_lsn": 67109272,
     "xlog_location": 67109272
    },
    "postgresql2": {
     "conn_url": "postgres://10.0.0.3:5432/postgres",
     "api_url": "http://10.0.0.3:8008/patroni",
     "state": "running",
     "role": "replica",
     "timeline": 5,
     "replication_state": "streaming",
     "receive_lsn": 67109272,
     "replay_lsn": 60000000,
     "xlog_location": 67109272,
     "tags": {
      "replicatefrom": "postgresql1"
     }
    }
   }
  }
 }
}"#;

/// DCS content of the `plain` fixture: per group, the keys patronictl reads.
const PLAIN: &str = r#"{
 "scope": "demo",
 "groups": {
  "0": {
   "initialize": "7179854923881963547",
   "leader": "a",
   "config": {
    "ttl": 30,
    "pause": true,
    "synchronous_mode": true
   },
   "status": {
    "optime": 104857600
   },
   "sync": {
    "leader": "a",
    "sync_standby": "b"
   },
   "failover": {
    "leader": "a",
    "member": "c",
    "scheduled_at": "2030-01-01T10:00+00:00"
   },
   "members": {
    "a": {
     "conn_url": "postgres://10.0.0.1:5432/postgres",
     "api_url": "http://10.0.0.1:8008/patroni",
     "state": "running",
     "role": "primary",
     "timeline": 3,
     "xlog_location": 104857600
    },
    "b": {
     "conn_url": "postgres://10.0.0.2:5432/postgres",
     "api_url": "http://10.0.0.2:8008/patroni",
     "state": "running",
     "role": "replica",
     "timeline": 3,
     "replication_state": "streaming",
     "receive_lsn": 103809024,
     "replay_lsn": 102236160,
     "xlog_location": 103809024,
     "pending_restart": true,
     "pending_restart_reason": {
      "max_connections": {
       "old_value": "100",
       "new_value": "200"
      }
     },
     "tags": {
      "nofailover": true,
      "replicatefrom": "c"
     }
    },
    "c": {
     "conn_url": "postgres://10.0.0.3:5433/postgres",
     "api_url": "http://10.0.0.3:8008/patroni",
     "state": "running",
     "role": "replica",
     "timeline": 3,
     "scheduled_restart": {
      "schedule": "2030-01-01T12:00:00+00:00",
      "postgres_version": "15.6"
     }
    },
    "d": {
     "conn_url": "postgres://10.0.0.4:5432/postgres",
     "api_url": "http://10.0.0.4:8008/patroni",
     "state": "stopped",
     "role": "replica"
    }
   }
  }
 }
}"#;

/// DCS content of the `citus` fixture: per group, the keys patronictl reads.
const CITUS: &str = r#"{
 "scope": "demo",
 "citus": true,
 "groups": {
  "0": {
   "initialize": "7179854923881963547",
   "leader": "coord1",
   "config": {
    "ttl": 30,
    "synchronous_mode": "quorum"
   },
   "status": {
    "optime": 52000000
   },
   "sync": {
    "leader": "coord1",
    "sync_standby": "coord2",
    "quorum": 1
   },
   "members": {
    "coord1": {
     "conn_url": "postgres://172.27.0.10:5432/citus",
     "api_url": "http://172.27.0.10:8008/patroni",
     "state": "running",
     "role": "primary",
     "timeline": 1,
     "xlog_location": 52000000
    },
    "coord2": {
     "conn_url": "postgres://172.27.0.6:5432/citus",
     "api_url": "http://172.27.0.6:8008/patroni",
     "state": "running",
     "role": "replica",
     "timeline": 1,
     "replication_state": "streaming",
     "receive_lsn": 52000000,
     "replay_lsn": 52000000
    }
   }
  },
  "1": {
   "initialize": "7179854923829112860",
   "leader": "work1-1",
   "config": {
    "ttl": 30,
    "pause": true
   },
   "status": {
    "optime": 50331800
   },
   "members": {
    "work1-1": {
     "conn_url": "postgres://172.27.0.8:5432/citus",
     "api_url": "http://172.27.0.8:8008/patroni",
     "state": "running",
     "role": "primary",
     "timeline": 1,
     "xlog_location": 50331800,
     "pause": true
    },
    "work1-2": {
     "conn_url": "postgres://172.27.0.2:5432/citus",
     "api_url": "http://172.27.0.2:8008/patroni",
     "state": "running",
     "role": "replica",
     "timeline": 1,
     "replication_state": "streaming",
     "receive_lsn": 50331800,
     "replay_lsn": 50331800,
     "pause": true
    }
   }
  },
  "2": {
   "initialize": "7179854923819346421",
   "leader": "work2-2",
   "config": {
    "ttl": 30
   },
   "status": {
    "optime": 50331800
   },
   "failover": {
    "leader": "work2-2",
    "member": "work2-1",
    "scheduled_at": "2023-09-13T18:00-03:00"
   },
   "members": {
    "work2-1": {
     "conn_url": "postgres://172.27.0.5:5432/citus",
     "api_url": "http://172.27.0.5:8008/patroni",
     "state": "running",
     "role": "replica",
     "timeline": 2,
     "replication_state": "in archive recovery",
     "xlog_location": 50331000
    },
    "work2-2": {
     "conn_url": "postgres://172.27.0.7:5432/citus",
     "api_url": "http://172.27.0.7:8008/patroni",
     "state": "running",
     "role": "primary",
     "timeline": 2,
     "xlog_location": 50331800
    }
   }
  }
 }
}"#;

/// DCS content of the `edge` fixture: per group, the keys patronictl reads.
const EDGE: &str = r#"{
 "scope": "edge",
 "groups": {
  "0": {
   "initialize": "",
   "config": {
    "ttl": 30
   },
   "members": {
    "legacy": {
     "conn_url": "postgres://db.example.com:5432/postgres",
     "api_url": "http://db.example.com:8008/patroni",
     "state": "running",
     "role": "replica",
     "timeline": 2,
     "replication_state": "streaming",
     "xlog_location": 4294967296
    },
    "noaddr": {
     "api_url": "http://10.0.0.9:8008/patroni",
     "state": "starting",
     "role": "uninitialized"
    },
    "same": {
     "conn_url": "postgres://db.example.com:5432/postgres",
     "api_url": "http://db.example.com:8009/patroni",
     "state": "running",
     "role": "replica",
     "pending_restart": true,
     "pending_restart_reason": {
      "max_wal_senders": {
       "old_value": "10",
       "new_value": "20"
      },
      "shared_preload_libraries": {
       "old_value": "pg_stat_statements,auto_explain",
       "new_value": "pg_stat_statements,auto_explain,citus"
      }
     }
    }
   }
  }
 }
}"#;

/// Builds each group's view from a fixture, as etcd would hand the keys to `ClusterView::decode`.
fn groups(spec: &str) -> (String, bool, Vec<(u32, ClusterView)>) {
    let spec: Value = serde_json::from_str(spec).unwrap();
    let mut out = Vec::new();
    for (g, v) in spec["groups"].as_object().unwrap() {
        let mut kvs: Vec<(String, Vec<u8>, i64, i64)> = Vec::new();
        let mut put = |k: &str, text: String| kvs.push((k.to_string(), text.into_bytes(), 1, 1));
        if let Some(i) = v.get("initialize") {
            put("initialize", i.as_str().unwrap().to_string());
        }
        if let Some(l) = v.get("leader") {
            put("leader", l.as_str().unwrap().to_string());
        }
        for k in ["config", "status", "sync", "failover", "history"] {
            if let Some(x) = v.get(k) {
                put(k, x.to_string());
            }
        }
        for (name, m) in v["members"].as_object().into_iter().flatten() {
            put(&format!("members/{name}"), m.to_string());
        }
        out.push((g.parse().unwrap(), ClusterView::decode(&kvs, 1)));
    }
    out.sort_by_key(|(g, _)| *g);
    (
        spec["scope"].as_str().unwrap().to_string(),
        spec["citus"].as_bool().unwrap_or(false),
        out,
    )
}

fn members(spec: &str, style: Style, extended: bool, group: Option<u32>) -> String {
    let (scope, citus, all) = groups(spec);
    let shown: Vec<(u32, ClusterView)> = all
        .into_iter()
        .filter(|(g, _)| group.is_none_or(|x| x == *g))
        .collect();
    render_members(&ListSpec {
        name: &scope,
        citus,
        group,
        groups: &shown,
        style,
        extended,
        databases: &[],
    })
}

#[test]
fn plain_pretty() {
    assert_eq!(
        members(SIMPLE, Style::Pretty, false, None),
        r#"+ Cluster: batman (7277694203142172922) -------+----+-------------+-----+------------+-----+----------------------------+
| Member      | Host     | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag | Tags                       |
+-------------+----------+---------+-----------+----+-------------+-----+------------+-----+----------------------------+
| postgresql0 | 10.0.0.1 | Leader  | running   |  5 |             |     |            |     |                            |
| postgresql1 | 10.0.0.2 | Replica | streaming |  5 |   0/4000198 |   0 |  0/4000198 |   0 |                            |
| postgresql2 | 10.0.0.3 | Replica | streaming |  5 |   0/4000198 |   0 |  0/3938700 |   7 | replicatefrom: postgresql1 |
+-------------+----------+---------+-----------+----+-------------+-----+------------+-----+----------------------------+
"#
    );
}

#[test]
fn plain_extended() {
    assert_eq!(
        members(SIMPLE, Style::Pretty, true, None),
        r#"+ Cluster: batman (7277694203142172922) -------+----+-------------+-----+------------+-----+-----------------+------------------------+-------------------+----------------------------+
| Member      | Host     | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag | Pending restart | Pending restart reason | Scheduled restart | Tags                       |
+-------------+----------+---------+-----------+----+-------------+-----+------------+-----+-----------------+------------------------+-------------------+----------------------------+
| postgresql0 | 10.0.0.1 | Leader  | running   |  5 |             |     |            |     |                 |                        |                   |                            |
| postgresql1 | 10.0.0.2 | Replica | streaming |  5 |   0/4000198 |   0 |  0/4000198 |   0 |                 |                        |                   |                            |
| postgresql2 | 10.0.0.3 | Replica | streaming |  5 |   0/4000198 |   0 |  0/3938700 |   7 |                 |                        |                   | replicatefrom: postgresql1 |
+-------------+----------+---------+-----------+----+-------------+-----+------------+-----+-----------------+------------------------+-------------------+----------------------------+
"#
    );
}

#[test]
fn plain_tsv() {
    assert_eq!(
        members(SIMPLE, Style::Tsv, false, None),
        r#"Cluster	Member	Host	Role	State	TL	Receive LSN	Receive Lag	Replay LSN	Replay Lag	Tags
batman	postgresql0	10.0.0.1	Leader	running	5					
batman	postgresql1	10.0.0.2	Replica	streaming	5	0/4000198	0	0/4000198	0	
batman	postgresql2	10.0.0.3	Replica	streaming	5	0/4000198	0	0/3938700	7	{replicatefrom: postgresql1}
"#
    );
}

#[test]
fn plain_json() {
    assert_eq!(
        members(SIMPLE, Style::Json, false, None),
        r#"[{"Cluster": "batman", "Member": "postgresql0", "Host": "10.0.0.1", "Role": "Leader", "State": "running", "TL": 5}, {"Cluster": "batman", "Member": "postgresql1", "Host": "10.0.0.2", "Role": "Replica", "State": "streaming", "TL": 5, "Receive LSN": "0/4000198", "Receive Lag": 0, "Replay LSN": "0/4000198", "Replay Lag": 0}, {"Cluster": "batman", "Member": "postgresql2", "Host": "10.0.0.3", "Role": "Replica", "State": "streaming", "TL": 5, "Receive LSN": "0/4000198", "Receive Lag": 0, "Replay LSN": "0/3938700", "Replay Lag": 7, "Tags": {"replicatefrom": "postgresql1"}}]
"#
    );
}

#[test]
fn plain_yaml() {
    assert_eq!(
        members(SIMPLE, Style::Yaml, false, None),
        r#"- Cluster: batman
  Host: 10.0.0.1
  Member: postgresql0
  Role: Leader
  State: running
  TL: 5
- Cluster: batman
  Host: 10.0.0.2
  Member: postgresql1
  Receive LSN: 0/4000198
  Receive Lag: 0
  Replay LSN: 0/4000198
  Replay Lag: 0
  Role: Replica
  State: streaming
  TL: 5
- Cluster: batman
  Host: 10.0.0.3
  Member: postgresql2
  Receive LSN: 0/4000198
  Receive Lag: 0
  Replay LSN: 0/3938700
  Replay Lag: 7
  Role: Replica
  State: streaming
  TL: 5
  Tags:
    replicatefrom: postgresql1

"#
    );
}

#[test]
fn plain_topology() {
    assert_eq!(
        members(SIMPLE, Style::Topology, false, None),
        r#"+ Cluster: batman (7277694203142172922) -----------+----+-------------+-----+------------+-----+------------------------------+
| Member          | Host     | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag | Tags                         |
+-----------------+----------+---------+-----------+----+-------------+-----+------------+-----+------------------------------+
| postgresql0     | 10.0.0.1 | Leader  | running   |  5 |             |     |            |     |                              |
| + postgresql1   | 10.0.0.2 | Replica | streaming |  5 |   0/4000198 |   0 |  0/4000198 |   0 |                              |
|   + postgresql2 | 10.0.0.3 | Replica | streaming |  5 |   0/4000198 |   0 |  0/3938700 |   7 | {replicatefrom: postgresql1} |
+-----------------+----------+---------+-----------+----+-------------+-----+------------+-----+------------------------------+
"#
    );
}

#[test]
fn footers_pretty() {
    assert_eq!(
        members(PLAIN, Style::Pretty, false, None),
        r#"+ Cluster: demo (7179854923881963547) --+-----------+----+-------------+-----+------------+-----+-----------------+---------------------------+---------------------------------------------+------------------+
| Member | Host          | Role         | State     | TL | Receive LSN | Lag | Replay LSN | Lag | Pending restart | Pending restart reason    | Scheduled restart                           | Tags             |
+--------+---------------+--------------+-----------+----+-------------+-----+------------+-----+-----------------+---------------------------+---------------------------------------------+------------------+
| a      | 10.0.0.1:5432 | Leader       | running   |  3 |             |     |            |     |                 |                           |                                             |                  |
+--------+---------------+--------------+-----------+----+-------------+-----+------------+-----+-----------------+---------------------------+---------------------------------------------+------------------+
| b      | 10.0.0.2:5432 | Sync Standby | streaming |  3 |   0/6300000 |   1 |  0/6180000 |   2 | *               | max_connections: 100->200 |                                             | nofailover: true |
|        |               |              |           |    |             |     |            |     |                 |                           |                                             | replicatefrom: c |
+--------+---------------+--------------+-----------+----+-------------+-----+------------+-----+-----------------+---------------------------+---------------------------------------------+------------------+
| c      | 10.0.0.3:5433 | Replica      | running   |  3 |     unknown |     |    unknown |     |                 |                           | 2030-01-01T12:00:00+00:00 if version < 15.6 |                  |
+--------+---------------+--------------+-----------+----+-------------+-----+------------+-----+-----------------+---------------------------+---------------------------------------------+------------------+
| d      | 10.0.0.4:5432 | Replica      | stopped   |    |     unknown |     |    unknown |     |                 |                           |                                             |                  |
+--------+---------------+--------------+-----------+----+-------------+-----+------------+-----+-----------------+---------------------------+---------------------------------------------+------------------+
 Maintenance mode: on
 Switchover scheduled at: 2030-01-01T10:00:00+00:00
                    from: a
                      to: c
"#
    );
}

#[test]
fn footers_topology() {
    assert_eq!(
        members(PLAIN, Style::Topology, false, None),
        r#"+ Cluster: demo (7179854923881963547) --+-----------+----+-------------+-----+------------+-----+-----------------+---------------------------+---------------------------------------------+--------------------------------------+
| Member | Host          | Role         | State     | TL | Receive LSN | Lag | Replay LSN | Lag | Pending restart | Pending restart reason    | Scheduled restart                           | Tags                                 |
+--------+---------------+--------------+-----------+----+-------------+-----+------------+-----+-----------------+---------------------------+---------------------------------------------+--------------------------------------+
| a      | 10.0.0.1:5432 | Leader       | running   |  3 |             |     |            |     |                 |                           |                                             |                                      |
| + c    | 10.0.0.3:5433 | Replica      | running   |  3 |     unknown |     |    unknown |     |                 |                           | 2030-01-01T12:00:00+00:00 if version < 15.6 |                                      |
|   + b  | 10.0.0.2:5432 | Sync Standby | streaming |  3 |   0/6300000 |   1 |  0/6180000 |   2 | *               | max_connections: 100->200 |                                             | {nofailover: true, replicatefrom: c} |
| + d    | 10.0.0.4:5432 | Replica      | stopped   |    |     unknown |     |    unknown |     |                 |                           |                                             |                                      |
+--------+---------------+--------------+-----------+----+-------------+-----+------------+-----+-----------------+---------------------------+---------------------------------------------+--------------------------------------+
 Maintenance mode: on
 Switchover scheduled at: 2030-01-01T10:00:00+00:00
                    from: a
                      to: c
"#
    );
}

#[test]
fn footers_tsv() {
    assert_eq!(
        members(PLAIN, Style::Tsv, false, None),
        r#"Cluster	Member	Host	Role	State	TL	Receive LSN	Receive Lag	Replay LSN	Replay Lag	Pending restart	Pending restart reason	Scheduled restart	Tags
demo	a	10.0.0.1:5432	Leader	running	3								
demo	b	10.0.0.2:5432	Sync Standby	streaming	3	0/6300000	1	0/6180000	2	*	max_connections: 100->200		{nofailover: true, replicatefrom: c}
demo	c	10.0.0.3:5433	Replica	running	3	unknown		unknown				2030-01-01T12:00:00+00:00 if version < 15.6	
demo	d	10.0.0.4:5432	Replica	stopped		unknown		unknown					
"#
    );
}

#[test]
fn footers_json() {
    assert_eq!(
        members(PLAIN, Style::Json, false, None),
        r#"[{"Cluster": "demo", "Member": "a", "Host": "10.0.0.1:5432", "Role": "Leader", "State": "running", "TL": 3}, {"Cluster": "demo", "Member": "b", "Host": "10.0.0.2:5432", "Role": "Sync Standby", "State": "streaming", "TL": 3, "Receive LSN": "0/6300000", "Receive Lag": 1, "Replay LSN": "0/6180000", "Replay Lag": 2, "Pending restart": "*", "Pending restart reason": "max_connections: 100->200", "Tags": {"nofailover": true, "replicatefrom": "c"}}, {"Cluster": "demo", "Member": "c", "Host": "10.0.0.3:5433", "Role": "Replica", "State": "running", "TL": 3, "Receive LSN": "unknown", "Replay LSN": "unknown", "Scheduled restart": "2030-01-01T12:00:00+00:00 if version < 15.6"}, {"Cluster": "demo", "Member": "d", "Host": "10.0.0.4:5432", "Role": "Replica", "State": "stopped", "Receive LSN": "unknown", "Replay LSN": "unknown"}]
"#
    );
}

#[test]
fn footers_yaml() {
    assert_eq!(
        members(PLAIN, Style::Yaml, false, None),
        r#"- Cluster: demo
  Host: 10.0.0.1:5432
  Member: a
  Role: Leader
  State: running
  TL: 3
- Cluster: demo
  Host: 10.0.0.2:5432
  Member: b
  Pending restart: '*'
  Pending restart reason: 'max_connections: 100->200'
  Receive LSN: 0/6300000
  Receive Lag: 1
  Replay LSN: 0/6180000
  Replay Lag: 2
  Role: Sync Standby
  State: streaming
  TL: 3
  Tags:
    nofailover: true
    replicatefrom: c
- Cluster: demo
  Host: 10.0.0.3:5433
  Member: c
  Receive LSN: unknown
  Replay LSN: unknown
  Role: Replica
  Scheduled restart: 2030-01-01T12:00:00+00:00 if version < 15.6
  State: running
  TL: 3
- Cluster: demo
  Host: 10.0.0.4:5432
  Member: d
  Receive LSN: unknown
  Replay LSN: unknown
  Role: Replica
  State: stopped

"#
    );
}

#[test]
fn citus_all_groups() {
    assert_eq!(
        members(CITUS, Style::Pretty, false, None),
        r#"+ Citus cluster: demo ----------+----------------+---------------------+----+-------------+-----+------------+-----+
| Group | Member  | Host        | Role           | State               | TL | Receive LSN | Lag | Replay LSN | Lag |
+-------+---------+-------------+----------------+---------------------+----+-------------+-----+------------+-----+
|     0 | coord1  | 172.27.0.10 | Leader         | running             |  1 |             |     |            |     |
|     0 | coord2  | 172.27.0.6  | Quorum Standby | streaming           |  1 |   0/3197500 |   0 |  0/3197500 |   0 |
|     1 | work1-1 | 172.27.0.8  | Leader         | running             |  1 |             |     |            |     |
|     1 | work1-2 | 172.27.0.2  | Replica        | streaming           |  1 |   0/3000098 |   0 |  0/3000098 |   0 |
|     2 | work2-1 | 172.27.0.5  | Replica        | in archive recovery |  2 |     unknown |     |  0/2FFFD78 |   0 |
|     2 | work2-2 | 172.27.0.7  | Leader         | running             |  2 |             |     |            |     |
+-------+---------+-------------+----------------+---------------------+----+-------------+-----+------------+-----+
Citus group: 1
 Maintenance mode: on
Citus group: 2
 Switchover scheduled at: 2023-09-13T18:00:00-03:00
                    from: work2-2
                      to: work2-1
"#
    );
}

#[test]
fn citus_group() {
    assert_eq!(
        members(CITUS, Style::Pretty, false, Some(1)),
        r#"+ Citus cluster: demo (group: 1, 7179854923829112860) ----------+-----+------------+-----+
| Member  | Host       | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag |
+---------+------------+---------+-----------+----+-------------+-----+------------+-----+
| work1-1 | 172.27.0.8 | Leader  | running   |  1 |             |     |            |     |
| work1-2 | 172.27.0.2 | Replica | streaming |  1 |   0/3000098 |   0 |  0/3000098 |   0 |
+---------+------------+---------+-----------+----+-------------+-----+------------+-----+
 Maintenance mode: on
"#
    );
}

#[test]
fn citus_group_extended() {
    assert_eq!(
        members(CITUS, Style::Pretty, true, Some(2)),
        r#"+ Citus cluster: demo (group: 2, 7179854923819346421) -+----+-------------+-----+------------+-----+-----------------+------------------------+-------------------+------+
| Member  | Host       | Role    | State               | TL | Receive LSN | Lag | Replay LSN | Lag | Pending restart | Pending restart reason | Scheduled restart | Tags |
+---------+------------+---------+---------------------+----+-------------+-----+------------+-----+-----------------+------------------------+-------------------+------+
| work2-1 | 172.27.0.5 | Replica | in archive recovery |  2 |     unknown |     |  0/2FFFD78 |   0 |                 |                        |                   |      |
| work2-2 | 172.27.0.7 | Leader  | running             |  2 |             |     |            |     |                 |                        |                   |      |
+---------+------------+---------+---------------------+----+-------------+-----+------------+-----+-----------------+------------------------+-------------------+------+
 Switchover scheduled at: 2023-09-13T18:00:00-03:00
                    from: work2-2
                      to: work2-1
"#
    );
}

#[test]
fn citus_tsv() {
    assert_eq!(
        members(CITUS, Style::Tsv, false, None),
        r#"Cluster	Group	Member	Host	Role	State	TL	Receive LSN	Receive Lag	Replay LSN	Replay Lag
demo	0	coord1	172.27.0.10	Leader	running	1				
demo	0	coord2	172.27.0.6	Quorum Standby	streaming	1	0/3197500	0	0/3197500	0
demo	1	work1-1	172.27.0.8	Leader	running	1				
demo	1	work1-2	172.27.0.2	Replica	streaming	1	0/3000098	0	0/3000098	0
demo	2	work2-1	172.27.0.5	Replica	in archive recovery	2	unknown		0/2FFFD78	0
demo	2	work2-2	172.27.0.7	Leader	running	2				
"#
    );
}

#[test]
fn citus_json() {
    assert_eq!(
        members(CITUS, Style::Json, false, None),
        r#"[{"Cluster": "demo", "Group": 0, "Member": "coord1", "Host": "172.27.0.10", "Role": "Leader", "State": "running", "TL": 1}, {"Cluster": "demo", "Group": 0, "Member": "coord2", "Host": "172.27.0.6", "Role": "Quorum Standby", "State": "streaming", "TL": 1, "Receive LSN": "0/3197500", "Receive Lag": 0, "Replay LSN": "0/3197500", "Replay Lag": 0}, {"Cluster": "demo", "Group": 1, "Member": "work1-1", "Host": "172.27.0.8", "Role": "Leader", "State": "running", "TL": 1}, {"Cluster": "demo", "Group": 1, "Member": "work1-2", "Host": "172.27.0.2", "Role": "Replica", "State": "streaming", "TL": 1, "Receive LSN": "0/3000098", "Receive Lag": 0, "Replay LSN": "0/3000098", "Replay Lag": 0}, {"Cluster": "demo", "Group": 2, "Member": "work2-1", "Host": "172.27.0.5", "Role": "Replica", "State": "in archive recovery", "TL": 2, "Receive LSN": "unknown", "Replay LSN": "0/2FFFD78", "Replay Lag": 0}, {"Cluster": "demo", "Group": 2, "Member": "work2-2", "Host": "172.27.0.7", "Role": "Leader", "State": "running", "TL": 2}]
"#
    );
}

#[test]
fn citus_group_yaml() {
    assert_eq!(
        members(CITUS, Style::Yaml, false, Some(2)),
        r#"- Cluster: demo
  Group: 2
  Host: 172.27.0.5
  Member: work2-1
  Receive LSN: unknown
  Replay LSN: 0/2FFFD78
  Replay Lag: 0
  Role: Replica
  State: in archive recovery
  TL: 2
- Cluster: demo
  Group: 2
  Host: 172.27.0.7
  Member: work2-2
  Role: Leader
  State: running
  TL: 2

"#
    );
}

#[test]
fn citus_topology() {
    assert_eq!(
        members(CITUS, Style::Topology, false, None),
        r#"+ Citus cluster: demo ------------+----------------+---------------------+----+-------------+-----+------------+-----+
| Group | Member    | Host        | Role           | State               | TL | Receive LSN | Lag | Replay LSN | Lag |
+-------+-----------+-------------+----------------+---------------------+----+-------------+-----+------------+-----+
|     0 | coord1    | 172.27.0.10 | Leader         | running             |  1 |             |     |            |     |
|     0 | + coord2  | 172.27.0.6  | Quorum Standby | streaming           |  1 |   0/3197500 |   0 |  0/3197500 |   0 |
|     1 | work1-1   | 172.27.0.8  | Leader         | running             |  1 |             |     |            |     |
|     1 | + work1-2 | 172.27.0.2  | Replica        | streaming           |  1 |   0/3000098 |   0 |  0/3000098 |   0 |
|     2 | work2-2   | 172.27.0.7  | Leader         | running             |  2 |             |     |            |     |
|     2 | + work2-1 | 172.27.0.5  | Replica        | in archive recovery |  2 |     unknown |     |  0/2FFFD78 |   0 |
+-------+-----------+-------------+----------------+---------------------+----+-------------+-----+------------+-----+
Citus group: 1
 Maintenance mode: on
Citus group: 2
 Switchover scheduled at: 2023-09-13T18:00:00-03:00
                    from: work2-2
                      to: work2-1
"#
    );
}

#[test]
fn edge_pretty() {
    assert_eq!(
        members(EDGE, Style::Pretty, false, None),
        r#"+ Cluster: edge (initializing) +---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
| Member | Host                | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag | Pending restart | Pending restart reason                        |
+--------+---------------------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
| legacy | db.example.com:5432 | Replica | streaming |  2 |         1/0 |   0 |    unknown |     |                 |                                               |
+--------+---------------------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
| noaddr |                     | Replica | starting  |    |     unknown |     |    unknown |     |                 |                                               |
+--------+---------------------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
| same   | db.example.com:5432 | Replica | running   |    |     unknown |     |    unknown |     | *               | max_wal_senders: 10->20                       |
|        |                     |         |           |    |             |     |            |     |                 | shared_preload_libraries: [hidden - too long] |
+--------+---------------------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
"#
    );
}

#[test]
fn edge_extended_tsv() {
    assert_eq!(
        members(EDGE, Style::Tsv, true, None),
        r#"Cluster	Member	Host	Role	State	TL	Receive LSN	Receive Lag	Replay LSN	Replay Lag	Pending restart	Pending restart reason	Scheduled restart	Tags
edge	legacy	db.example.com:5432	Replica	streaming	2	1/0	0	unknown					
edge	noaddr		Replica	starting		unknown		unknown					
edge	same	db.example.com:5432	Replica	running		unknown		unknown		*	max_wal_senders: 10->20
shared_preload_libraries: pg_stat_statements,auto_explain->pg_stat_statements,auto_explain,citus		
"#
    );
}

#[test]
fn edge_yaml() {
    assert_eq!(
        members(EDGE, Style::Yaml, false, None),
        r#"- Cluster: edge
  Host: db.example.com:5432
  Member: legacy
  Receive LSN: 1/0
  Receive Lag: 0
  Replay LSN: unknown
  Role: Replica
  State: streaming
  TL: 2
- Cluster: edge
  Member: noaddr
  Receive LSN: unknown
  Replay LSN: unknown
  Role: Replica
  State: starting
- Cluster: edge
  Host: db.example.com:5432
  Member: same
  Pending restart: '*'
  Pending restart reason: 'max_wal_senders: 10->20

    shared_preload_libraries: pg_stat_statements,auto_explain->pg_stat_statements,auto_explain,citus'
  Receive LSN: unknown
  Replay LSN: unknown
  Role: Replica
  State: running

"#
    );
}

#[test]
fn edge_topology() {
    assert_eq!(
        members(EDGE, Style::Topology, false, None),
        r#"+ Cluster: edge (initializing) --+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
| Member   | Host                | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag | Pending restart | Pending restart reason                        |
+----------+---------------------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
| + legacy | db.example.com:5432 | Replica | streaming |  2 |         1/0 |   0 |    unknown |     |                 |                                               |
+----------+---------------------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
| + noaddr |                     | Replica | starting  |    |     unknown |     |    unknown |     |                 |                                               |
+----------+---------------------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
| + same   | db.example.com:5432 | Replica | running   |    |     unknown |     |    unknown |     | *               | max_wal_senders: 10->20                       |
|          |                     |         |           |    |             |     |            |     |                 | shared_preload_libraries: [hidden - too long] |
+----------+---------------------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+
"#
    );
}

/// The `history` fixture's key.
const HISTORY: &str = r#"[[1, 24392648, "no recovery target specified", "2023-09-11T22:11:27.125527+00:00", "postgresql0"], [2, 50331864, "no recovery target specified", "2023-09-12T11:34:03.148097+00:00", "postgresql0"], [3, 83886704, "no recovery target specified"]]"#;

fn history_view() -> ClusterView {
    ClusterView::decode(&[("history".into(), HISTORY.as_bytes().to_vec(), 0, 1)], 1)
}

#[test]
fn history_pretty() {
    assert_eq!(
        render_history(&history_view(), Format::Pretty).unwrap(),
        r#"+----+----------+------------------------------+----------------------------------+-------------+
| TL |      LSN | Reason                       | Timestamp                        | New Leader  |
+----+----------+------------------------------+----------------------------------+-------------+
|  1 | 24392648 | no recovery target specified | 2023-09-11T22:11:27.125527+00:00 | postgresql0 |
|  2 | 50331864 | no recovery target specified | 2023-09-12T11:34:03.148097+00:00 | postgresql0 |
|  3 | 83886704 | no recovery target specified |                                  |             |
+----+----------+------------------------------+----------------------------------+-------------+
"#
    );
}

#[test]
fn history_tsv() {
    assert_eq!(
        render_history(&history_view(), Format::Tsv).unwrap(),
        r#"TL	LSN	Reason	Timestamp	New Leader
1	24392648	no recovery target specified	2023-09-11T22:11:27.125527+00:00	postgresql0
2	50331864	no recovery target specified	2023-09-12T11:34:03.148097+00:00	postgresql0
3	83886704	no recovery target specified		
"#
    );
}

#[test]
fn history_json() {
    assert_eq!(
        render_history(&history_view(), Format::Json).unwrap(),
        r#"[{"TL": 1, "LSN": 24392648, "Reason": "no recovery target specified", "Timestamp": "2023-09-11T22:11:27.125527+00:00", "New Leader": "postgresql0"}, {"TL": 2, "LSN": 50331864, "Reason": "no recovery target specified", "Timestamp": "2023-09-12T11:34:03.148097+00:00", "New Leader": "postgresql0"}, {"TL": 3, "LSN": 83886704, "Reason": "no recovery target specified", "Timestamp": "", "New Leader": ""}]
"#
    );
}

#[test]
fn history_yaml() {
    assert_eq!(
        render_history(&history_view(), Format::Yaml).unwrap(),
        r#"- LSN: 24392648
  New Leader: postgresql0
  Reason: no recovery target specified
  TL: 1
  Timestamp: '2023-09-11T22:11:27.125527+00:00'
- LSN: 50331864
  New Leader: postgresql0
  Reason: no recovery target specified
  TL: 2
  Timestamp: '2023-09-12T11:34:03.148097+00:00'
- LSN: 83886704
  New Leader: ''
  Reason: no recovery target specified
  TL: 3
  Timestamp: ''

"#
    );
}

fn query_rows() -> Vec<Vec<Doc>> {
    vec![
        vec![Doc::Int(42), Doc::Null],
        vec![Doc::Int(7), Doc::str("it's")],
    ]
}

fn error_row() -> Vec<Vec<Doc>> {
    vec![vec![
        Doc::str("2024-01-01 10:00:00"),
        Doc::str("ERROR, SQLSTATE: 42P01"),
    ]]
}

#[test]
fn query_pretty() {
    assert_eq!(
        print_output(
            Some(&["answer", "note"]),
            query_rows(),
            &[],
            Style::Pretty,
            "",
            "\t"
        ),
        r#"+--------+------+
| answer | note |
+--------+------+
| 42     | None |
| 7      | it's |
+--------+------+
"#
    );
}

#[test]
fn query_pretty_error() {
    assert_eq!(
        print_output(None, error_row(), &[], Style::Pretty, "", "\t"),
        r#"+---------------------+------------------------+
| Field 1             | Field 2                |
+---------------------+------------------------+
| 2024-01-01 10:00:00 | ERROR, SQLSTATE: 42P01 |
+---------------------+------------------------+
"#
    );
}

#[test]
fn query_tsv() {
    assert_eq!(
        print_output(
            Some(&["answer", "note"]),
            query_rows(),
            &[],
            Style::Tsv,
            "",
            "\t"
        ),
        r#"answer	note
42	None
7	it's
"#
    );
}

#[test]
fn query_tsv_error() {
    assert_eq!(
        print_output(None, error_row(), &[], Style::Tsv, "", "\t"),
        r#"2024-01-01 10:00:00	ERROR, SQLSTATE: 42P01
"#
    );
}

#[test]
fn query_json() {
    assert_eq!(
        print_output(
            Some(&["answer", "note"]),
            query_rows(),
            &[],
            Style::Json,
            "",
            "\t"
        ),
        r#"[{"answer": 42, "note": null}, {"answer": 7, "note": "it's"}]
"#
    );
}

#[test]
fn query_json_error() {
    assert_eq!(
        print_output(None, error_row(), &[], Style::Json, "", "\t"),
        r#"[{}]
"#
    );
}

#[test]
fn query_yaml() {
    assert_eq!(
        print_output(
            Some(&["answer", "note"]),
            query_rows(),
            &[],
            Style::Yaml,
            "",
            "\t"
        ),
        r#"- answer: 42
  note: null
- answer: 7
  note: it's

"#
    );
}

#[test]
fn query_yaml_error() {
    assert_eq!(
        print_output(None, error_row(), &[], Style::Yaml, "", "\t"),
        r#"- {}

"#
    );
}

/// A dynamic configuration with values PyYAML must quote.
const CONFIG: &str = r#"{"ttl": 30, "loop_wait": 10, "postgresql": {"parameters": {"max_connections": 100, "work_mem": "8MB", "synchronous_commit": "on", "archive_command": "test ! -f /arch/%f && cp %p /arch/%f"}, "use_pg_rewind": true}, "pause": null, "tags": [], "failsafe_mode": false, "name": "x: y"}"#;

#[test]
fn config_as_pyyaml() {
    let cfg: Value = serde_json::from_str(CONFIG).unwrap();
    assert_eq!(
        config_yaml(&cfg),
        r#"failsafe_mode: false
loop_wait: 10
name: 'x: y'
pause: null
postgresql:
  parameters:
    archive_command: test ! -f /arch/%f && cp %p /arch/%f
    max_connections: 100
    synchronous_commit: 'on'
    work_mem: 8MB
  use_pg_rewind: true
tags: []
ttl: 30
"#
    );
}

#[test]
fn config_diff_as_difflib() {
    let old: Value = serde_json::from_str(CONFIG).unwrap();
    let mut new = old.clone();
    apply_set(&mut new, "loop_wait=5").unwrap();
    apply_set(&mut new, "postgresql.parameters.work_mem=16MB").unwrap();
    apply_set(&mut new, "tags=").unwrap();
    // show_diff echoes each line; its output ends with a newline.
    assert_eq!(
        config_diff(&old, &new),
        r#"--- 
+++ 
@@ -1,5 +1,5 @@
 failsafe_mode: false
-loop_wait: 10
+loop_wait: 5
 name: 'x: y'
 pause: null
 postgresql:
@@ -7,7 +7,6 @@
     archive_command: test ! -f /arch/%f && cp %p /arch/%f
     max_connections: 100
     synchronous_commit: 'on'
-    work_mem: 8MB
+    work_mem: 16MB
   use_pg_rewind: true
-tags: []
 ttl: 30
"#
    );
}

#[test]
fn set_values_as_apply_config_changes() {
    // Expected: patronictl 4.1.5's apply_config_changes on the same input.
    let mut c: Value = serde_json::from_str(
        r#"{"ttl":30,"loop_wait":"10","postgresql":{"parameters":{"a":1,"b.c":2},"use_slots":true},"x":5}"#,
    )
    .unwrap();
    for s in [
        "loop_wait=5",
        "postgresql.parameters.b.c=on",
        "postgresql.parameters.a=",
        "x.y=010",
        "new.deep.key= 1:30",
        "postgresql.use_slots=null",
        "tags=[1, \"on\"]",
        "q=\"on\"",
        "postgresql.parameters.synchronous_commit=off",
    ] {
        apply_set(&mut c, s).unwrap();
    }
    let want: Value = serde_json::from_str(
        r#"{"loop_wait": 5, "new": {"deep": {"key": 90}}, "postgresql": {"parameters": {"b.c": true, "synchronous_commit": false}}, "q": "on", "tags": [1, "on"], "ttl": 30, "x": {"y": 8}}"#,
    )
    .unwrap();
    assert_eq!(c, want);
    assert_eq!(
        apply_set(&mut c, "novalue").unwrap_err().to_string(),
        "Invalid parameter setting novalue"
    );
}

#[test]
fn patch_as_patroni() {
    let mut c: Value =
        serde_json::from_str(r#"{"ttl":30,"loop_wait":"10","p":{"a":1,"b":2},"s":"1"}"#).unwrap();
    let patch: Value = serde_json::from_str(
        r#"{"loop_wait":10,"p":{"a":null,"c":3},"s":1,"ttl":null,"n":{"x":1}}"#,
    )
    .unwrap();
    patch_config(&mut c, &patch);
    let want: Value = serde_json::from_str(
        r#"{"loop_wait": "10", "n": {"x": 1}, "p": {"b": 2, "c": 3}, "s": "1"}"#,
    )
    .unwrap();
    assert_eq!(c, want);
}

#[test]
fn dcs_urls_as_parse_dcs() {
    let ok = |u: &str| parse_dcs_url(u).unwrap();
    assert_eq!(
        ok("etcd3://10.0.0.1:2379/svc"),
        ("http://10.0.0.1:2379".into(), Some("/svc/".into()))
    );
    assert_eq!(ok("localhost:2379"), ("http://localhost:2379".into(), None));
    assert_eq!(ok("10.0.0.1"), ("http://10.0.0.1:2379".into(), None));
    assert_eq!(ok("etcd://h"), ("http://h:2379".into(), None));
    assert_eq!(ok("etcd3://h:1234/"), ("http://h:1234".into(), None));
    assert_eq!(
        parse_dcs_url("foo://h").unwrap_err().to_string(),
        "Unknown dcs scheme: foo"
    );
    assert!(parse_dcs_url("zookeeper://h").is_err());
}

#[test]
fn scheduled_as_dateutil() {
    let utc = chrono::Utc;
    let iso = |s: &str| parse_scheduled(Some(s), &utc).unwrap().unwrap();
    for (given, t, space) in [
        (
            "2023-05-29T04:32:31-3",
            "2023-05-29T04:32:31-03:00",
            "2023-05-29 04:32:31-03:00",
        ),
        (
            "2030-01-01T10:00Z",
            "2030-01-01T10:00:00+00:00",
            "2030-01-01 10:00:00+00:00",
        ),
        (
            "2030-01-01 10:00:00.5+02:00",
            "2030-01-01T10:00:00.500000+02:00",
            "2030-01-01 10:00:00.500000+02:00",
        ),
        (
            "2030-01-01T10:00+05:30",
            "2030-01-01T10:00:00+05:30",
            "2030-01-01 10:00:00+05:30",
        ),
        // No zone: the local one (UTC here).
        (
            "2030-01-01T10:00",
            "2030-01-01T10:00:00+00:00",
            "2030-01-01 10:00:00+00:00",
        ),
    ] {
        assert_eq!(
            (iso(given).isoformat('T'), iso(given).isoformat(' ')),
            (t.into(), space.into())
        );
    }
    assert!(parse_scheduled(Some("now"), &utc).unwrap().is_none());
    assert!(parse_scheduled(None, &utc).unwrap().is_none());
    assert_eq!(
        parse_scheduled(Some("tomorrow-ish"), &utc).unwrap_err().to_string(),
        "Unable to parse scheduled timestamp (tomorrow-ish). It should be in an unambiguous format (e.g. ISO 8601)"
    );
}

#[test]
fn pg_versions_as_patroni() {
    assert_eq!(check_pg_version("9.5.3").unwrap(), 90503);
    assert_eq!(check_pg_version("10.1").unwrap(), 100001);
    assert_eq!(
        check_pg_version("10").unwrap_err().to_string(),
        "Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 10"
    );
    assert!(check_pg_version("9.6").is_err());
    assert_eq!(
        check_pg_version("a.b.c").unwrap_err().to_string(),
        "Invalid PostgreSQL version: a.b.c"
    );
    assert_eq!(
        (format_pg_version(90624), format_pg_version(150004)),
        ("9.6.24".into(), "15.4".into())
    );
}

#[test]
fn long_title_is_cut_to_the_border() {
    let out = table_box(
        " Cluster: a-very-long-cluster-name (7277694203142172922) ",
        &["Member".to_string()],
        &[vec!["m1".to_string()]],
        &[],
        false,
    );
    assert_eq!(
        out,
        "+ Cluster+\n| Member |\n+--------+\n| m1     |\n+--------+\n"
    );
}

#[test]
fn empty_history() {
    let v = ClusterView::default();
    assert_eq!(
        render_history(&v, Format::Pretty).unwrap(),
        "+----+-----+--------+-----------+------------+\n| TL | LSN | Reason | Timestamp | New Leader |\n+----+-----+--------+-----------+------------+\n+----+-----+--------+-----------+------------+\n"
    );
    assert_eq!(render_history(&v, Format::Json).unwrap(), "[]\n");
    assert_eq!(render_history(&v, Format::Yaml).unwrap(), "[]\n\n");
    assert_eq!(
        render_history(&v, Format::Tsv).unwrap(),
        "TL\tLSN\tReason\tTimestamp\tNew Leader\n"
    );
}

/// praetor's additions to a Citus `list`: a Pooler column when a member publishes `proxy_url`, and
/// the configuration file's Citus databases under the table.
#[test]
fn citus_poolers_and_databases() {
    let spec = r#"{"scope": "demo", "citus": true, "groups": {
        "0": {"initialize": "1", "leader": "c1", "members": {
            "c1": {"conn_url": "postgres://10.0.0.1:5432/postgres", "role": "primary", "state": "running", "timeline": 1}}},
        "1": {"initialize": "2", "leader": "w1", "members": {
            "w1": {"conn_url": "postgres://10.0.0.2:5432/postgres", "proxy_url": "postgres://10.0.0.2:6432/postgres", "role": "primary", "state": "running", "timeline": 1}}}}}"#;
    let (scope, citus, all) = groups(spec);
    let databases = ["citus".to_string(), "reports".to_string()];
    let out = render_members(&ListSpec {
        name: &scope,
        citus,
        group: None,
        groups: &all,
        style: Style::Pretty,
        extended: false,
        databases: &databases,
    });
    assert_eq!(
        out,
        r#"+ Citus cluster: demo ------+---------------+--------+---------+----+-------------+-----+------------+-----+
| Group | Member | Host     | Pooler        | Role   | State   | TL | Receive LSN | Lag | Replay LSN | Lag |
+-------+--------+----------+---------------+--------+---------+----+-------------+-----+------------+-----+
|     0 | c1     | 10.0.0.1 |               | Leader | running |  1 |             |     |            |     |
|     1 | w1     | 10.0.0.2 | 10.0.0.2:6432 | Leader | running |  1 |             |     |            |     |
+-------+--------+----------+---------------+--------+---------+----+-------------+-----+------------+-----+
 Citus databases: citus, reports
"#
    );
}
