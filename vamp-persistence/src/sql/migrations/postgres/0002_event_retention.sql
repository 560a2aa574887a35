-- Event retention deletes old events continuously, a small share of both event tables at every prune. Vacuum
-- them after 2% dead rows rather than PostgreSQL's default 20%, so the space of pruned events is reused soon and
-- the tables stay near the size the retention period implies. (Ids come from the sequence and are never reused.)
ALTER TABLE vamp_events SET (autovacuum_vacuum_scale_factor = 0.02);
ALTER TABLE vamp_event_tags SET (autovacuum_vacuum_scale_factor = 0.02);
