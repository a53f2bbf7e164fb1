-- Demo data: the 17 porteurs of the 2022 CEJ-JR call in Occitanie
-- (/work/shared/data/occitanie_cejr_2022.csv) and offers following each one's
-- housing action, in real communes of its département.
--
-- Load after the migrations:  psql -v ON_ERROR_STOP=1 -f sql/demo/demo.sql
-- Idempotent: the block does nothing when the first demo porteur exists.
-- Not a migration: CMake only embeds sql/NNN_*.sql.
--
-- Offers are inserted directly (no offer_create, so no audit rows); each gets
-- its places 1..capacity, as offer_create does. departement/lat/lon come from
-- the commune row; the join also requires the commune to lie in the porteur's
-- département, and a count check makes a wrong INSEE code or name fail loudly.

DO $demo$
DECLARE
    expected integer;
    inserted integer;
BEGIN
    -- two concurrent loads must not both see "not loaded yet"
    LOCK TABLE porteurs IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM porteurs WHERE name = 'GROUPE SOS SOLIDARITÉS AUDE') THEN
        RAISE NOTICE 'demo data already loaded, nothing to do';
        RETURN;
    END IF;

    ------------------------------------------------------------ porteurs

    INSERT INTO porteurs (name, departement, target_youth) VALUES
        ('GROUPE SOS SOLIDARITÉS AUDE', '11', 200),
        ('CROIX ROUGE FRANÇAISE (Gard)', '30', 60),
        ('SYNDICAT MIXTE DU PAYS DES CÉVENNES', '30', 61),
        ('ASSOC ÉCOLE SAMUEL VINCENT', '30', 7),
        ('PROFESSIONNALISATION PAR L''ÉDUCATION POPULAIRE ET SOLIDAIRE', '30', 50),
        ('UNION CÉPIÈRE ROBERT MONNIER', '31', 200),
        ('ASSOC POUR LE LOGEMENT JEUNES DANS GERS', '32', 80),
        ('HABITAT JEUNES DE SÈTE ET DU BASSIN DE THAU', '34', 40),
        ('I.S.S.U.E', '34', 20),
        ('PLAN LOCAL POUR L''INSERTION ET L''EMPLOI EST HÉRAULTAIS', '34', 18),
        ('VIGAN INTER AIDE', '34', 31),
        ('COMITÉ SAUVEGARDE ENFANCE BITERROIS', '34', 149),
        ('A.H.I.S. CAHORS ACCUEIL HÉBERGEMENT INSERTION SOCIALE', '46', 34),
        ('ASSOCIATION AURORE', '48', 25),
        ('ATRIUM FJT', '65', 105),
        ('CROIX ROUGE FRANÇAISE (Pyrénées-Orientales)', '66', 40),
        ('LA RAISON DES ADOS', '82', 190);

    ------------------------------------------------------------ offers

    CREATE TEMP TABLE demo_offers (
        n serial,  -- file order, so offer ids follow it
        porteur text, kind text, label text, insee text, capacity integer,
        min_age integer, max_age integer, gender text,
        couples boolean, children boolean, pets boolean, wheelchair boolean,
        support text, charge numeric
    ) ON COMMIT DROP;

    INSERT INTO demo_offers (porteur, kind, label, insee, capacity, min_age, max_age, gender,
                             couples, children, pets, wheelchair, support, charge) VALUES
    -- porteur, kind, label, insee, capacity, min_age, max_age, gender,
    --   couples, children, pets, wheelchair, support, monthly charge (EUR)

    -- 11: IML, learning to manage daily life in a dwelling
    ('GROUPE SOS SOLIDARITÉS AUDE', 'iml', 'IML Carcassonne centre', '11069', 8, 18, 25, 'any', false, false, true, false, 'standard', 120),
    ('GROUPE SOS SOLIDARITÉS AUDE', 'iml', 'IML T1 accessibles Carcassonne', '11069', 3, 18, 29, 'any', false, false, false, true, 'standard', 110),
    ('GROUPE SOS SOLIDARITÉS AUDE', 'iml', 'IML Narbonne', '11262', 6, 18, 25, 'any', true, false, false, false, 'standard', 130),
    ('GROUPE SOS SOLIDARITÉS AUDE', 'iml', 'IML Limoux', '11206', 3, 18, 29, 'any', false, false, true, false, 'intensive', 90),
    ('GROUPE SOS SOLIDARITÉS AUDE', 'iml', 'IML Castelnaudary', '11076', 3, 18, 25, 'any', false, false, false, false, 'light', 150),

    -- 30: 10 IML places for youth oriented by the SIAO
    ('CROIX ROUGE FRANÇAISE (Gard)', 'iml', 'IML jeunes Nîmes', '30189', 7, 18, 25, 'any', false, false, false, true, 'standard', 100),
    ('CROIX ROUGE FRANÇAISE (Gard)', 'iml', 'IML jeunes parents Bagnols-sur-Cèze', '30028', 3, 18, 25, 'any', true, true, false, false, 'intensive', 80),

    -- 30: 2 studios-tiroirs with dedicated support
    ('SYNDICAT MIXTE DU PAYS DES CÉVENNES', 'studio_tiroir', 'Studio-tiroir Alès 1', '30007', 1, 18, 25, 'any', false, false, false, true, 'intensive', 80),
    ('SYNDICAT MIXTE DU PAYS DES CÉVENNES', 'studio_tiroir', 'Studio-tiroir Alès 2', '30007', 1, 18, 25, 'any', false, false, true, false, 'intensive', 80),

    -- 30: no described action (child-protection exits)
    ('ASSOC ÉCOLE SAMUEL VINCENT', 'alt', 'ALT sortants ASE Nîmes', '30189', 2, 18, 21, 'any', false, false, false, false, 'intensive', 50),

    -- 30: no described action
    ('PROFESSIONNALISATION PAR L''ÉDUCATION POPULAIRE ET SOLIDAIRE', 'iml', 'IML T1 Nîmes', '30189', 3, 18, 29, 'any', false, false, true, false, 'light', 140),
    ('PROFESSIONNALISATION PAR L''ÉDUCATION POPULAIRE ET SOLIDAIRE', 'alt', 'ALT Beaucaire', '30032', 2, 18, 25, 'any', false, false, false, false, 'standard', 60),

    -- 31: social real-estate agency, IML flats in Toulouse
    ('UNION CÉPIÈRE ROBERT MONNIER', 'iml', 'IML T1 Toulouse Minimes', '31555', 6, 18, 25, 'any', false, false, false, false, 'standard', 150),
    ('UNION CÉPIÈRE ROBERT MONNIER', 'iml', 'IML T1 Toulouse Saint-Cyprien', '31555', 5, 18, 29, 'any', false, false, true, false, 'light', 180),
    ('UNION CÉPIÈRE ROBERT MONNIER', 'iml', 'IML T2 couples Toulouse Bagatelle', '31555', 4, 18, 29, 'any', true, false, true, false, 'standard', 200),
    ('UNION CÉPIÈRE ROBERT MONNIER', 'iml', 'IML T2 jeunes parents Toulouse Empalot', '31555', 3, 18, 29, 'any', true, true, false, false, 'intensive', 160),
    ('UNION CÉPIÈRE ROBERT MONNIER', 'iml', 'IML T1 accessible Toulouse Rangueil', '31555', 2, 18, 29, 'any', false, false, false, true, 'standard', 150),
    ('UNION CÉPIÈRE ROBERT MONNIER', 'iml', 'IML femmes Toulouse', '31555', 3, 18, 25, 'female', false, true, false, false, 'intensive', 120),
    ('UNION CÉPIÈRE ROBERT MONNIER', 'iml', 'IML T1 Colomiers', '31149', 3, 18, 29, 'any', false, false, false, false, 'light', 170),

    -- 32: no described action
    ('ASSOC POUR LE LOGEMENT JEUNES DANS GERS', 'alt', 'ALT jeunes Auch', '32013', 4, 18, 25, 'any', false, false, true, false, 'standard', 70),
    ('ASSOC POUR LE LOGEMENT JEUNES DANS GERS', 'iml', 'IML Condom', '32107', 2, 18, 29, 'any', true, false, false, false, 'light', 130),

    -- 34: one F4 (4 rooms), semi-autonomy, stays of at most 3 months
    ('HABITAT JEUNES DE SÈTE ET DU BASSIN DE THAU', 'shared_flat', 'F4 partagé Sète', '34301', 4, 18, 25, 'any', false, false, false, false, 'standard', 250),

    -- 34: 5 ALT units and 5 IML units
    ('I.S.S.U.E', 'alt', 'ALT Montpellier', '34172', 5, 18, 25, 'any', false, false, false, true, 'intensive', 40),
    ('I.S.S.U.E', 'iml', 'IML Montpellier', '34172', 5, 18, 29, 'any', false, false, true, false, 'standard', 120),

    -- 34: no described action (Lunel, Mauguio)
    ('PLAN LOCAL POUR L''INSERTION ET L''EMPLOI EST HÉRAULTAIS', 'iml', 'IML Lunel', '34145', 2, 18, 25, 'any', false, false, false, false, 'light', 140),
    ('PLAN LOCAL POUR L''INSERTION ET L''EMPLOI EST HÉRAULTAIS', 'alt', 'ALT Mauguio', '34154', 2, 18, 25, 'any', false, false, false, false, 'standard', 60),

    -- 34: no described action (Ganges, Hérault side of the Cévennes)
    ('VIGAN INTER AIDE', 'alt', 'ALT Ganges', '34111', 3, 18, 29, 'any', false, false, true, false, 'standard', 50),
    ('VIGAN INTER AIDE', 'iml', 'IML T2 Ganges', '34111', 2, 18, 29, 'any', true, true, true, false, 'light', 110),

    -- 34: flats in Béziers (Les Toits du Cœur)
    ('COMITÉ SAUVEGARDE ENFANCE BITERROIS', 'iml', 'IML Toits du Cœur Béziers centre', '34032', 8, 18, 25, 'any', false, false, false, false, 'standard', 100),
    ('COMITÉ SAUVEGARDE ENFANCE BITERROIS', 'iml', 'IML T1 accessibles Béziers', '34032', 3, 18, 29, 'any', false, false, false, true, 'standard', 100),
    ('COMITÉ SAUVEGARDE ENFANCE BITERROIS', 'iml', 'IML jeunes parents Béziers', '34032', 3, 18, 29, 'any', true, true, false, false, 'intensive', 90),
    ('COMITÉ SAUVEGARDE ENFANCE BITERROIS', 'iml', 'IML Béziers La Devèze', '34032', 5, 18, 25, 'any', false, false, true, false, 'light', 120),

    -- 46: no described action
    ('A.H.I.S. CAHORS ACCUEIL HÉBERGEMENT INSERTION SOCIALE', 'alt', 'ALT Cahors', '46042', 5, 18, 29, 'any', false, false, true, false, 'intensive', 40),
    ('A.H.I.S. CAHORS ACCUEIL HÉBERGEMENT INSERTION SOCIALE', 'iml', 'IML Figeac', '46102', 3, 18, 25, 'any', false, false, false, false, 'standard', 120),

    -- 48: no described action
    ('ASSOCIATION AURORE', 'alt', 'ALT Mende', '48095', 3, 18, 25, 'any', false, false, false, true, 'intensive', 30),
    ('ASSOCIATION AURORE', 'iml', 'IML Marvejols', '48092', 2, 18, 29, 'any', false, false, true, false, 'standard', 100),

    -- 65: housing + job support, FJT
    ('ATRIUM FJT', 'fjt', 'FJT Atrium Tarbes T1', '65440', 24, 16, 29, 'any', false, false, false, false, 'light', 420),
    ('ATRIUM FJT', 'fjt', 'FJT Atrium Tarbes chambres accessibles', '65440', 4, 16, 29, 'any', false, false, false, true, 'light', 390),
    ('ATRIUM FJT', 'fjt', 'FJT Atrium Tarbes T1 bis couples', '65440', 4, 18, 29, 'any', true, false, false, false, 'light', 450),

    -- 66: IML + 34 ALT-funded dwellings + FJT
    ('CROIX ROUGE FRANÇAISE (Pyrénées-Orientales)', 'alt', 'ALT Perpignan centre', '66136', 14, 18, 25, 'any', false, false, false, false, 'standard', 50),
    ('CROIX ROUGE FRANÇAISE (Pyrénées-Orientales)', 'alt', 'ALT femmes Perpignan', '66136', 8, 18, 25, 'female', false, true, false, true, 'intensive', 30),
    ('CROIX ROUGE FRANÇAISE (Pyrénées-Orientales)', 'alt', 'ALT Rivesaltes', '66164', 4, 18, 25, 'any', false, false, true, false, 'standard', 50),
    ('CROIX ROUGE FRANÇAISE (Pyrénées-Orientales)', 'alt', 'ALT Prades', '66149', 4, 18, 29, 'any', true, false, true, false, 'standard', 40),
    ('CROIX ROUGE FRANÇAISE (Pyrénées-Orientales)', 'alt', 'ALT Céret', '66049', 4, 18, 25, 'any', false, false, false, false, 'light', 40),
    ('CROIX ROUGE FRANÇAISE (Pyrénées-Orientales)', 'iml', 'IML Perpignan', '66136', 6, 18, 29, 'any', true, false, false, false, 'standard', 130),
    ('CROIX ROUGE FRANÇAISE (Pyrénées-Orientales)', 'fjt', 'FJT Croix-Rouge Perpignan', '66136', 12, 16, 29, 'any', false, false, false, true, 'light', 380),

    -- 82: housing part shared between SOLIHA and UDAF
    ('LA RAISON DES ADOS', 'iml', 'IML Montauban (SOLIHA)', '82121', 6, 18, 25, 'any', false, false, false, false, 'standard', 120),
    ('LA RAISON DES ADOS', 'iml', 'IML Montauban (UDAF)', '82121', 4, 18, 25, 'any', false, false, false, false, 'intensive', 80),
    ('LA RAISON DES ADOS', 'alt', 'ALT Castelsarrasin', '82033', 2, 18, 25, 'any', false, false, true, false, 'standard', 50);

    SELECT count(*) INTO expected FROM demo_offers;

    INSERT INTO offers (porteur_id, kind, label, commune_insee, departement, lat, lon,
        capacity, max_stay_days, min_age, max_age, gender, accepts_couples,
        accepts_children, accepts_pets, wheelchair_accessible, support_level,
        monthly_charge_eur, available_from, available_until, status)
    SELECT p.id, d.kind, d.label, c.insee, c.departement, c.lat, c.lon,
        d.capacity,
        -- the same values as the daemon's max_stay_days_<kind> defaults
        CASE d.kind WHEN 'iml' THEN 540 WHEN 'alt' THEN 180
                    WHEN 'studio_tiroir' THEN 180 WHEN 'shared_flat' THEN 90
                    WHEN 'fjt' THEN NULL END,
        d.min_age, d.max_age, d.gender, d.couples, d.children, d.pets, d.wheelchair,
        d.support, d.charge, DATE '2026-01-01', NULL, 'open'
    FROM demo_offers d
    JOIN porteurs p ON p.name = d.porteur
    JOIN communes c ON c.insee = d.insee AND c.departement = p.departement
    ORDER BY d.n;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted <> expected THEN
        RAISE EXCEPTION 'demo: % of % offers matched a porteur and a commune of its département',
            inserted, expected;
    END IF;

    ------------------------------------------------------------ places

    INSERT INTO places (offer_id, number)
    SELECT o.id, num
    FROM offers o
    JOIN porteurs p ON p.id = o.porteur_id
    JOIN demo_offers d ON d.porteur = p.name AND d.label = o.label,
         generate_series(1, o.capacity) AS num;

    RAISE NOTICE 'demo data loaded: 17 porteurs, % offers', inserted;
