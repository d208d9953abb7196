-- customer_tiers, installed first: the schema "tiers" (never adopted from someone else).
-- No CREATE OR REPLACE, no IF NOT EXISTS anywhere in the install script: a pre-existing object of
-- the same name makes CREATE EXTENSION fail instead of adopting it.

-- customer_tiers bootstrap: types and user-editable configuration tables.
-- Runs before any function is created. No CREATE OR REPLACE, no IF NOT EXISTS: a pre-existing
-- object of the same name makes CREATE EXTENSION fail instead of adopting it.

-- Never adopt a pre-existing schema: CREATE EXTENSION creates "tiers" when it is missing, but
-- installs into an existing one. A schema that already holds objects or belongs to another role
-- could plant objects the extension would then trust, so installing into it fails.
DO $adopt$
DECLARE
    ns oid := (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'tiers');
BEGIN
    IF (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.oid OPERATOR(pg_catalog.=) ns)
           OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
       OR EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_collation o WHERE o.collnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_conversion o WHERE o.connamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_opclass o WHERE o.opcnamespace OPERATOR(pg_catalog.=) ns)
       OR EXISTS (SELECT FROM pg_catalog.pg_ts_config o WHERE o.cfgnamespace OPERATOR(pg_catalog.=) ns) THEN
        RAISE EXCEPTION 'schema "tiers" already exists with objects in it or another owner; customer_tiers will not install into it'
            USING ERRCODE = '42P06',
                  HINT = 'Drop or rename that schema (after checking who created it and why), then CREATE EXTENSION customer_tiers.';
    END IF;
END
$adopt$;
