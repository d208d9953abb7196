-- Access control, installed last (docs/security.md): configuration readable by everyone,
-- per-customer data only by the roles entitled to it (row-level security).

------------------------------------------------------------------------------------------
-- access control (docs/security.md): the configuration is readable by everyone; the
-- per-customer tier history and the records of tier views only row by row, to the roles
-- entitled to them (row-level security). Writing anything needs the DBA's grants.
------------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA tiers TO PUBLIC;
GRANT SELECT ON tiers.rfm_rule_sets, tiers.rfm_segment_rules, tiers.tier_schemes, tiers.tier_levels,
    tiers.tag_rules TO PUBLIC;  -- and tiers.effective_tag_rules (below, with the view)
-- SELECT for everyone on the table, but every row passes the policies below first
GRANT SELECT ON tiers.tier_history, tiers.tier_evaluations, tiers.tier_views,
    tiers.tier_view_refreshes TO PUBLIC;
ALTER TABLE tiers.tier_views ENABLE ROW LEVEL SECURITY;
ALTER TABLE tiers.tier_view_refreshes ENABLE ROW LEVEL SECURITY;
ALTER TABLE tiers.tier_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE tiers.tier_evaluations ENABLE ROW LEVEL SECURITY;

-- A declaration (source table, filter, options) is visible to the roles that may read the view.
CREATE POLICY tier_view_readers ON tiers.tier_views
    USING (EXISTS (SELECT FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                   WHERE n.nspname OPERATOR(pg_catalog.=) tier_views.view_schema
                     AND c.relname OPERATOR(pg_catalog.=) tier_views.view_name
                     AND pg_catalog.has_table_privilege(c.oid, 'SELECT')))
    -- written only for a name not taken yet (create_tier_view declares before it creates the
    -- view) or for a materialized view of the writer's (its owner role's members)
    WITH CHECK (pg_catalog.to_regclass(pg_catalog.format('%I.%I', view_schema, view_name)) IS NULL
                OR tiers.owns_tier_view(view_schema, view_name));
COMMENT ON POLICY tier_view_readers ON tiers.tier_views IS
    'A tier view''s declaration is visible to the roles that may SELECT from the view (its owner, and whoever it is granted to). Writing needs INSERT/UPDATE on this table (a DBA''s grant), and a row may only name a relation that does not exist yet or a materialized view whose owner role the writer belongs to.';

CREATE POLICY tier_view_readers ON tiers.tier_view_refreshes
    USING (EXISTS (SELECT FROM tiers.tier_views v
                   WHERE v.view_schema OPERATOR(pg_catalog.=) tier_view_refreshes.view_schema
                     AND v.view_name OPERATOR(pg_catalog.=) tier_view_refreshes.view_name))
    -- written only by the view's owner role's members (refresh_tier_view needs them too)
    WITH CHECK (tiers.owns_tier_view(view_schema, view_name));
COMMENT ON POLICY tier_view_readers ON tiers.tier_view_refreshes IS
    'The refresh records of a tier view are visible to the roles that may SELECT from the view; they are written (with INSERT/UPDATE on this table, a DBA''s grant) only by members of the view''s owner role.';

-- The history of a scheme is visible to the roles that may read the tier view recording it or own
-- a tier view using it,
-- and to the roles allowed to write the history. Both tests run once per query (InitPlans).
CREATE POLICY scheme_readers ON tiers.tier_history
    USING ((SELECT tiers.writes_history())
           OR scheme OPERATOR(pg_catalog.=) ANY ((SELECT tiers.history_schemes())::pg_catalog.text[]))
    WITH CHECK (true);
COMMENT ON POLICY scheme_readers ON tiers.tier_history IS
    'Rows of a scheme are visible to the roles that may SELECT from the tier view recording its history or own a tier view using it (tiers.history_schemes()) and to the roles that may write the history (tiers.writes_history()).';

CREATE POLICY scheme_readers ON tiers.tier_evaluations
    USING ((SELECT tiers.writes_history())
           OR scheme OPERATOR(pg_catalog.=) ANY ((SELECT tiers.history_schemes())::pg_catalog.text[]))
    WITH CHECK (true);
COMMENT ON POLICY scheme_readers ON tiers.tier_evaluations IS
    'Rows of a scheme are visible to the roles that may SELECT from the tier view recording its history or own a tier view using it (tiers.history_schemes()) and to the roles that may write the history (tiers.writes_history()).';
