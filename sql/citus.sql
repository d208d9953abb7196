-- Citus: the coordinator's configuration published to every node (src/citus.rs; docs/citus.md).

-- Citus (docs/citus.md): the coordinator's configuration, published to every node --------------

CREATE FUNCTION tiers.citus_node_role() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_citus_node_role';
COMMENT ON FUNCTION tiers.citus_node_role() IS
    'This node''s part in a Citus cluster: ''none'' (Citus not installed in this database), ''coordinator'' (node group 0, or not yet in a cluster) or ''worker''. On a worker, tier schemes, RFM rule sets and tag rules are read from the snapshot the coordinator publishes (tiers.citus_setup), never from the worker''s own tables.';

CREATE FUNCTION tiers.citus_publish() RETURNS integer
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $publish$
DECLARE
    kind text;
    snapshot jsonb;
    changed integer := 0;
    n integer;
BEGIN
    IF pg_catalog.to_regclass('customer_tiers_citus.configuration') IS NULL THEN
        RAISE EXCEPTION 'customer_tiers_citus.configuration does not exist'
            USING ERRCODE = '55000', HINT = 'Run SELECT tiers.citus_setup() on the coordinator.';
    END IF;
    FOREACH kind IN ARRAY ARRAY['tier_schemes', 'tier_levels', 'rfm_rule_sets', 'rfm_segment_rules',
                                'effective_tag_rules'] LOOP
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)), ''[]'') FROM tiers.%I AS t', kind)
            INTO snapshot;
        EXECUTE 'INSERT INTO customer_tiers_citus.configuration AS c (kind, rows, published_at)
                 VALUES ($1, $2, now())
                 ON CONFLICT (kind) DO UPDATE SET rows = excluded.rows, published_at = excluded.published_at
                 WHERE c.rows IS DISTINCT FROM excluded.rows'
            USING kind, snapshot;
        GET DIAGNOSTICS n = ROW_COUNT;
        changed := changed + n;
    END LOOP;
    RETURN changed;
END
$publish$;
COMMENT ON FUNCTION tiers.citus_publish() IS
    'Copies the coordinator''s tier schemes and levels, RFM rule sets and rules and the tag rules in force into the reference table customer_tiers_citus.configuration, which Citus writes on every node in the same transaction. Returns the number of kinds that changed. Called by tiers.citus_setup() and by triggers on the configuration tables; without that table: 55000.';

CREATE FUNCTION tiers.citus_publish_trigger() RETURNS trigger
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $trigger$
BEGIN
    -- nothing to do without Citus or before tiers.citus_setup(); a worker never publishes (its
    -- tables are not the configuration: they change only with the extension itself)
    IF pg_catalog.to_regclass('customer_tiers_citus.configuration') IS NOT NULL
       AND tiers.citus_node_role() = 'coordinator' THEN
        PERFORM tiers.citus_publish();
    END IF;
    RETURN NULL;
END
$trigger$;
COMMENT ON FUNCTION tiers.citus_publish_trigger() IS
    'Statement trigger on the configuration tables: on a Citus coordinator set up with tiers.citus_setup(), publishes the configuration to every node in the same transaction.';
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.tier_schemes
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.tier_levels
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.rfm_rule_sets
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.rfm_segment_rules
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();
CREATE TRIGGER citus_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers.tag_rules
    FOR EACH STATEMENT EXECUTE FUNCTION tiers.citus_publish_trigger();

CREATE FUNCTION tiers.citus_setup() RETURNS TABLE (kind text, published_at timestamp with time zone)
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $setup$
DECLARE
    role text := tiers.citus_node_role();
BEGIN
    IF role <> 'coordinator' THEN
        RAISE EXCEPTION 'tiers.citus_setup() runs on the Citus coordinator (this node: %)', role
            USING ERRCODE = '55000';
    END IF;
    IF pg_catalog.to_regclass('customer_tiers_citus.configuration') IS NULL THEN
        CREATE SCHEMA IF NOT EXISTS customer_tiers_citus;
        COMMENT ON SCHEMA customer_tiers_citus IS
            'customer_tiers on Citus: the coordinator''s configuration, published to every node (tiers.citus_setup).';
        CREATE TABLE customer_tiers_citus.configuration (
            kind text PRIMARY KEY,
            rows jsonb NOT NULL,
            published_at timestamp with time zone NOT NULL);
        COMMENT ON TABLE customer_tiers_citus.configuration IS
            'The coordinator''s customer_tiers configuration (one row per relation: tier_schemes, tier_levels, rfm_rule_sets, rfm_segment_rules, effective_tag_rules), a Citus reference table: functions running on workers read it. Written by tiers.citus_publish(); do not edit.';
        PERFORM create_reference_table('customer_tiers_citus.configuration');
        -- configuration, not customer data: every role that may run the functions reads it
        GRANT USAGE ON SCHEMA customer_tiers_citus TO PUBLIC;
        GRANT SELECT ON customer_tiers_citus.configuration TO PUBLIC;
    END IF;
    PERFORM tiers.citus_publish();
    RETURN QUERY SELECT c.kind, c.published_at FROM customer_tiers_citus.configuration AS c ORDER BY c.kind;
END
$setup$;
COMMENT ON FUNCTION tiers.citus_setup() IS
    'Run once on a Citus coordinator (idempotent): creates the reference table customer_tiers_citus.configuration and publishes tier schemes, RFM rule sets and tag rules to every node; afterwards every change of that configuration on the coordinator is published in the same transaction. Returns the published kinds. Not a coordinator: 55000.';

CREATE FUNCTION tiers.citus_configuration_status()
    RETURNS TABLE (kind text, published_at timestamp with time zone, in_step boolean)
    LANGUAGE plpgsql STABLE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $status$
DECLARE
    k text;
    here jsonb;
BEGIN
    IF pg_catalog.to_regclass('customer_tiers_citus.configuration') IS NULL THEN
        RAISE EXCEPTION 'customer_tiers configuration has not been published'
            USING ERRCODE = '55000', HINT = 'Run SELECT tiers.citus_setup() on the coordinator.';
    END IF;
    FOREACH k IN ARRAY ARRAY['effective_tag_rules', 'rfm_rule_sets', 'rfm_segment_rules', 'tier_levels',
                             'tier_schemes'] LOOP
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)), ''[]'') FROM tiers.%I AS t', k)
            INTO here;
        kind := k;
        SELECT c.published_at, c.rows = here INTO published_at, in_step
        FROM customer_tiers_citus.configuration AS c WHERE c.kind = k;
        in_step := coalesce(in_step, false);
        RETURN NEXT;
    END LOOP;
END
$status$;
COMMENT ON FUNCTION tiers.citus_configuration_status() IS
    'On the coordinator: for each published kind of configuration, when it was published and whether the published snapshot equals this node''s tables (false after changes made with triggers disabled, e.g. session_replication_role = replica; run SELECT tiers.citus_publish() then). Not published: 55000.';
