-- Migration 2: full-text search over incident titles, notes and bookmark notes.
-- The text is folded (lower case, diacritics and đ removed) by the app before it is indexed,
-- so "trom cap" finds "trộm cắp"; unicode61 with remove_diacritics folds what remains.
CREATE VIRTUAL TABLE search_fts USING fts5 (
    kind UNINDEXED,        -- 'incident', 'note', 'bookmark'
    ref_id UNINDEXED,      -- id in that table
    incident_id UNINDEXED, -- the incident it belongs to, if any
    body,
    tokenize = 'unicode61 remove_diacritics 2'
);