END $demo$;

-- youth: added by the matching issue
--
-- 32 young people (14 in 34, the département of the demo referent token),
-- pseudonymous: `ref` is a referent file reference ('SIAO34-DEMO-001'), never
-- a name; needs are codes only. Every date is relative to the day of the load
-- (birth dates, wanted_from, registered_at, exit dates), so ages and waiting
-- times stay right whatever day the demo is loaded.
-- Its own guard (a demo ref exists), so a database that already holds the demo
-- porteurs and offers still gets the youth. Like the offers, a wrong INSEE code
-- (or a commune outside the young person's département) makes the load fail.
--
-- Designed cases in 34 (details in README.md):
--   Sète shared F4 (4 places, 18-25, alone, no pets, no wheelchair): 5
--     eligible for 4 places: 001 (Sète), 002 (Montpellier, 50 km: 31.2 km),
--     003 (leaves ASE on her 18th birthday, 12 days ahead: eligible on her
--     start date, not today), 004 (Frontignan, 25 today, leaves prison in a
--     week), 014 (Agde). Excluded: 005 (17: age), 006 (a dog: pets), 007 and
--     008 (Montpellier at the default 30 km: distance).
--   Montpellier ALT/IML: 007 (wheelchair: the ALT only), 008 (RQTH, 27: the
--     IML only), 002, 004 and 011 (both).
--   Nothing fits: 009 (Lodève, 50 km; with children, a dog and a wheelchair:
--     no offer takes all three), and 005 (17; the F4 is the one offer in reach).
--   011 (Lunel) turns 26 in two months: eligible today, nothing after that.

DO $demo_youth$
DECLARE
    expected integer;
    inserted integer;
BEGIN
    -- two concurrent loads must not both see "not loaded yet"
    LOCK TABLE youth IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM youth WHERE ref LIKE 'SIAO__-DEMO-%') THEN
        RAISE NOTICE 'demo youth already loaded, nothing to do';
        RETURN;
    END IF;

    CREATE TEMP TABLE demo_youth (
        n serial,
        ref text, dep text,
        age interval,          -- birth_date = today - age
        rqth boolean, gender text, household text, pets boolean, needs text[],
        situation text,
        exit_in integer,       -- institution_exit_date = today + exit_in
        insee text, max_km integer, income numeric, support text,
        from_in integer,       -- wanted_from = today + from_in
        months integer,
        waiting integer,       -- registered_at = today - waiting
        status text
    ) ON COMMIT DROP;

    INSERT INTO demo_youth (ref, dep, age, rqth, gender, household, pets, needs, situation,
                            exit_in, insee, max_km, income, support, from_in, months,
                            waiting, status) VALUES
    -- ref, dep, age, rqth, gender, household, pets, needs, situation,
    --   exit in (days), wished commune, max km, income (EUR/month), support need,
    --   wanted from (days from today), wanted months, registered (days ago), status

    -- 34 (Hérault)
    ('SIAO34-DEMO-001', '34', '20 years 4 months',  false, 'female', 'alone',         false, '{}',                 'emergency_shelter', NULL, '34301', NULL, 528, 'standard',  -20,  3,  95, 'waiting'),
    ('SIAO34-DEMO-002', '34', '22 years 7 months',  false, 'male',   'alone',         false, '{}',                 'street',            NULL, '34172',   50,   0, 'standard',  -45,  6, 160, 'waiting'),
    ('SIAO34-DEMO-003', '34', '18 years -12 days',  false, 'female', 'alone',         false, '{}',                 'institution_exit',    12, '34301', NULL,   0, 'intensive',  12,  6,  40, 'waiting'),
    ('SIAO34-DEMO-004', '34', '25 years',           false, 'male',   'alone',         false, '{justice_followup}', 'institution_exit',     7, '34108', NULL,   0, 'standard',    7,  3,  30, 'waiting'),
    ('SIAO34-DEMO-005', '34', '17 years 2 months',  false, 'other',  'alone',         false, '{mental_health}',    'family_breakdown',  NULL, '34301', NULL,   0, 'intensive',  -3,  6,  15, 'waiting'),
    ('SIAO34-DEMO-006', '34', '23 years 1 month',   false, 'female', 'alone',         true,  '{addiction}',        'street',            NULL, '34301',   50, 150, 'standard',  -10,  6, 130, 'waiting'),
    ('SIAO34-DEMO-007', '34', '22 years 5 months',  false, 'male',   'alone',         false, '{wheelchair}',       'precarious',        NULL, '34172', NULL, 450, 'intensive', -30,  6, 120, 'waiting'),
    ('SIAO34-DEMO-008', '34', '27 years 8 months',  true,  'male',   'alone',         false, '{mental_health}',    'emergency_shelter', NULL, '34172', NULL, 380, 'standard',  -60, 12, 210, 'waiting'),
    ('SIAO34-DEMO-009', '34', '23 years 6 months',  false, 'female', 'with_children', true,  '{wheelchair}',       'precarious',        NULL, '34142',   50, 300, 'intensive', -15, 12,  75, 'waiting'),
    ('SIAO34-DEMO-010', '34', '21 years 9 months',  false, 'male',   'couple',        true,  '{}',                 'family_breakdown',  NULL, '34111', NULL, 528, 'light',      30,  9,  50, 'waiting'),
    ('SIAO34-DEMO-011', '34', '25 years 10 months', false, 'male',   'alone',         false, '{}',                 'precarious',        NULL, '34145', NULL, 528, 'light',      -7,  6, 300, 'waiting'),
    ('SIAO34-DEMO-012', '34', '21 years',           false, 'female', 'alone',         false, '{}',                 'family_breakdown',  NULL, '34172', NULL, 528, 'standard', -200,  6, 250, 'closed'),
    ('SIAO34-DEMO-013', '34', '24 years 3 months',  false, 'female', 'with_children', false, '{}',                 'emergency_shelter', NULL, '34032', NULL, 528, 'intensive',  -5, 12,  90, 'waiting'),
    ('SIAO34-DEMO-014', '34', '19 years',           false, 'male',   'alone',         false, '{}',                 'street',            NULL, '34003', NULL, 200, 'standard',    0,  4,  60, 'waiting'),

    -- 11 (Aude)
    ('SIAO11-DEMO-001', '11', '29 years 1 month',   true,  'male',   'alone',         false, '{wheelchair}',       'precarious',        NULL, '11069', NULL, 528, 'standard',  -14, 12, 180, 'waiting'),
    ('SIAO11-DEMO-002', '11', '20 years 6 months',  false, 'female', 'alone',         true,  '{}',                 'street',            NULL, '11262',   80,   0, 'standard',   -5,  6,  45, 'waiting'),

    -- 30 (Gard)
    ('SIAO30-DEMO-001', '30', '20 years 11 months', false, 'male',   'alone',         false, '{}',                 'institution_exit',    21, '30189', NULL, 300, 'intensive',  21, 12,  60, 'waiting'),
    ('SIAO30-DEMO-002', '30', '23 years 4 months',  false, 'female', 'with_children', false, '{}',                 'emergency_shelter', NULL, '30189',   50, 560, 'intensive', -20, 12, 110, 'waiting'),
    ('SIAO30-DEMO-003', '30', '24 years 2 months',  false, 'other',  'alone',         false, '{addiction}',        'street',            NULL, '30007', NULL, 150, 'intensive',  -8,  6,  70, 'waiting'),

    -- 31 (Haute-Garonne)
    ('SIAO31-DEMO-001', '31', '26 years 5 months',  true,  'female', 'alone',         false, '{mental_health}',    'institution_exit',     5, '31555', NULL, 420, 'intensive',   5, 12,  25, 'waiting'),
    ('SIAO31-DEMO-002', '31', '22 years',           false, 'male',   'couple',        true,  '{}',                 'precarious',        NULL, '31555',   10, 528, 'light',      14, 12, 140, 'waiting'),
    ('SIAO31-DEMO-003', '31', '19 years 7 months',  false, 'female', 'alone',         false, '{pregnancy}',        'family_breakdown',  NULL, '31555', NULL, 528, 'intensive',  -2,  6,  20, 'waiting'),

    -- 32 (Gers)
    ('SIAO32-DEMO-001', '32', '18 years 8 months',  false, 'male',   'alone',         true,  '{}',                 'family_breakdown',  NULL, '32013', NULL, 250, 'standard',  -12,  6,  80, 'waiting'),

    -- 46 (Lot)
    ('SIAO46-DEMO-001', '46', '21 years 2 months',  false, 'male',   'alone',         false, '{justice_followup}', 'institution_exit',    18, '46042', NULL,   0, 'intensive',  18,  6,  35, 'waiting'),
    ('SIAO46-DEMO-002', '46', '24 years 9 months',  false, 'female', 'alone',         false, '{}',                 'precarious',        NULL, '46042',   80, 400, 'light',      30,  6, 100, 'waiting'),

    -- 48 (Lozère)
    ('SIAO48-DEMO-001', '48', '19 years 3 months',  false, 'other',  'alone',         false, '{mental_health}',    'emergency_shelter', NULL, '48095', NULL, 528, 'intensive', -25,  6,  65, 'waiting'),

    -- 65 (Hautes-Pyrénées)
    ('SIAO65-DEMO-001', '65', '16 years 10 months', false, 'male',   'alone',         false, '{}',                 'family_breakdown',  NULL, '65440', NULL, 210, 'standard',   -4, 12,  30, 'waiting'),
    ('SIAO65-DEMO-002', '65', '28 years 4 months',  true,  'female', 'alone',         false, '{}',                 'precarious',        NULL, '65440', NULL, 528, 'light',      10,  9, 150, 'waiting'),

    -- 66 (Pyrénées-Orientales)
    ('SIAO66-DEMO-001', '66', '20 years 1 month',   false, 'female', 'alone',         false, '{pregnancy}',        'emergency_shelter', NULL, '66136', NULL,   0, 'intensive',  -6,  6,  40, 'waiting'),
    ('SIAO66-DEMO-002', '66', '23 years',           false, 'male',   'alone',         false, '{}',                 'street',            NULL, '66136', NULL,   0, 'standard', -150,  6, 200, 'closed'),

    -- 82 (Tarn-et-Garonne)
    ('SIAO82-DEMO-001', '82', '18 years -30 days',  false, 'male',   'alone',         false, '{justice_followup}', 'institution_exit',    30, '82121', NULL,   0, 'intensive',  30,  6,  45, 'waiting'),
    ('SIAO82-DEMO-002', '82', '22 years 8 months',  false, 'female', 'alone',         false, '{}',                 'family_breakdown',  NULL, '82121',   10, 300, 'standard',   -1,  6,  85, 'waiting');

    SELECT count(*) INTO expected FROM demo_youth;

    INSERT INTO youth (ref, departement, birth_date, rqth, gender, household, has_pets, needs,
        situation, institution_exit_date, commune_insee, max_distance_km, monthly_income_eur,
        support_need, wanted_from, wanted_months, registered_at, status)
    SELECT d.ref, d.dep, (current_date - d.age)::date, d.rqth, d.gender, d.household, d.pets,
        d.needs, d.situation, current_date + d.exit_in, c.insee, d.max_km, d.income,
        d.support, current_date + d.from_in, d.months, current_date - d.waiting, d.status
    FROM demo_youth d
    JOIN communes c ON c.insee = d.insee AND c.departement = d.dep
    ORDER BY d.n;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted <> expected THEN
        RAISE EXCEPTION 'demo: % of % young people matched a commune of their département',
            inserted, expected;
    END IF;

    RAISE NOTICE 'demo youth loaded: % young people', inserted;
END $demo_youth$;
