-- Migration 6: officers a ward can staff. Four roles (viewer, operator, investigator,
-- supervisor), rank and unit, the disabled and must-change-PIN flags; the sign-in guard
-- (consecutive failures and lockout per typed ID, known or not); workstation settings
-- (idle lock, time zone), each change audited ('setting:<key>').
-- SQLite cannot change a CHECK constraint, so the operator table is rebuilt: the app runs
-- this migration with foreign keys off and runs `PRAGMA foreign_key_check` before commit.
CREATE TABLE operator_new (
    id               TEXT PRIMARY KEY,      -- the ID typed at sign-in
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'investigator', 'supervisor')),
    pin_argon2       TEXT NOT NULL,         -- argon2id PHC string; the PIN is never stored
    created_ms       INTEGER NOT NULL,
    unit             TEXT NOT NULL DEFAULT '',  -- rank and unit ("Thượng úy, CA phường Xuân Đỉnh")
    disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    must_change_pin  INTEGER NOT NULL DEFAULT 0 CHECK (must_change_pin IN (0, 1))
);
INSERT INTO operator_new (id, name, role, pin_argon2, created_ms)
    SELECT id, name, role, pin_argon2, created_ms FROM operator;
DROP TABLE operator;
ALTER TABLE operator_new RENAME TO operator;

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
