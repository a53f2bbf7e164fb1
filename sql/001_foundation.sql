-- 001 foundation: reference communes, porteurs, offers and their places,
-- access tokens and the audit log.
--
-- Every enumerated field and range of DESIGN.md is a CHECK here, so a bug in
-- the daemon cannot store what the contract forbids. CHECK constraints are
-- named ck_<table>__<field>: the daemon turns a violation into a 400 whose
-- JSON pointer is /<field>.

CREATE TABLE communes (
    insee       text PRIMARY KEY,
    name        text NOT NULL,
    departement text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    population  integer
);
-- siaod:copy communes (insee, name, departement, lat, lon, population) FROM communes.csv

CREATE TABLE porteurs (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CONSTRAINT ck_porteurs__name CHECK (length(name) BETWEEN 1 AND 200),
    departement  text NOT NULL CONSTRAINT ck_porteurs__departement CHECK (departement ~ '^([0-9]{2}|2A|2B|97[1-6])$'),
    target_youth integer NOT NULL DEFAULT 0 CONSTRAINT ck_porteurs__target_youth CHECK (target_youth BETWEEN 0 AND 100000),
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE offers (
    id                    bigserial PRIMARY KEY,
    porteur_id            bigint NOT NULL REFERENCES porteurs(id),
    kind                  text NOT NULL CONSTRAINT ck_offers__kind CHECK (kind IN ('iml', 'alt', 'studio_tiroir', 'fjt', 'shared_flat')),
    label                 text NOT NULL CONSTRAINT ck_offers__label CHECK (length(label) BETWEEN 1 AND 200),
    commune_insee         text NOT NULL REFERENCES communes(insee),
    departement           text NOT NULL CONSTRAINT ck_offers__departement CHECK (departement ~ '^([0-9]{2}|2A|2B|97[1-6])$'),
    lat                   double precision NOT NULL CONSTRAINT ck_offers__lat CHECK (lat BETWEEN -90 AND 90),
    lon                   double precision NOT NULL CONSTRAINT ck_offers__lon CHECK (lon BETWEEN -180 AND 180),
    capacity              integer NOT NULL CONSTRAINT ck_offers__capacity CHECK (capacity BETWEEN 0 AND 1000),
    max_stay_days         integer CONSTRAINT ck_offers__max_stay_days CHECK (
                              max_stay_days BETWEEN 1 AND 3650
                              AND (kind <> 'shared_flat' OR max_stay_days <= 90)),
    min_age               integer NOT NULL DEFAULT 16 CONSTRAINT ck_offers__min_age CHECK (min_age BETWEEN 16 AND 29),
    max_age               integer NOT NULL DEFAULT 29 CONSTRAINT ck_offers__max_age CHECK (max_age BETWEEN 16 AND 29 AND max_age >= min_age),
    gender                text NOT NULL DEFAULT 'any' CONSTRAINT ck_offers__gender CHECK (gender IN ('any', 'female', 'male')),
    accepts_couples       boolean NOT NULL DEFAULT false,
    accepts_children      boolean NOT NULL DEFAULT false,
    accepts_pets          boolean NOT NULL DEFAULT false,
    wheelchair_accessible boolean NOT NULL DEFAULT false,
    support_level         text NOT NULL DEFAULT 'standard' CONSTRAINT ck_offers__support_level CHECK (support_level IN ('light', 'standard', 'intensive')),
    monthly_charge_eur    numeric(8,2) NOT NULL DEFAULT 0 CONSTRAINT ck_offers__monthly_charge_eur CHECK (monthly_charge_eur BETWEEN 0 AND 5000),
    available_from        date NOT NULL,
    available_until       date CONSTRAINT ck_offers__available_until CHECK (available_until >= available_from),
    status                text NOT NULL DEFAULT 'open' CONSTRAINT ck_offers__status CHECK (status IN ('open', 'closed')),
    version               integer NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- a shared flat always has its 3-month cap
    CONSTRAINT ck_offers__shared_flat_cap CHECK (kind <> 'shared_flat' OR max_stay_days IS NOT NULL)
);
CREATE INDEX offers_porteur_idx ON offers (porteur_id);
CREATE INDEX offers_departement_idx ON offers (departement, kind);

-- One row per room/bed/unit. Lowering capacity retires the highest-numbered
-- places (active = false) rather than deleting them, so past stays keep
-- pointing at a real place.
CREATE TABLE places (
    id       bigserial PRIMARY KEY,
    offer_id bigint NOT NULL REFERENCES offers(id),
    number   integer NOT NULL CHECK (number >= 1),
    active   boolean NOT NULL DEFAULT true,
    UNIQUE (offer_id, number)
);

CREATE TABLE tokens (
    id           bigserial PRIMARY KEY,
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),  -- SHA-256 of the token
    role         text NOT NULL CONSTRAINT ck_tokens__role CHECK (role IN ('admin', 'referent', 'porteur')),
    label        text NOT NULL DEFAULT '' CONSTRAINT ck_tokens__label CHECK (length(label) <= 200),
    departements text[] NOT NULL DEFAULT '{}',
    porteur_id   bigint REFERENCES porteurs(id),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_tokens__porteur_id CHECK ((role = 'porteur') = (porteur_id IS NOT NULL)),
    CONSTRAINT ck_tokens__departements CHECK (role <> 'referent' OR cardinality(departements) >= 1)
);

-- Who did what: every write and every refused attempt. Ids and codes only,
-- never personal data.
CREATE TABLE audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    token_id  bigint,
    role      text,
    action    text NOT NULL,                 -- e.g. offer.create, offer.patch
    entity    text,                          -- e.g. offer
    entity_id bigint,
    outcome   text NOT NULL CHECK (outcome IN ('ok', 'denied', 'unauthenticated')),
    status    integer NOT NULL,
    request_id text
);
CREATE INDEX audit_at_idx ON audit (at);
CREATE INDEX audit_entity_idx ON audit (entity, entity_id);
CREATE INDEX audit_token_idx ON audit (token_id);
