-- Artifacts: every revision ever put, and a pointer to the current revision of each artifact that is not deleted.
CREATE TABLE vamp_artifact_revisions (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    revision INTEGER NOT NULL,
    document TEXT NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (kind, name, revision)
);

CREATE TABLE vamp_artifacts (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;

-- Events: one row per event, its id (seq) in publication order, its timestamp in Unix nanoseconds.
CREATE TABLE vamp_events (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    tags TEXT NOT NULL,
    value TEXT NOT NULL
);

CREATE INDEX vamp_events_by_time ON vamp_events (at, seq);

-- One row per expanded tag of an event, clustered by (tag, at, seq): a tag and time range is one range scan in
-- time order, and "also carries tag t" is one key lookup.
CREATE TABLE vamp_event_tags (
    tag TEXT NOT NULL,
    at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (tag, at, seq)
) WITHOUT ROWID;
