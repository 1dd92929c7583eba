-- Mắt Thần log: the current schema, in one file. A new database is created from this file;
-- an older one is brought here by the numbered migrations in migrations/ (a test checks that
-- both give the same schema). Times are Unix milliseconds, UTC (*_ms); angles in degrees (*_deg).

-- Migration 1: operators, bookmarks, incidents, notes, the audit chain.
-- Times are Unix milliseconds, UTC (`*_ms`); angles in degrees (`*_deg`).

-- (Rebuilt by migration 6: four roles, unit, disabled, must_change_pin.)
CREATE TABLE "operator" (
    id               TEXT PRIMARY KEY,      -- the ID typed at sign-in
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'investigator', 'supervisor')),
    pin_argon2       TEXT NOT NULL,         -- argon2id PHC string; the PIN is never stored
    created_ms       INTEGER NOT NULL,
    unit             TEXT NOT NULL DEFAULT '',  -- rank and unit ("Thượng úy, CA phường Xuân Đỉnh")
    disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    must_change_pin  INTEGER NOT NULL DEFAULT 0 CHECK (must_change_pin IN (0, 1))
);

CREATE TABLE bookmark (
    id             INTEGER PRIMARY KEY,
    camera_id      TEXT NOT NULL,           -- id from cameras.toml
    operator_id    TEXT NOT NULL REFERENCES operator (id),
    frame_time_ms  INTEGER NOT NULL,        -- wall-clock time of the bookmarked frame
    pre_ms         INTEGER NOT NULL DEFAULT 30000,  -- window before the frame
    post_ms        INTEGER NOT NULL DEFAULT 30000,  -- window after the frame
    note           TEXT NOT NULL DEFAULT '',
    snapshot_png   BLOB,                    -- still of the frame, PNG bytes
    created_ms     INTEGER NOT NULL
);
CREATE INDEX bookmark_camera_time ON bookmark (camera_id, frame_time_ms);

CREATE TABLE incident_type (
    code     TEXT PRIMARY KEY,
    name_vi  TEXT NOT NULL,
    name_en  TEXT NOT NULL,
    active   INTEGER NOT NULL DEFAULT 1     -- 0: retired by a supervisor, kept for old incidents
);
INSERT INTO incident_type (code, name_vi, name_en) VALUES
    ('theft',        'Trộm cắp tài sản',             'Theft'),
    ('snatching',    'Cướp giật',                    'Snatching'),
    ('robbery',      'Cướp tài sản',                 'Robbery'),
    ('disorder',     'Gây rối trật tự công cộng',    'Public disorder'),
    ('fight',        'Đánh nhau',                    'Fighting'),
    ('racing',       'Đua xe',                       'Street racing'),
    ('traffic',      'Tai nạn giao thông',           'Traffic accident'),
    ('fraud',        'Lừa đảo',                      'Fraud'),
    ('littering',    'Vứt rác bừa bãi',              'Littering'),
    ('other',        'Khác',                         'Other');

CREATE TABLE incident (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    type_code    TEXT NOT NULL REFERENCES incident_type (code),
    status       TEXT NOT NULL CHECK (status IN ('new', 'in_progress', 'transferred', 'closed')),
    occurred_ms  INTEGER NOT NULL,
    ward         TEXT NOT NULL DEFAULT '',
    lat_deg      REAL,
    lon_deg      REAL,
    created_by   TEXT NOT NULL REFERENCES operator (id),
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);
CREATE INDEX incident_occurred ON incident (occurred_ms);

CREATE TABLE incident_camera (
    incident_id  INTEGER NOT NULL REFERENCES incident (id),
    camera_id    TEXT NOT NULL,
    PRIMARY KEY (incident_id, camera_id)
);

CREATE TABLE incident_bookmark (
    incident_id  INTEGER NOT NULL REFERENCES incident (id),
    bookmark_id  INTEGER NOT NULL REFERENCES bookmark (id),
    PRIMARY KEY (incident_id, bookmark_id)
);

