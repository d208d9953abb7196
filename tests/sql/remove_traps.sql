-- Removes what tests/sql/plant_traps.sql planted in public (temp relations go with the session).
DROP AGGREGATE public.sum(numeric);
DROP AGGREGATE public.count(anyelement);
DROP OPERATOR public.= (text, text);
DROP OPERATOR public.>= (double precision, double precision);
DROP OPERATOR public.+ (integer, integer);
DROP FUNCTION public.btrim(text), public.lower(text), public.jsonb_typeof(jsonb), public.now(),
    public.clock_timestamp(), public.quote_ident(text), public.format_type(oid, integer),
    public.has_table_privilege(regclass, text), public.to_regclass(text), public.octet_length(text),
    public.pg_try_advisory_xact_lock(bigint), public.date_part(text, interval),
    public.array_to_string(anyarray, text), public.trap_sum(numeric, numeric),
    public.trap_count(bigint, anyelement), public.trap_text_eq(text, text),
    public.trap_f8_ge(double precision, double precision), public.trap_int_add(integer, integer),
    public.caught(text);
DROP TABLE public.captured;
DROP SEQUENCE public.captured_calls;
