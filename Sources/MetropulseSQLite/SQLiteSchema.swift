import GRDB

/// Versioned migrations of the SQLite file. Append new migrations; never edit a shipped one.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-queue-store") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tasks (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job_id TEXT NOT NULL UNIQUE,
                        source_id TEXT NOT NULL,
                        priority INTEGER NOT NULL DEFAULT 0,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        max_attempts INTEGER NOT NULL,
                        run_at INTEGER NOT NULL,
                        enqueued_at INTEGER NOT NULL,
                        lease_owner TEXT,
                        lease_expires_at INTEGER,
                        last_error TEXT,
                        finished_at INTEGER
                    );
                    CREATE INDEX tasks_ready ON tasks(priority DESC, run_at) WHERE state IN ('queued', 'retrying');
                    CREATE INDEX tasks_leased ON tasks(lease_expires_at) WHERE state = 'running';
                    CREATE INDEX tasks_state ON tasks(state);
                    CREATE INDEX tasks_finished ON tasks(finished_at) WHERE finished_at IS NOT NULL;

                    CREATE TABLE task_runs (
                        id TEXT PRIMARY KEY,
                        job_id TEXT NOT NULL,
                        task_id INTEGER,
                        source_id TEXT NOT NULL,
                        attempt INTEGER NOT NULL,
                        worker_id TEXT NOT NULL,
                        status TEXT NOT NULL,
                        started_at INTEGER NOT NULL,
                        finished_at INTEGER NOT NULL,
                        duration_ms INTEGER NOT NULL,
                        url TEXT,
                        http_status INTEGER,
                        bytes INTEGER,
                        entity_count INTEGER NOT NULL,
                        rejected_count INTEGER NOT NULL,
                        content_hash TEXT,
                        feed_timestamp INTEGER,
                        error_kind TEXT,
                        error_message TEXT
                    );
                    CREATE INDEX task_runs_finished ON task_runs(finished_at DESC);
                    CREATE INDEX task_runs_source ON task_runs(source_id, finished_at DESC);

                    CREATE TABLE source_state (
                        source_id TEXT PRIMARY KEY,
                        last_slot_at INTEGER,
                        next_run_at INTEGER,
                        last_run_at INTEGER,
                        last_run_status TEXT,
                        last_success_at INTEGER,
                        last_error TEXT,
                        last_feed_timestamp INTEGER
                    );

                    CREATE TABLE station_observations (
                        source_id TEXT NOT NULL,
                        station_id TEXT NOT NULL,
                        observed_at INTEGER NOT NULL,
                        fetched_at INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        bikes_available INTEGER NOT NULL,
                        mechanical_available INTEGER,
                        ebikes_available INTEGER,
                        docks_available INTEGER,
                        capacity INTEGER,
                        is_installed INTEGER NOT NULL,
                        is_renting INTEGER NOT NULL,
                        is_returning INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        occupancy_rate REAL,
                        PRIMARY KEY (source_id, observed_at, station_id)
                    ) WITHOUT ROWID;

                    CREATE TABLE stations_latest (
                        source_id TEXT NOT NULL,
                        station_id TEXT NOT NULL,
                        code TEXT,
                        name TEXT,
                        latitude REAL,
                        longitude REAL,
                        capacity INTEGER,
                        bikes_available INTEGER NOT NULL,
                        mechanical_available INTEGER,
                        ebikes_available INTEGER,
                        docks_available INTEGER,
                        is_installed INTEGER NOT NULL,
                        is_renting INTEGER NOT NULL,
                        is_returning INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        occupancy_rate REAL,
                        observed_at INTEGER NOT NULL,
                        fetched_at INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        PRIMARY KEY (source_id, station_id)
                    ) WITHOUT ROWID;

                    CREATE TABLE worker_heartbeats (
                        worker_id TEXT PRIMARY KEY,
                        host TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        concurrency INTEGER NOT NULL,
                        in_flight INTEGER NOT NULL,
                        processed INTEGER NOT NULL,
                        failed INTEGER NOT NULL,
                        fetch_rate REAL NOT NULL,
                        errors_last_minute INTEGER NOT NULL,
                        cpu_seconds REAL NOT NULL,
                        memory_bytes INTEGER NOT NULL,
                        started_at INTEGER NOT NULL,
                        last_seen_at INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v2-scheduler-leader") { db in
            try db.execute(
                sql: """
                    CREATE TABLE scheduler_leader (
                        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                        scheduler_id TEXT NOT NULL,
                        host TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        since INTEGER NOT NULL,
                        renewed_at INTEGER NOT NULL
                    )
                    """)
        }
        migrator.registerMigration("v3-transit") { db in
            try db.execute(
                sql: """
                    CREATE TABLE departures (
                        source_id TEXT NOT NULL,
                        trip_key TEXT NOT NULL,
                        stop_id TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        route_id TEXT,
                        at INTEGER,
                        observed_at INTEGER NOT NULL,
                        fetched_at INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        PRIMARY KEY (source_id, trip_key, stop_id, sequence)
                    ) WITHOUT ROWID;
                    CREATE INDEX departures_stop ON departures(stop_id, at);
                    CREATE INDEX departures_route ON departures(source_id, route_id, at);
                    CREATE TABLE vehicles (
                        source_id TEXT NOT NULL,
                        vehicle_id TEXT NOT NULL,
                        route_id TEXT,
                        observed_at INTEGER NOT NULL,
                        fetched_at INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        PRIMARY KEY (source_id, vehicle_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE vehicle_positions (
                        source_id TEXT NOT NULL,
                        vehicle_id TEXT NOT NULL,
                        observed_at INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        PRIMARY KEY (source_id, vehicle_id, observed_at)
                    ) WITHOUT ROWID;
                    CREATE TABLE disruptions (
                        source_id TEXT NOT NULL,
                        id TEXT NOT NULL,
                        observed_at INTEGER NOT NULL,
                        fetched_at INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        PRIMARY KEY (source_id, id)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v4-measurements") { db in
            try db.execute(
                sql: """
                    CREATE TABLE measurements (
                        source_id TEXT NOT NULL,
                        zone TEXT NOT NULL,
                        metric TEXT NOT NULL,
                        observed_at INTEGER NOT NULL,
                        value REAL NOT NULL,
                        unit TEXT,
                        fetched_at INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        PRIMARY KEY (source_id, zone, metric, observed_at)
                    ) WITHOUT ROWID;
                    CREATE TABLE measurements_latest (
                        source_id TEXT NOT NULL,
                        zone TEXT NOT NULL,
                        metric TEXT NOT NULL,
                        observed_at INTEGER NOT NULL,
                        value REAL NOT NULL,
                        unit TEXT,
                        fetched_at INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        PRIMARY KEY (source_id, zone, metric)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v5-heartbeat-partitions") { db in
            try db.execute(sql: "ALTER TABLE worker_heartbeats ADD COLUMN partitions TEXT NOT NULL DEFAULT ''")
        }
        migrator.registerMigration("v6-task-runs-by-job") { db in
            try db.execute(sql: "CREATE INDEX task_runs_job ON task_runs(job_id)")
        }
        migrator.registerMigration("v7-station-blocks") { db in
            try db.execute(
                sql: """
                    CREATE TABLE station_blocks (
                        id INTEGER PRIMARY KEY,
                        source_id TEXT NOT NULL,
                        run_id TEXT NOT NULL,
                        fetched_at INTEGER NOT NULL,
                        first_observed_at INTEGER NOT NULL,
                        last_observed_at INTEGER NOT NULL,
                        count INTEGER NOT NULL,
                        payload BLOB NOT NULL
                    );
                    CREATE INDEX station_blocks_time ON station_blocks(source_id, last_observed_at);
                    CREATE TABLE station_latest (
                        source_id TEXT PRIMARY KEY,
                        token INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        count INTEGER NOT NULL,
                        payload BLOB NOT NULL,
                        details BLOB NOT NULL
                    );
                    """)
            try packStationRows(db)
            try db.execute(sql: "DROP TABLE station_observations; DROP TABLE stations_latest")
        }
        migrator.registerMigration("v8-system-logs") { db in
            // The central log; its words in an FTS5 index (the message and the metadata values).
            try db.execute(
                sql: """
                    CREATE TABLE system_logs (
                        id INTEGER PRIMARY KEY,
                        at INTEGER NOT NULL,
                        service TEXT NOT NULL,
                        instance TEXT NOT NULL,
                        level TEXT NOT NULL,
                        severity INTEGER NOT NULL,
                        logger TEXT NOT NULL,
                        message TEXT NOT NULL,
                        metadata TEXT NOT NULL
                    );
                    CREATE INDEX system_logs_at ON system_logs(at);
                    CREATE VIRTUAL TABLE system_logs_text USING fts5(text, tokenize = 'unicode61');
                    """)
        }
        migrator.registerMigration("v9-control-commands") { db in
            // Control commands as sent, and each worker's acknowledgement.
            try db.execute(
                sql: """
                    CREATE TABLE control_commands (
                        id TEXT PRIMARY KEY,
                        kind TEXT NOT NULL,
                        target TEXT,
                        issued_at INTEGER NOT NULL,
                        issued_by TEXT,
                        workers TEXT,
                        slots TEXT
                    );
                    CREATE INDEX control_commands_issued_at ON control_commands(issued_at);
                    CREATE TABLE command_acks (
                        command_id TEXT NOT NULL,
                        worker_id TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        ok INTEGER NOT NULL,
                        result TEXT NOT NULL,
                        PRIMARY KEY (command_id, worker_id)
                    );
                    """)
        }
        migrator.registerMigration("v10-jobs-and-station-hours") { db in
            // The job runner's history and state, the gold tier's station hours, and the raw
            // blocks in fetch order (the aggregates' incremental input).
            try db.execute(
                sql: """
                    CREATE TABLE job_runs (
                        id TEXT PRIMARY KEY,
                        job_id TEXT NOT NULL,
                        cycle INTEGER NOT NULL,
                        trigger TEXT NOT NULL,
                        attempt INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        started_at INTEGER NOT NULL,
                        finished_at INTEGER,
                        rows_read INTEGER NOT NULL,
                        rows_written INTEGER NOT NULL,
                        detail TEXT,
                        error TEXT,
                        requested_by TEXT
                    );
                    CREATE INDEX job_runs_job ON job_runs(job_id, started_at);
                    CREATE INDEX job_runs_started ON job_runs(started_at);
                    CREATE TABLE job_state (
                        job_id TEXT PRIMARY KEY,
                        paused INTEGER NOT NULL DEFAULT 0,
                        requested_at INTEGER,
                        requested_by TEXT,
                        watermark INTEGER
                    );
                    CREATE TABLE station_hours (
                        source_id TEXT NOT NULL,
                        station_id TEXT NOT NULL,
                        hour INTEGER NOT NULL,
                        observations INTEGER NOT NULL,
                        bikes_mean REAL NOT NULL,
                        bikes_min INTEGER NOT NULL,
                        bikes_max INTEGER NOT NULL,
                        ebikes_mean REAL,
                        ebikes_min INTEGER,
                        ebikes_max INTEGER,
                        docks_mean REAL,
                        docks_min INTEGER,
                        docks_max INTEGER,
                        occupancy_mean REAL,
                        minutes_empty REAL NOT NULL,
                        minutes_full REAL NOT NULL,
                        minutes_closed REAL NOT NULL,
                        bikes_taken INTEGER NOT NULL,
                        bikes_returned INTEGER NOT NULL,
                        written_at INTEGER NOT NULL,
                        PRIMARY KEY (source_id, station_id, hour)
                    ) WITHOUT ROWID;
                    CREATE INDEX station_hours_written ON station_hours(written_at);
                    CREATE TABLE station_days (
                        source_id TEXT NOT NULL,
                        station_id TEXT NOT NULL,
                        day INTEGER NOT NULL,
                        observations INTEGER NOT NULL,
                        bikes_mean REAL NOT NULL,
                        bikes_min INTEGER NOT NULL,
                        bikes_max INTEGER NOT NULL,
                        ebikes_mean REAL,
                        ebikes_min INTEGER,
                        ebikes_max INTEGER,
                        docks_mean REAL,
                        docks_min INTEGER,
                        docks_max INTEGER,
                        occupancy_mean REAL,
                        minutes_empty REAL NOT NULL,
                        minutes_full REAL NOT NULL,
                        minutes_closed REAL NOT NULL,
                        bikes_taken INTEGER NOT NULL,
                        bikes_returned INTEGER NOT NULL,
                        written_at INTEGER NOT NULL,
                        PRIMARY KEY (source_id, station_id, day)
                    ) WITHOUT ROWID;
                    CREATE INDEX station_days_day ON station_days(source_id, day);
                    CREATE TABLE station_rankings (
                        source_id TEXT NOT NULL,
                        station_id TEXT NOT NULL,
                        computed_at INTEGER NOT NULL,
                        since INTEGER NOT NULL,
                        minutes_empty REAL NOT NULL,
                        minutes_full REAL NOT NULL,
                        turnover INTEGER NOT NULL,
                        rank_empty INTEGER NOT NULL,
                        rank_full INTEGER NOT NULL,
                        rank_turnover INTEGER NOT NULL,
                        PRIMARY KEY (source_id, station_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX station_hours_hour ON station_hours(source_id, hour);
                    CREATE INDEX station_blocks_fetched ON station_blocks(fetched_at, id);
                    """)
        }
        migrator.registerMigration("v11-rejections-and-quality") { db in
            // Each run's rejections (entity and reason, JSON, bounded), and the data-quality
            // results of `data_quality_check`.
            try db.execute(
                sql: """
                    ALTER TABLE task_runs ADD COLUMN rejections TEXT;
                    CREATE TABLE quality_results (
                        at INTEGER NOT NULL,
                        check_name TEXT NOT NULL,
                        source_id TEXT NOT NULL,
                        severity TEXT NOT NULL,
                        count INTEGER NOT NULL,
                        total INTEGER NOT NULL,
                        detail TEXT NOT NULL,
                        samples TEXT NOT NULL,
                        PRIMARY KEY (check_name, source_id, at)
                    ) WITHOUT ROWID;
                    CREATE INDEX quality_results_at ON quality_results(at);
                    """)
        }
        migrator.registerMigration("v12-line-and-zone-hours") { db in
            // Departures seen (each departure's last prediction once its time came), the gold
            // tier's line hours and zone hours, and the readings in fetch order (their
            // incremental input).
            try db.execute(
                sql: """
                    CREATE TABLE departures_seen (
                        source_id TEXT NOT NULL,
                        trip_key TEXT NOT NULL,
                        stop_id TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        day INTEGER NOT NULL,
                        route_id TEXT,
                        at INTEGER NOT NULL,
                        scheduled_at INTEGER,
                        delay_seconds INTEGER,
                        relationship TEXT,
                        observed_at INTEGER NOT NULL,
                        recorded_at INTEGER NOT NULL,
                        PRIMARY KEY (source_id, trip_key, stop_id, sequence, day)
                    ) WITHOUT ROWID;
                    CREATE INDEX departures_seen_recorded ON departures_seen(recorded_at);
                    CREATE INDEX departures_seen_at ON departures_seen(source_id, at);
                    CREATE TABLE line_hours (
                        source_id TEXT NOT NULL,
                        route_id TEXT NOT NULL,
                        hour INTEGER NOT NULL,
                        departures INTEGER NOT NULL,
                        with_delay INTEGER NOT NULL,
                        cancelled INTEGER NOT NULL,
                        delay_mean REAL,
                        delay_p90 REAL,
                        on_time_share REAL,
                        written_at INTEGER NOT NULL,
                        PRIMARY KEY (source_id, route_id, hour)
                    ) WITHOUT ROWID;
                    CREATE TABLE zone_hours (
                        source_id TEXT NOT NULL,
                        zone TEXT NOT NULL,
                        metric TEXT NOT NULL,
                        hour INTEGER NOT NULL,
                        readings INTEGER NOT NULL,
                        mean REAL NOT NULL,
                        min REAL NOT NULL,
                        max REAL NOT NULL,
                        unit TEXT,
                        written_at INTEGER NOT NULL,
                        PRIMARY KEY (source_id, zone, metric, hour)
                    ) WITHOUT ROWID;
                    CREATE INDEX measurements_fetched ON measurements(fetched_at);
                    """)
        }
        migrator.registerMigration("v13-city-live") { db in
            // City Live: each zone's latest snapshot and the alerts, as JSON documents.
            try db.execute(
                sql: """
                    CREATE TABLE city_zone_snapshots (
                        city TEXT NOT NULL,
                        zone TEXT NOT NULL,
                        computed_at INTEGER NOT NULL,
                        document TEXT NOT NULL,
                        PRIMARY KEY (city, zone)
                    ) WITHOUT ROWID;
                    CREATE TABLE city_alerts (
                        id TEXT PRIMARY KEY,
                        city TEXT NOT NULL,
                        state TEXT NOT NULL,
                        updated_at INTEGER NOT NULL,
                        document TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX city_alerts_city ON city_alerts(city, state, updated_at);
                    """)
        }
        migrator.registerMigration("v14-webhooks") { db in
            // Webhook endpoints, the conditions their events come from, and the deliveries.
            try db.execute(
                sql: """
                    CREATE TABLE webhook_endpoints (
                        id TEXT PRIMARY KEY,
                        enabled INTEGER NOT NULL,
                        document TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE webhook_conditions (
                        endpoint_id TEXT NOT NULL,
                        key TEXT NOT NULL,
                        value TEXT NOT NULL,
                        PRIMARY KEY (endpoint_id, key)
                    ) WITHOUT ROWID;
                    CREATE TABLE webhook_deliveries (
                        id TEXT PRIMARY KEY,
                        endpoint_id TEXT NOT NULL,
                        status TEXT NOT NULL,
                        next_attempt_at INTEGER NOT NULL,
                        lease_until INTEGER,
                        created_at INTEGER NOT NULL,
                        document TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
                    CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at);
                    """)
        }
        return migrator
    }
}