-- Notes are appended with author and time, never overwritten.
CREATE TABLE incident_note (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incident (id),
    author_id    TEXT NOT NULL REFERENCES operator (id),
    created_ms   INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE TRIGGER incident_note_append_only_u BEFORE UPDATE ON incident_note
BEGIN SELECT RAISE(ABORT, 'incident notes are append-only'); END;
CREATE TRIGGER incident_note_append_only_d BEFORE DELETE ON incident_note
BEGIN SELECT RAISE(ABORT, 'incident notes are append-only'); END;

-- The audit chain. Each row's row_sha256 = SHA-256 over its fields and the previous row's
-- hash; content_sha256 is the hash of the audited record as written, so an edit of the
-- record itself is detected too. `matthan audit verify` recomputes both.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    at_ms           INTEGER NOT NULL,
    operator_id     TEXT NOT NULL,
    action          TEXT NOT NULL,          -- sign_in, sign_out, bookmark_create, incident_create, …
    subject         TEXT NOT NULL,          -- 'bookmark:12', 'incident:3', 'note:7', 'operator:x', ''
    content_sha256  TEXT NOT NULL,          -- hex; '' when the action has no record
    prev_sha256     TEXT NOT NULL,          -- hex of the previous row's row_sha256 ('' for the first)
    row_sha256      TEXT NOT NULL
);
CREATE TRIGGER audit_log_append_only_u BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_append_only_d BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- Full-text search (migrations 2 and 3) over incident titles, notes and bookmark notes.
-- The text is folded (lower case, diacritics and đ removed) by the app before it is indexed,
-- so "trom cap" finds "trộm cắp"; unicode61 with remove_diacritics folds what remains. Prefix indexes (migration 3) serve the
-- last, half-typed word of a query.
CREATE VIRTUAL TABLE search_fts USING fts5 (
    kind UNINDEXED,        -- 'incident', 'note', 'bookmark'
    ref_id UNINDEXED,      -- id in that table
    incident_id UNINDEXED, -- the incident it belongs to, if any
    body,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);

-- Migration 4: the community camera registry. One row per camera of the camera file (seeded
-- from it) and per planned site. Position and field of view as edited on the map; who owns
-- the camera and on what terms it is shared. Every change is audited ('camera_site:<id>').
CREATE TABLE camera_site (
    id            TEXT PRIMARY KEY,         -- camera id from cameras.toml, or a planned site's id
    name          TEXT NOT NULL DEFAULT '',
    ward          TEXT NOT NULL DEFAULT '',
    lat_deg       REAL NOT NULL,
    lon_deg       REAL NOT NULL,
    heading_deg   REAL NOT NULL,            -- compass bearing of the view's centre line
    fov_deg       REAL NOT NULL CHECK (fov_deg > 0 AND fov_deg <= 360),
    range_m       REAL NOT NULL CHECK (range_m > 0),
    planned       INTEGER NOT NULL DEFAULT 0 CHECK (planned IN (0, 1)),
    owner_kind    TEXT NOT NULL DEFAULT 'household'
                  CHECK (owner_kind IN ('household', 'shop', 'school', 'agency')),
    owner         TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    consent       INTEGER NOT NULL DEFAULT 0 CHECK (consent IN (0, 1)),
    sharing       TEXT NOT NULL DEFAULT 'live' CHECK (sharing IN ('live', 'on_request', 'withdrawn')),
    installed_on  TEXT NOT NULL DEFAULT '', -- YYYY-MM-DD or ''
    installed_by  TEXT NOT NULL DEFAULT '',
    updated_ms    INTEGER NOT NULL,
    updated_by    TEXT NOT NULL
);
CREATE INDEX incident_place ON incident (occurred_ms) WHERE lat_deg IS NOT NULL;
-- Migration 5: what a bookmark's time and still are of. 'live' (no row here, as every
-- bookmark before this version): the live picture; 'playback': a recorded picture on the
-- wall; 'replay': a picture of an evidence archive. Audited with the bookmark.
CREATE TABLE bookmark_source (
    bookmark_id  INTEGER PRIMARY KEY REFERENCES bookmark (id),
    source       TEXT NOT NULL CHECK (source IN ('playback', 'replay'))
);

-- Migration 6: the sign-in guard and workstation settings.
-- Consecutive failed sign-ins per typed ID (whether or not such an officer exists, so the
-- answer does not tell which IDs are real). Reset by a good sign-in; not audited content
-- (every failure has its own audit row).
CREATE TABLE sign_in_guard (
    id               TEXT PRIMARY KEY,
    failures         INTEGER NOT NULL,
    locked_until_ms  INTEGER NOT NULL
);

CREATE TABLE setting (
    key         TEXT PRIMARY KEY,           -- 'idle_lock_minutes', 'time_zone'
    value       TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL
);

-- Migration 7: cameras added, edited and removed from the app. One row per change, with
-- what the camera became (URLs without credentials; whether a password is set, never the
-- password). Append-only, audited as camera_change:<id>.
CREATE TABLE camera_change (
    id           INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    operator_id  TEXT NOT NULL REFERENCES operator (id),
    camera_id    TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('add', 'edit', 'remove')),
    description  TEXT NOT NULL
);
CREATE INDEX camera_change_camera ON camera_change (camera_id, at_ms);
CREATE TRIGGER camera_change_append_only_u BEFORE UPDATE ON camera_change
BEGIN SELECT RAISE(ABORT, 'camera changes are append-only'); END;
CREATE TRIGGER camera_change_append_only_d BEFORE DELETE ON camera_change
BEGIN SELECT RAISE(ABORT, 'camera changes are append-only'); END;
