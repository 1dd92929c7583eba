-- Migration 5: what a bookmark's time and still are of. 'live' (no row here, as every
-- bookmark before this version): the live picture; 'playback': a recorded picture on the
-- wall; 'replay': a picture of an evidence archive. Audited with the bookmark.
CREATE TABLE bookmark_source (
    bookmark_id  INTEGER PRIMARY KEY REFERENCES bookmark (id),
    source       TEXT NOT NULL CHECK (source IN ('playback', 'replay'))
);
