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
