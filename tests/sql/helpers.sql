\set ECHO none
-- Helpers shared by the regression tests (tests/pg_regress/sql/*.sql): `\i tests/sql/helpers.sql`.
-- the SQLSTATE and message of a statement's error, or 'no error'
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
-- a within tol of b: relative for |b| >= 1, absolute below
CREATE FUNCTION pg_temp.near(a float8, b float8, tol float8 DEFAULT 1e-9) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT abs(a - b) <= tol * greatest(1, abs(b)) $$;
-- a within tol of b, relative at any magnitude
CREATE FUNCTION pg_temp.rel_near(a float8, b float8, tol float8 DEFAULT 1e-9) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT abs(a - b) <= tol * greatest(1e-300, abs(b)) $$;
\set ECHO all
