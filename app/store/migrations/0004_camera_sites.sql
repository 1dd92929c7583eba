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
