-- Event retention deletes old events, the newest by id among them too. Event ids are one more than the largest
-- stored, so the largest id ever handed out is kept here (one row) and new ids count on from it: an id is never
-- handed out twice.
CREATE TABLE vamp_event_ids (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);

INSERT INTO vamp_event_ids (id, last) SELECT 1, COALESCE(MAX(seq), 0) FROM vamp_events;
