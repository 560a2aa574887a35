-- Artifacts: every revision ever put, and a pointer to the current revision of each artifact that is not deleted.
-- Names use the "C" collation so that listings sort in byte order whatever the database's locale.
CREATE TABLE vamp_artifact_revisions (
    kind TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    revision BIGINT NOT NULL,
    document TEXT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (kind, name, revision)
);

CREATE TABLE vamp_artifacts (
    kind TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Events: one row per event, its id (seq) in publication order, its timestamp in Unix nanoseconds.
CREATE TABLE vamp_events (
    seq BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    tags TEXT NOT NULL,
    value TEXT NOT NULL
);

CREATE INDEX vamp_events_by_time ON vamp_events (at, seq);

-- One row per expanded tag of an event, indexed by (tag, at, seq) with the type included: a tag and time range
-- is one index range scan in time order, and "also carries tag t" is one key lookup.
CREATE TABLE vamp_event_tags (
    tag TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (tag, at, seq) INCLUDE (kind)
);

-- Both event tables only grow: vacuum and analyze them after 2% new rows rather than PostgreSQL's default 20%, so
-- that index-only scans over recent events (counts, pages) find their pages marked all-visible.
ALTER TABLE vamp_events SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE vamp_event_tags SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
