import Logging
import PostgresNIO

/// Versioned migrations; each runs once, under an advisory lock so concurrent starts are safe.
enum PostgresSchema {
    static let migrations: [(String, [PostgresQuery])] = [
        (
            "v1-queue-store",
            [
                """
                CREATE TABLE tasks (
                    id BIGSERIAL PRIMARY KEY,
                    job_id TEXT NOT NULL UNIQUE,
                    source_id TEXT NOT NULL,
                    priority INTEGER NOT NULL DEFAULT 0,
                    state TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    max_attempts INTEGER NOT NULL,
                    run_at BIGINT NOT NULL,
                    enqueued_at BIGINT NOT NULL,
                    lease_owner TEXT,
                    lease_expires_at BIGINT,
                    last_error TEXT,
                    finished_at BIGINT
                )
                """,
                "CREATE INDEX tasks_ready ON tasks (priority DESC, run_at) WHERE state IN ('queued', 'retrying')",
                "CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE state = 'running'",
                "CREATE INDEX tasks_state ON tasks (state)",
                "CREATE INDEX tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL",
                """
                CREATE TABLE task_runs (
                    id TEXT PRIMARY KEY,
                    job_id TEXT NOT NULL,
                    task_id BIGINT,
                    source_id TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    worker_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    started_at BIGINT NOT NULL,
                    finished_at BIGINT NOT NULL,
                    duration_ms BIGINT NOT NULL,
                    url TEXT,
                    http_status INTEGER,
                    bytes BIGINT,
                    entity_count INTEGER NOT NULL,
                    rejected_count INTEGER NOT NULL,
                    content_hash TEXT,
                    feed_timestamp BIGINT,
                    error_kind TEXT,
                    error_message TEXT
                )
                """,
                "CREATE INDEX task_runs_finished ON task_runs (finished_at DESC)",
                "CREATE INDEX task_runs_source ON task_runs (source_id, finished_at DESC)",
                """
                CREATE TABLE source_state (
                    source_id TEXT PRIMARY KEY,
                    last_slot_at BIGINT,
                    next_run_at BIGINT,
                    last_run_at BIGINT,
                    last_run_status TEXT,
                    last_success_at BIGINT,
                    last_error TEXT,
                    last_feed_timestamp BIGINT
                )
                """,
                """
                CREATE TABLE station_observations (
                    source_id TEXT NOT NULL,
                    station_id TEXT NOT NULL,
                    observed_at BIGINT NOT NULL,
                    fetched_at BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    bikes_available INTEGER NOT NULL,
                    mechanical_available INTEGER,
                    ebikes_available INTEGER,
                    docks_available INTEGER,
                    capacity INTEGER,
                    is_installed BOOLEAN NOT NULL,
                    is_renting BOOLEAN NOT NULL,
                    is_returning BOOLEAN NOT NULL,
                    status TEXT NOT NULL,
                    occupancy_rate DOUBLE PRECISION,
                    PRIMARY KEY (source_id, observed_at, station_id)
                )
                """,
                "CREATE INDEX station_observations_station ON station_observations (source_id, station_id, observed_at)",
                """
                CREATE TABLE stations_latest (
                    source_id TEXT NOT NULL,
                    station_id TEXT NOT NULL,
                    code TEXT,
                    name TEXT,
                    latitude DOUBLE PRECISION,
                    longitude DOUBLE PRECISION,
                    capacity INTEGER,
                    bikes_available INTEGER NOT NULL,
                    mechanical_available INTEGER,
                    ebikes_available INTEGER,
                    docks_available INTEGER,
                    is_installed BOOLEAN NOT NULL,
                    is_renting BOOLEAN NOT NULL,
                    is_returning BOOLEAN NOT NULL,
                    status TEXT NOT NULL,
                    occupancy_rate DOUBLE PRECISION,
                    observed_at BIGINT NOT NULL,
                    fetched_at BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    PRIMARY KEY (source_id, station_id)
                )
                """,
                """
                CREATE TABLE worker_heartbeats (
                    worker_id TEXT PRIMARY KEY,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    concurrency INTEGER NOT NULL,
                    in_flight INTEGER NOT NULL,
                    processed BIGINT NOT NULL,
                    failed BIGINT NOT NULL,
                    fetch_rate DOUBLE PRECISION NOT NULL,
                    errors_last_minute INTEGER NOT NULL,
                    cpu_seconds DOUBLE PRECISION NOT NULL,
                    memory_bytes BIGINT NOT NULL,
                    started_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL
                )
                """,
            ]
        ),
        (
            "v2-control-commands",
            [
                """
                CREATE TABLE control_commands (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    target TEXT,
                    issued_at BIGINT NOT NULL
                )
                """
            ]
        ),
        (
            "v3-scheduler-leader",
            [
                """
                CREATE TABLE scheduler_leader (
                    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                    scheduler_id TEXT NOT NULL,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    since BIGINT NOT NULL,
                    renewed_at BIGINT NOT NULL
                )
                """
            ]
        ),
        (
            "v4-transit",
            [
                """
                CREATE TABLE departures (
                    source_id TEXT NOT NULL,
                    trip_key TEXT NOT NULL,
                    stop_id TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    route_id TEXT,
                    at BIGINT,
                    observed_at BIGINT NOT NULL,
                    fetched_at BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    PRIMARY KEY (source_id, trip_key, stop_id, sequence)
                )
                """,
                "CREATE INDEX departures_stop ON departures (stop_id, at)",
                "CREATE INDEX departures_route ON departures (source_id, route_id, at)",
                """
                CREATE TABLE vehicles (
                    source_id TEXT NOT NULL,
                    vehicle_id TEXT NOT NULL,
                    route_id TEXT,
                    observed_at BIGINT NOT NULL,
                    fetched_at BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    PRIMARY KEY (source_id, vehicle_id)
                )
                """,
                """
                CREATE TABLE vehicle_positions (
                    source_id TEXT NOT NULL,
                    vehicle_id TEXT NOT NULL,
                    observed_at BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    PRIMARY KEY (source_id, vehicle_id, observed_at)
                )
                """,
                """
                CREATE TABLE disruptions (
                    source_id TEXT NOT NULL,
                    id TEXT NOT NULL,
                    observed_at BIGINT NOT NULL,
                    fetched_at BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    PRIMARY KEY (source_id, id)
                )
                """,
            ]
        ),
        (
            "v5-measurements",
            [
                """
                CREATE TABLE measurements (
                    source_id TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    observed_at BIGINT NOT NULL,
                    value DOUBLE PRECISION NOT NULL,
                    unit TEXT,
                    fetched_at BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    PRIMARY KEY (source_id, zone, metric, observed_at)
                )
                """,
                """
                CREATE TABLE measurements_latest (
                    source_id TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    observed_at BIGINT NOT NULL,
                    value DOUBLE PRECISION NOT NULL,
                    unit TEXT,
                    fetched_at BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    PRIMARY KEY (source_id, zone, metric)
                )
                """,
            ]
        ),
        (
            "v6-heartbeat-partitions",
            ["ALTER TABLE worker_heartbeats ADD COLUMN partitions TEXT NOT NULL DEFAULT ''"]
        ),
        (
            "v7-task-runs-by-job",
            ["CREATE INDEX task_runs_job ON task_runs (job_id)"]
        ),
        (
            "v8-station-blocks",
            [
                """
                CREATE TABLE station_blocks (
                    id BIGSERIAL PRIMARY KEY,
                    source_id TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    fetched_at BIGINT NOT NULL,
                    first_observed_at BIGINT NOT NULL,
                    last_observed_at BIGINT NOT NULL,
                    count INTEGER NOT NULL,
                    payload BYTEA NOT NULL
                )
                """,
                // Blocks are already compact; compressing them again costs more than it saves.
                "ALTER TABLE station_blocks ALTER COLUMN payload SET STORAGE EXTERNAL",
                "CREATE INDEX station_blocks_time ON station_blocks (source_id, last_observed_at)",
                """
                CREATE TABLE station_latest (
                    source_id TEXT PRIMARY KEY,
                    token BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    count INTEGER NOT NULL,
                    payload BYTEA NOT NULL,
                    details BYTEA NOT NULL
                )
                """,
                "ALTER TABLE station_latest ALTER COLUMN payload SET STORAGE EXTERNAL",
                "ALTER TABLE station_latest ALTER COLUMN details SET STORAGE EXTERNAL",
            ]
        ),
        (
            "v9-stale-commit",
            [
                // Raised by a one-statement commit whose bet failed (a latest block changed, or a
                // lease passed), so the whole statement rolls back and the locked path runs.
                """
                CREATE FUNCTION metropulse_stale_commit(what text) RETURNS integer LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'metropulse: stale commit (%)', what USING ERRCODE = 'MP001';
                END
                $$
                """
            ]
        ),
        (
            "v10-system-logs",
            [
                // The central log; its words (the message and the metadata values) as a tsvector.
                """
                CREATE TABLE system_logs (
                    id BIGSERIAL PRIMARY KEY,
                    at BIGINT NOT NULL,
                    service TEXT NOT NULL,
                    instance TEXT NOT NULL,
                    level TEXT NOT NULL,
                    severity SMALLINT NOT NULL,
                    logger TEXT NOT NULL,
                    message TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    words TSVECTOR NOT NULL
                )
                """,
                "CREATE INDEX system_logs_at ON system_logs (at)",
                "CREATE INDEX system_logs_words ON system_logs USING GIN (words)",
            ]
        ),
        (
            "v11-command-acks",
            [
                // Commands say who sent them, to which workers, and a scale's slots; workers answer.
                "ALTER TABLE control_commands ADD COLUMN issued_by TEXT",
                "ALTER TABLE control_commands ADD COLUMN workers TEXT",
                "ALTER TABLE control_commands ADD COLUMN slots TEXT",
                "CREATE INDEX control_commands_issued_at ON control_commands (issued_at)",
                """
                CREATE TABLE command_acks (
                    command_id TEXT NOT NULL,
                    worker_id TEXT NOT NULL,
                    at BIGINT NOT NULL,
                    ok BOOLEAN NOT NULL,
                    result TEXT NOT NULL,
                    PRIMARY KEY (command_id, worker_id)
                )
                """,
            ]
        ),
        (
            "v12-jobs-and-station-hours",
            [
                // The job runner's history and state, the gold tier's station hours, and the raw
                // blocks in fetch order (the aggregates' incremental input).
                """
                CREATE TABLE job_runs (
                    id TEXT PRIMARY KEY,
                    job_id TEXT NOT NULL,
                    cycle BIGINT NOT NULL,
                    trigger TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    started_at BIGINT NOT NULL,
                    finished_at BIGINT,
                    rows_read BIGINT NOT NULL,
                    rows_written BIGINT NOT NULL,
                    detail TEXT,
                    error TEXT,
                    requested_by TEXT
                )
                """,
                "CREATE INDEX job_runs_job ON job_runs (job_id, started_at)",
                "CREATE INDEX job_runs_started ON job_runs (started_at)",
                """
                CREATE TABLE job_state (
                    job_id TEXT PRIMARY KEY,
                    paused BOOLEAN NOT NULL DEFAULT false,
                    requested_at BIGINT,
                    requested_by TEXT,
                    watermark BIGINT
                )
                """,
                """
                CREATE TABLE station_hours (
                    source_id TEXT NOT NULL,
                    station_id TEXT NOT NULL,
                    hour BIGINT NOT NULL,
                    observations INTEGER NOT NULL,
                    bikes_mean DOUBLE PRECISION NOT NULL,
                    bikes_min INTEGER NOT NULL,
                    bikes_max INTEGER NOT NULL,
                    ebikes_mean DOUBLE PRECISION,
                    ebikes_min INTEGER,
                    ebikes_max INTEGER,
                    docks_mean DOUBLE PRECISION,
                    docks_min INTEGER,
                    docks_max INTEGER,
                    occupancy_mean DOUBLE PRECISION,
                    minutes_empty DOUBLE PRECISION NOT NULL,
                    minutes_full DOUBLE PRECISION NOT NULL,
                    minutes_closed DOUBLE PRECISION NOT NULL,
                    bikes_taken INTEGER NOT NULL,
                    bikes_returned INTEGER NOT NULL,
                    written_at BIGINT NOT NULL,
                    PRIMARY KEY (source_id, station_id, hour)
                )
                """,
                "CREATE INDEX station_hours_written ON station_hours (written_at)",
                """
                CREATE TABLE station_days (
                    source_id TEXT NOT NULL,
                    station_id TEXT NOT NULL,
                    day BIGINT NOT NULL,
                    observations INTEGER NOT NULL,
                    bikes_mean DOUBLE PRECISION NOT NULL,
                    bikes_min INTEGER NOT NULL,
                    bikes_max INTEGER NOT NULL,
                    ebikes_mean DOUBLE PRECISION,
                    ebikes_min INTEGER,
                    ebikes_max INTEGER,
                    docks_mean DOUBLE PRECISION,
                    docks_min INTEGER,
                    docks_max INTEGER,
                    occupancy_mean DOUBLE PRECISION,
                    minutes_empty DOUBLE PRECISION NOT NULL,
                    minutes_full DOUBLE PRECISION NOT NULL,
                    minutes_closed DOUBLE PRECISION NOT NULL,
                    bikes_taken INTEGER NOT NULL,
                    bikes_returned INTEGER NOT NULL,
                    written_at BIGINT NOT NULL,
                    PRIMARY KEY (source_id, station_id, day)
                )
                """,
                "CREATE INDEX station_days_day ON station_days (source_id, day)",
                """
                CREATE TABLE station_rankings (
                    source_id TEXT NOT NULL,
                    station_id TEXT NOT NULL,
                    computed_at BIGINT NOT NULL,
                    since BIGINT NOT NULL,
                    minutes_empty DOUBLE PRECISION NOT NULL,
                    minutes_full DOUBLE PRECISION NOT NULL,
                    turnover INTEGER NOT NULL,
                    rank_empty INTEGER NOT NULL,
                    rank_full INTEGER NOT NULL,
                    rank_turnover INTEGER NOT NULL,
                    PRIMARY KEY (source_id, station_id)
                )
                """,
                "CREATE INDEX station_hours_hour ON station_hours (source_id, hour)",
                "CREATE INDEX station_blocks_fetched ON station_blocks (fetched_at, id)",
            ]
        ),
        (
            "v13-rejections-and-quality",
            [
                // Each run's rejections (entity and reason, JSON, bounded), and the data-quality
                // results of `data_quality_check`.
                "ALTER TABLE task_runs ADD COLUMN rejections TEXT",
                """
                CREATE TABLE quality_results (
                    at BIGINT NOT NULL,
                    check_name TEXT NOT NULL,
                    source_id TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    total INTEGER NOT NULL,
                    detail TEXT NOT NULL,
                    samples TEXT NOT NULL,
                    PRIMARY KEY (check_name, source_id, at)
                )
                """,
                "CREATE INDEX quality_results_at ON quality_results (at)",
            ]
        ),
        (
            "v14-line-and-zone-hours",
            [
                // Departures seen (each departure's last prediction once its time came), the gold
                // tier's line hours and zone hours, and the readings in fetch order (their
                // incremental input).
                """
                CREATE TABLE departures_seen (
                    source_id TEXT NOT NULL,
                    trip_key TEXT NOT NULL,
                    stop_id TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    day BIGINT NOT NULL,
                    route_id TEXT,
                    at BIGINT NOT NULL,
                    scheduled_at BIGINT,
                    delay_seconds INTEGER,
                    relationship TEXT,
                    observed_at BIGINT NOT NULL,
                    recorded_at BIGINT NOT NULL,
                    PRIMARY KEY (source_id, trip_key, stop_id, sequence, day)
                )
                """,
                "CREATE INDEX departures_seen_recorded ON departures_seen (recorded_at)",
                "CREATE INDEX departures_seen_at ON departures_seen (source_id, at)",
                """
                CREATE TABLE line_hours (
                    source_id TEXT NOT NULL,
                    route_id TEXT NOT NULL,
                    hour BIGINT NOT NULL,
                    departures INTEGER NOT NULL,
                    with_delay INTEGER NOT NULL,
                    cancelled INTEGER NOT NULL,
                    delay_mean DOUBLE PRECISION,
                    delay_p90 DOUBLE PRECISION,
                    on_time_share DOUBLE PRECISION,
                    written_at BIGINT NOT NULL,
                    PRIMARY KEY (source_id, route_id, hour)
                )
                """,
                """
                CREATE TABLE zone_hours (
                    source_id TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    hour BIGINT NOT NULL,
                    readings INTEGER NOT NULL,
                    mean DOUBLE PRECISION NOT NULL,
                    min DOUBLE PRECISION NOT NULL,
                    max DOUBLE PRECISION NOT NULL,
                    unit TEXT,
                    written_at BIGINT NOT NULL,
                    PRIMARY KEY (source_id, zone, metric, hour)
                )
                """,
                "CREATE INDEX measurements_fetched ON measurements (fetched_at)",
            ]
        ),
        (
            "v15-city-live",
            [
                // City Live: each zone's latest snapshot and the alerts, as JSON documents.
                """
                CREATE TABLE city_zone_snapshots (
                    city TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    computed_at BIGINT NOT NULL,
                    document TEXT NOT NULL,
                    PRIMARY KEY (city, zone)
                )
                """,
                """
                CREATE TABLE city_alerts (
                    id TEXT PRIMARY KEY,
                    city TEXT NOT NULL,
                    state TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    document TEXT NOT NULL
                )
                """,
                "CREATE INDEX city_alerts_city ON city_alerts (city, state, updated_at)",
            ]
        ),
        (
            "v16-webhooks",
            [
                // Webhook endpoints, the conditions their events come from, and the deliveries.
                "CREATE TABLE webhook_endpoints (id TEXT PRIMARY KEY, enabled BOOLEAN NOT NULL, document TEXT NOT NULL)",
                """
                CREATE TABLE webhook_conditions (
                    endpoint_id TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (endpoint_id, key)
                )
                """,
                """
                CREATE TABLE webhook_deliveries (
                    id TEXT PRIMARY KEY,
                    endpoint_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    next_attempt_at BIGINT NOT NULL,
                    lease_until BIGINT,
                    created_at BIGINT NOT NULL,
                    document TEXT NOT NULL
                )
                """,
                "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
                "CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at)",
            ]
        ),
    ]

    /// Data conversions that run after a migration's statements, in its transaction.
    static let conversions: [String: @Sendable (PostgresConnection, Logger) async throws -> Void] = [
        "v8-station-blocks": packStationRows
    ]

    /// Applies the migrations not yet applied, all of them or those up to and including `last`.
    static func migrate(client: PostgresClient, logger: Logger, upTo last: String? = nil) async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One migrator at a time across every process; released at commit.
            try await connection.query("SELECT pg_advisory_xact_lock(7345001)", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                logger: logger)
            var applied: Set<String> = []
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger)
                .decode(String.self)
            {
                applied.insert(version)
            }
            for (version, statements) in migrations where !applied.contains(version) {
                for statement in statements { try await connection.query(statement, logger: logger) }
                try await conversions[version]?(connection, logger)
                try await connection.query(
                    "INSERT INTO schema_migrations (version) VALUES (\(version))", logger: logger)
                logger.info("migration applied", metadata: ["version": "\(version)"])
                if version == last { break }
            }
        }
    }
}
