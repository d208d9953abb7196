-- Traps for search_path capture tests: functions, aggregates and operators with the names of the
-- pg_catalog objects the extension uses, planted in public (and relations in pg_temp). Each trap
-- records its name in public.captured when called. Use with search_path = public, pg_catalog.
CREATE TABLE public.captured (what text, at timestamptz DEFAULT pg_catalog.clock_timestamp());
-- a sequence also counts calls made in subtransactions that are rolled back
CREATE SEQUENCE public.captured_calls;
CREATE FUNCTION public.caught(what text) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO public.captured (what) VALUES (what);
          SELECT pg_catalog.nextval('public.captured_calls'); $$;

CREATE FUNCTION public.btrim(text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('btrim'); RETURN pg_catalog.btrim($1); END $$;
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('lower'); RETURN pg_catalog.lower($1); END $$;
CREATE FUNCTION public.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('jsonb_typeof'); RETURN pg_catalog.jsonb_typeof($1); END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION public.quote_ident(text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('quote_ident'); RETURN pg_catalog.quote_ident($1); END $$;
CREATE FUNCTION public.format_type(oid, integer) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('format_type'); RETURN pg_catalog.format_type($1, $2); END $$;
CREATE FUNCTION public.has_table_privilege(regclass, text) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('has_table_privilege'); RETURN pg_catalog.has_table_privilege($1, $2); END $$;
CREATE FUNCTION public.to_regclass(text) RETURNS regclass LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('to_regclass'); RETURN pg_catalog.to_regclass($1); END $$;
CREATE FUNCTION public.octet_length(text) RETURNS integer LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('octet_length'); RETURN pg_catalog.octet_length($1); END $$;
CREATE FUNCTION public.pg_try_advisory_xact_lock(bigint) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('pg_try_advisory_xact_lock'); RETURN pg_catalog.pg_try_advisory_xact_lock($1); END $$;
CREATE FUNCTION public.date_part(text, interval) RETURNS double precision LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('date_part'); RETURN pg_catalog.date_part($1, $2); END $$;
CREATE FUNCTION public.array_to_string(anyarray, text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('array_to_string'); RETURN pg_catalog.array_to_string($1, $2); END $$;
-- an aggregate and operators
CREATE FUNCTION public.trap_sum(numeric, numeric) RETURNS numeric LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('sum'); RETURN coalesce($1, 0) OPERATOR(pg_catalog.+) $2; END $$;
CREATE AGGREGATE public.sum(numeric) (sfunc = public.trap_sum, stype = numeric);
CREATE FUNCTION public.trap_count(bigint, anyelement) RETURNS bigint LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('count'); RETURN $1 OPERATOR(pg_catalog.+) 1; END $$;
CREATE AGGREGATE public.count(anyelement) (sfunc = public.trap_count, stype = bigint, initcond = '0');
CREATE FUNCTION public.trap_text_eq(text, text) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('= text'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (leftarg = text, rightarg = text, function = public.trap_text_eq);
CREATE FUNCTION public.trap_f8_ge(double precision, double precision) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('>= float8'); RETURN $1 OPERATOR(pg_catalog.>=) $2; END $$;
CREATE OPERATOR public.>= (leftarg = double precision, rightarg = double precision, function = public.trap_f8_ge);
CREATE FUNCTION public.trap_int_add(integer, integer) RETURNS integer LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.caught('+ int'); RETURN $1 OPERATOR(pg_catalog.+) $2; END $$;
CREATE OPERATOR public.+ (leftarg = integer, rightarg = integer, function = public.trap_int_add);
-- relations that shadow the extension's tables for unqualified names (temp relations come first)
CREATE TEMP TABLE tier_schemes (scheme text, max_drop integer, lowest_is_floor boolean, grace_evaluations integer);
CREATE TEMP TABLE tier_levels (scheme text, rank integer, tier text, entry float8, retain float8);
CREATE TEMP TABLE tag_rules (tag text, expression text);
CREATE TEMP TABLE rfm_rule_sets (rule_set text, bins integer);
CREATE TEMP TABLE rfm_segment_rules (rule_set text, segment text);
CREATE TEMP TABLE tier_views (view_schema name, view_name name);
CREATE TEMP TABLE tier_history (scheme text, customer text);
CREATE TEMP TABLE pg_class (oid oid, relname name);
