-- Migration 3: prefix indexes for as-you-type search. The last word of a query is matched as a
-- prefix; without these, FTS5 merges the whole doclist of every term with that prefix
-- (over a million incidents, p99 145 ms instead of a few ms). The index is rebuilt by the app
-- after this step.
DROP TABLE search_fts;
CREATE VIRTUAL TABLE search_fts USING fts5 (
    kind UNINDEXED,        -- 'incident', 'note', 'bookmark'
    ref_id UNINDEXED,      -- id in that table
    incident_id UNINDEXED, -- the incident it belongs to, if any
    body,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);
